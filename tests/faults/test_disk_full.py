"""The content store's disk fills during an upload: 507 problem, no partial file, no row, and the
next upload that fits succeeds without a manual step.

Two ways to fill the disk, both real kernel errors seen by a real server process:
- `tmpfs`: the content folder is a 2 MiB tmpfs mount (needs root and `mount`), so writes fail with
  ENOSPC exactly as on a full disk;
- `fsize`: where mounting is not possible, the server runs under RLIMIT_FSIZE (Python ignores
  SIGXFSZ), so a write beyond the limit fails with EFBIG — the same path through the store.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import TOKEN, LiveServer, free_port

LIMIT = 2 * 1024 * 1024
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class _LimitedServer(LiveServer):
    """A live server whose files may not grow beyond `fsize` bytes."""

    def __init__(self, env: dict[str, str], port: int, log: Path, fsize: int):
        super().__init__(env, port, log)
        self.fsize = fsize

    def start(self, timeout: float = 30) -> None:
        fsize = self.fsize

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

        real_popen = subprocess.Popen

        def popen(*args, **kwargs):  # type: ignore[no-untyped-def]
            return real_popen(*args, preexec_fn=limit, **kwargs)

        subprocess.Popen = popen  # type: ignore[misc]
        try:
            super().start(timeout)
        finally:
            subprocess.Popen = real_popen  # type: ignore[misc]


def _mount_tmpfs(folder: Path, size: int) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture(params=["tmpfs", "fsize"])
def full_disk_server(request, live_server_factory, database_url, data_dir, tmp_path):
    if request.param == "tmpfs":
        content = data_dir / "content"
        if not _mount_tmpfs(content, LIMIT):
            pytest.skip("cannot mount a tmpfs here (needs root and util-linux mount); "
                        "the fsize variant covers the same path")
        server = live_server_factory()
        yield server
        server.stop()
        subprocess.run(["umount", "-l", str(content)], check=False)
        return
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": database_url, "HEADWATER_DATA_DIR": str(data_dir),
                "HEADWATER_WRITE_TOKENS": TOKEN, "HEADWATER_PAGE_SIZE": "1000",
                "HEADWATER_BASE_URL": f"http://127.0.0.1:{port}",
                "HEADWATER_LOG_LEVEL": "WARNING"})
    server = _LimitedServer(env, port, tmp_path / "limited.log", fsize=LIMIT)
    server.start()
    yield server
    server.stop()


def test_upload_that_fills_the_disk(full_disk_server, data_dir):
    import asyncio

    from app.db.connect import connect

    server = full_disk_server
    big = os.urandom(LIMIT + 512 * 1024)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        try:
            response = client.put("/content/full/big.bin", content=big, headers=AUTH)
        except httpx.TransportError:  # the server may close before the client sent every byte
            response = None
        if response is not None:
            assert response.status_code == 507, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers.get("retry-after")
        assert client.get("/readyz").status_code == 200

        # nothing half-written: no temporary file, no stored object, no row, no change
        tmp = data_dir / "content" / "tmp"
        assert [p.name for p in tmp.iterdir()] == []
        stored = [p for p in (data_dir / "content").rglob("*") if p.is_file()]
        assert stored == []

        async def counts() -> tuple[int, int]:
            conn = await connect(server.env["DATABASE_URL"])
            try:
                return (await conn.fetchval("SELECT count(*) FROM resources"),
                        await conn.fetchval("SELECT count(*) FROM changes"))
            finally:
                await conn.close()

        assert asyncio.run(counts()) == (0, 0)

        # recovers on its own: an upload that fits is stored and published
        small = client.put("/content/full/small.txt", content=b"fits", headers=AUTH)
        assert small.status_code == 201, small.text
        assert client.get("/content/full/small.txt").content == b"fits"
        assert asyncio.run(counts()) == (1, 1)
