"""What is acknowledged is on disk: new folders are synced into their parents, a duplicate
upload is synced before it is acknowledged, and generated secrets are created atomically."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from app.dumps.zipping import write_atomically
from app.http.auth import ensure_token_file
from app.store.content import ContentStore


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path os.fsync is called on, in order."""
    seen: list[Path] = []
    real = os.fsync

    def recording(fd: int) -> None:
        seen.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return seen


async def _chunks(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def test_new_store_folders_are_synced_into_their_parents(tmp_path, synced):
    store = ContentStore(tmp_path / "content")
    store.prepare()
    stored = await store.put_stream(_chunks(b"hello"), max_bytes=1024)
    final = store.path_for(stored.key)
    # the file, its folder, and each new folder's parent: content/ab and content/ab/cd
    for folder in (final.parent, final.parent.parent, store.root):
        assert folder in synced, (folder, synced)


async def test_a_duplicate_upload_is_synced_before_it_is_acknowledged(tmp_path, synced):
    store = ContentStore(tmp_path / "content")
    store.prepare()
    first = await store.put_stream(_chunks(b"same"), max_bytes=1024)
    synced.clear()
    again = await store.put_stream(_chunks(b"same"), max_bytes=1024)
    assert again.key == first.key
    final = store.path_for(first.key)
    # the upload's own copy is synced, then renamed over the old one and the rename synced
    # (replacing it also refreshes the file's age, which garbage collection reads)
    copies = [i for i, path in enumerate(synced) if path.parent == store.tmp]
    assert copies and final.parent in synced, synced
    assert synced.index(final.parent) > copies[-1]


def test_a_new_dump_folder_is_synced_into_its_parent(tmp_path, synced):
    final = tmp_path / "dumps" / "7" / "rd-1-0.zip"
    write_atomically([b"zip"], final, tmp_path / "tmp")
    assert final.read_bytes() == b"zip"
    assert final.parent.parent in synced and tmp_path in synced, synced


def test_write_token_is_created_once_atomically_and_private(tmp_path):
    data = tmp_path / "data"
    start = threading.Barrier(8)
    tokens: list[str] = []

    def worker() -> None:
        start.wait()
        tokens.append(ensure_token_file(data)[0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_disk = (data / "write-token").read_text().strip()
    assert len(on_disk) >= 32
    assert tokens == [on_disk] * 8  # every worker got the one token that was kept
    assert stat.S_IMODE((data / "write-token").stat().st_mode) == 0o600
    assert sorted(p.name for p in data.iterdir()) == ["write-token"]  # no temporary left
