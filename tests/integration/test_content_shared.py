"""Several nodes share one content folder (HEADWATER_CONTENT_DIR): bytes uploaded on one are
served by the other, and the same bytes stored by two processes at once stay whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from app.store.content import ContentStore
from tests.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUNDS = 40


def _writer(root: str, data: bytes, start: multiprocessing.synchronize.Barrier,  # type: ignore[name-defined]
            rounds: int) -> None:
    store = ContentStore(Path(root))

    async def chunks() -> object:
        for i in range(0, len(data), 65_536):
            yield data[i:i + 65_536]
            await asyncio.sleep(0)

    start.wait()
    for _ in range(rounds):
        stored = asyncio.run(store.put_stream(chunks(), max_bytes=len(data)))  # type: ignore[arg-type]
        assert stored.fixity.sha256 == hashlib.sha256(data).hexdigest()


def _reader(path: str, digest: str, stop: multiprocessing.synchronize.Event,  # type: ignore[name-defined]
            torn: multiprocessing.sharedctypes.Synchronized) -> None:  # type: ignore[name-defined]
    """Reads the final file whenever it exists: it must always be whole."""
    while not stop.is_set():
        try:
            body = Path(path).read_bytes()
        except FileNotFoundError:
            continue
        if hashlib.sha256(body).hexdigest() != digest:
            with torn.get_lock():
                torn.value += 1


def test_same_bytes_stored_by_two_processes_at_once_stay_whole(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    root = tmp_path / "shared-content"
    data = os.urandom(2 * 1024 * 1024 + 17)
    digest = hashlib.sha256(data).hexdigest()
    final = ContentStore(root).path_for(digest)
    start, stop, torn = ctx.Barrier(2), ctx.Event(), ctx.Value("i", 0)
    reader = ctx.Process(target=_reader, args=(str(final), digest, stop, torn))
    reader.start()
    writers = [ctx.Process(target=_writer, args=(str(root), data, start, ROUNDS))
               for _ in range(2)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
    stop.set()
    reader.join(10)
    assert [w.exitcode for w in writers] == [0, 0]
    assert torn.value == 0  # no reader ever saw a partial file
    assert hashlib.sha256(final.read_bytes()).hexdigest() == digest
    assert list(final.parent.iterdir()) == [final]
    assert list((root / "tmp").iterdir()) == []  # every temporary file renamed or removed


def test_two_nodes_share_one_content_folder(live_server_factory, tmp_path: Path) -> None:
    shared = tmp_path / "shared-content"
    # behind one front: one public base URL, one database, one content folder
    common = {"HEADWATER_CONTENT_DIR": str(shared), "HEADWATER_BASE_URL": "http://rs.example"}
    a = live_server_factory(HEADWATER_DATA_DIR=str(tmp_path / "node-a"), **common)
    b = live_server_factory(HEADWATER_DATA_DIR=str(tmp_path / "node-b"), **common)
    data = os.urandom(500_000)
    put = httpx.put(f"{a.url}/content/shared/one.bin", content=data, headers=AUTH)
    assert put.status_code == 201, put.text
    got = httpx.get(f"{b.url}/content/shared/one.bin")
    assert got.status_code == 200 and got.content == data
    assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'

    # the same bytes uploaded to both nodes at once, under two URIs
    same = os.urandom(3_000_000)

    def upload(node_url: str, name: str) -> int:
        return httpx.put(f"{node_url}/content/shared/{name}", content=same, headers=AUTH,
                         timeout=60).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(upload, [a.url, b.url], ["x.bin", "y.bin"]))
    assert codes == [201, 201]
    for node, name in ((a, "y.bin"), (b, "x.bin")):
        assert httpx.get(f"{node.url}/content/shared/{name}").content == same
    digest = hashlib.sha256(same).hexdigest()
    assert (shared / digest[:2] / digest[2:4] / digest).read_bytes() == same
    assert not (tmp_path / "node-a" / "content").exists()
