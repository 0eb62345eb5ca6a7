"""`headwater notifier`: off without a hub; with one, delivers and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from app.write.changeset import Doc
from app.write.writer import write_batch
from tests.conftest import PAGE_SIZE, ROOT, free_port
from tests.support.recording_hub import RecordingHub

EXE = str(Path(sys.executable).with_name("headwater"))


def env_for(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": database_url, "HEADWATER_DATA_DIR": str(data_dir),
                "HEADWATER_PAGE_SIZE": str(PAGE_SIZE), **extra})
    return env


def test_without_a_hub_it_says_off(database_url, data_dir):
    proc = subprocess.run([EXE, "notifier"], env=env_for(database_url, data_dir), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "notifier off: no HEADWATER_HUB_URL" in proc.stdout + proc.stderr


async def test_delivers_then_stops_on_sigterm(database_url, data_dir, db):
    hub = RecordingHub(free_port()).start()
    proc = subprocess.Popen([EXE, "notifier"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            env=env_for(database_url, data_dir, HEADWATER_HUB_URL=hub.url))
    try:
        await write_batch(db, [Doc(uri=f"https://example.org/{i}", collection="cli")
                               for i in range(3)],
                          page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
        deadline = time.monotonic() + 30
        while (await db.fetchval("SELECT position FROM notifier_cursors") or 0) < 3:
            assert proc.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert b"notifier stopped" in proc.stdout.read()
        assert len(hub.snapshot()) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipe
        hub.stop()
