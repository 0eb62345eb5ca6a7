"""SIGKILL the server mid-ingest and mid-response, then start it again with no manual step.

After the kill: every acknowledged batch and upload is there in full, every unacknowledged batch
is either wholly there or wholly absent (a batch is one transaction), every stored content row
points at whole, hash-true bytes, and the change log and each collection's set sequence are
gap-free.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
import time

import httpx
import pytest

from app.db.connect import connect
from tests.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BATCH = 200

pytestmark = pytest.mark.slow


def _batch(worker: int, n: int) -> list[dict[str, object]]:
    return [{"uri": f"http://example.org/w{worker}/b{n}/{i}", "collection": f"kill:w{worker}",
             "md5": hashlib.md5(f"{worker}/{n}/{i}".encode()).hexdigest()}
            for i in range(BATCH)]


class _Writers:
    """Threads posting batches and uploads until the server dies; each remembers what was
    acknowledged (2xx received in full) and what was merely attempted."""

    def __init__(self, url: str, workers: int = 4):
        self.url = url
        self.acked_batches: set[tuple[int, int]] = set()
        self.tried_batches: set[tuple[int, int]] = set()
        self.acked_uploads: dict[str, str] = {}  # published uri -> sha256
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(w,), daemon=True)
                        for w in range(workers)]
        self.lock = threading.Lock()

    def _run(self, worker: int) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                n += 1
                with self.lock:
                    self.tried_batches.add((worker, n))
                try:
                    if worker == 0 and n % 2 == 0:
                        blob = os.urandom(256 * 1024)
                        r = client.put(f"/content/kill:up/f{n}.bin", content=blob, headers=AUTH)
                        if r.status_code in (200, 201):
                            with self.lock:
                                self.acked_uploads[r.json()["uri"]] = \
                                    hashlib.sha256(blob).hexdigest()
                        continue
                    r = client.post("/ingest", json=_batch(worker, n), headers=AUTH)
                    if r.status_code == 200:
                        with self.lock:
                            self.acked_batches.add((worker, n))
                except httpx.HTTPError:
                    return  # the server is gone

    def __enter__(self) -> _Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


async def _check_log(dsn: str) -> dict[str, object]:
    conn = await connect(dsn)
    try:
        positions = [r[0] for r in await conn.fetch("SELECT position FROM changes ORDER BY 1")]
        gaps = await conn.fetchval("""
            SELECT count(*) FROM (
              SELECT seq - lag(seq) OVER (PARTITION BY set_id ORDER BY seq) AS step
              FROM set_changes) s WHERE step <> 1""")
        head = await conn.fetchval("SELECT position FROM log_head")
        uris = {r[0] for r in await conn.fetch("SELECT uri FROM resources")}
        content = [(r["uri"], r["content_key"]) for r in await conn.fetch(
            "SELECT uri, content_key FROM resources WHERE content_key IS NOT NULL")]
    finally:
        await conn.close()
    if positions:
        assert positions == list(range(positions[0], positions[0] + len(positions))), "gap"
        assert head == positions[-1]
    assert gaps == 0, "a set's seq has a gap"
    return {"uris": uris, "content": content, "changes": len(positions)}


def test_sigkill_mid_ingest(live_server_factory, database_url, data_dir):
    server = live_server_factory()
    with _Writers(server.url) as writers:
        deadline = time.monotonic() + 20
        while len(writers.acked_batches) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # kill while batches are in flight
        server.stop(signal.SIGKILL)
    assert server.proc is not None and server.proc.returncode == -signal.SIGKILL
    assert writers.acked_batches, "nothing was acknowledged before the kill"

    server.start()  # same port, same database, same data folder: no manual step
    state = asyncio.run(_check_log(database_url))
    uris = state["uris"]
    for worker, n in writers.tried_batches:
        expected = {r["uri"] for r in _batch(worker, n)}
        present = expected & uris
        if (worker, n) in writers.acked_batches:
            assert present == expected, f"acknowledged batch {(worker, n)} lost rows"
        else:
            assert present in (set(), expected), f"batch {(worker, n)} half-written"
    keys = dict(state["content"])
    for uri, sha in writers.acked_uploads.items():
        assert keys.get(uri) == sha, f"acknowledged upload {uri} lost or replaced"
    store_root = data_dir / "content"
    for uri, key in state["content"]:
        path = store_root / key[:2] / key[2:4] / key
        assert hashlib.sha256(path.read_bytes()).hexdigest() == key, f"{uri}: bytes damaged"

    # it keeps working, and the log continues without a gap
    with httpx.Client(base_url=server.url, timeout=30) as client:
        after = client.post("/ingest", json=_batch(99, 1), headers=AUTH)
        assert after.status_code == 200, after.text
    assert asyncio.run(_check_log(database_url))["changes"] == state["changes"] + BATCH


def test_sigkill_mid_response(live_server_factory, data_dir):
    server = live_server_factory()
    blob = os.urandom(32 * 1024 * 1024)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.put("/content/kill/big.bin", content=blob,
                          headers=AUTH).status_code == 201
        records = [{"uri": f"http://example.org/page/{i}", "collection": "kill"}
                   for i in range(900)]
        assert client.post("/ingest", json=records, headers=AUTH).status_code == 200
        before_list = client.get("/resourcesync/kill/resourcelist.xml")

    # read the big file slowly, and kill the server while the body is on the wire
    received = 0
    with pytest.raises(httpx.HTTPError):  # a truncated body is an error, never a short success
        with httpx.stream("GET", server.url + "/content/kill/big.bin", timeout=30) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(65536):
                received += len(chunk)
                if received >= 1024 * 1024 and server.proc and server.proc.poll() is None:
                    server.stop(signal.SIGKILL)
    assert 0 < received < len(blob)

    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        again = client.get("/content/kill/big.bin")
        assert again.status_code == 200
        assert again.content == blob
        after_list = client.get("/resourcesync/kill/resourcelist.xml")
        if before_list.status_code == 200:
            assert after_list.status_code == 200
            assert after_list.content.count(b"<url>") == 901  # the pages and the upload
            assert after_list.content == before_list.content  # unchanged: the same bytes
