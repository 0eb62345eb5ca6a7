"""The dump builder killed (SIGKILL) while it writes a package: nothing partial is ever listed
or served, and the next build completes and sweeps what the dead one left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PAGE_SIZE, ROOT, TOKEN
from tests.integration.test_dumps_support import NS, check_package, local_record, validate

pytestmark = pytest.mark.slow

FILES, SIZE = 48, 2 * 1024 * 1024  # 96 MB: one package, a second or more to write


def _cli_env(database_url: str, data_dir: Path, base: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": database_url, "HEADWATER_DATA_DIR": str(data_dir),
                "HEADWATER_PAGE_SIZE": str(PAGE_SIZE), "HEADWATER_BASE_URL": base,
                "HEADWATER_WRITE_TOKENS": TOKEN, "HEADWATER_LOG_LEVEL": "WARNING"})
    return env


def _build(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # the console script, as an operator runs it
    cmd = [str(Path(sys.executable).parent / "headwater"), "dumps", "build", "--collection", "big"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _partials(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "dumps").rglob("*.part") if p.stat().st_size > 0] \
        if (data_dir / "dumps").is_dir() else []


def test_killed_builder_leaves_nothing_visible(live_server, database_url, data_dir):
    base = live_server.url
    auth = {"Authorization": f"Bearer {TOKEN}"}
    recs = [local_record(data_dir, "big", f"f{i}.bin", os.urandom(SIZE), base=base)
            for i in range(FILES)]
    r = httpx.post(f"{base}/ingest", json=recs, headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    env = _cli_env(database_url, data_dir, base)

    proc = _build(env)
    deadline = time.monotonic() + 60
    while not _partials(data_dir):
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the builder never started writing a package"
        time.sleep(0.005)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)  # reaps it and closes its pipe
    assert proc.returncode == -signal.SIGKILL
    assert _partials(data_dir), "the kill came too late to test anything"

    # nothing of the dead build is listed or served
    assert httpx.get(f"{base}/resourcesync/big/resourcedump.xml").status_code == 404
    assert "resourcedump" not in httpx.get(f"{base}/resourcesync/big/capabilitylist.xml").text
    for zip_file in (data_dir / "dumps").rglob("*.zip"):
        r = httpx.get(f"{base}/resourcesync/big/dumps/{zip_file.name}")
        assert r.status_code == 404

    proc = _build(env)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out.decode()[-3000:]
    assert not list((data_dir / "dumps").rglob("*.part")), "the dead build's files were kept"
    root = validate(httpx.get(f"{base}/resourcesync/big/resourcedump.xml").content)
    files: dict[str, bytes] = {}
    for loc in root.findall("sm:url/sm:loc", NS):
        r = httpx.get(loc.text, timeout=60)
        assert r.status_code == 200
        files.update(check_package(r.content, "resourcedump-manifest")[1])
    assert len(files) == FILES
