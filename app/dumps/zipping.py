"""Reading stored bytes into ZIP packages: blocking file I/O, run in worker threads.

Members are *stored* (no compression: archived content is mostly compressed already) with
their size and CRC-32 known in advance (`measure`), so `stream-zip` writes them straight
through in ZIP64 form without buffering a file in memory. Memory stays at about one chunk per
package whatever its size.

`write_atomically` is how a package appears on disk: temporary name, fsync, rename, fsync of
the folder, so a crash leaves either nothing or a whole file.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stream_zip import NO_COMPRESSION_64, ZIP_64, stream_zip

from app.store.files import atomic_file

__all__ = ["CHUNK", "Measured", "Member", "measure", "zip_chunks", "write_atomically"]

CHUNK = 1024 * 1024
_ZIP_EPOCH = datetime(1980, 1, 2, tzinfo=UTC)  # DOS dates start in 1980


@dataclass(frozen=True)
class Measured:
    length: int
    crc32: int


@dataclass(frozen=True)
class Member:
    name: str  # ZIP entry name: the manifest path without its leading '/'
    source: Path | bytes
    length: int
    crc32: int | None  # None: not measured, CRC computed while streaming (see `_members`)
    modified: datetime | None = None


def measure(path: Path) -> Measured | None:
    """Length and CRC-32 of a stored file, or None when it is missing. (No md5: at about a
    quarter of CRC-32's speed it would dominate the build; the sha-256 is the store's key.)"""
    crc, length = 0, 0
    try:
        with open(path, "rb") as f:
            while block := f.read(CHUNK):
                crc = zlib.crc32(block, crc)
                length += len(block)
    except FileNotFoundError:
        return None
    return Measured(length, crc)


def _file_chunks(path: Path, length: int) -> Iterator[bytes]:
    seen = 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            seen += len(block)
            yield block
    if seen != length:  # content-addressed files never change; this is a damaged store
        raise OSError(f"{path} changed size while being packed ({length} → {seen})")


def _members(members: Iterable[Member]) -> Iterator[tuple]:
    for m in members:
        when = max(m.modified or _ZIP_EPOCH, _ZIP_EPOCH)
        if isinstance(m.source, bytes):
            chunks: Iterable[bytes] = (m.source,)
        else:
            chunks = _file_chunks(m.source, m.length)
        if m.crc32 is None:
            # unmeasured (on-demand dumps send their first byte before reading any file):
            # deflate at level 0, i.e. stored blocks, with the CRC and sizes in a data
            # descriptor after the bytes, which every unzip reads
            yield (m.name, when, 0o644, ZIP_64, chunks)
        else:
            yield (m.name, when, 0o644, NO_COMPRESSION_64(m.length, m.crc32), chunks)


def _level0() -> zlib._Compress:
    return zlib.compressobj(level=0, wbits=-zlib.MAX_WBITS)


def zip_chunks(members: Iterable[Member]) -> Iterator[bytes]:
    """The ZIP's bytes as they are produced."""
    yield from stream_zip(_members(members), chunk_size=CHUNK, get_compressobj=_level0)



def write_atomically(chunks: Iterable[bytes], final: Path, tmp_dir: Path,
                     progress: object = None) -> tuple[int, str]:
    """Write chunks to `final` via a temporary file; return (length, sha-256 hex)."""
    digest, length = hashlib.sha256(), 0
    # hashing and writing both release the GIL: hash each chunk on a second thread while
    # this one writes it, so the package's sha-256 costs next to nothing on two cores
    with ThreadPoolExecutor(1) as hasher, atomic_file(final, tmp_dir) as out:
        for chunk in chunks:
            hashed = hasher.submit(digest.update, chunk)
            out.write(chunk)
            hashed.result()
            length += len(chunk)
            if progress is not None:
                progress(len(chunk))  # type: ignore[operator]
    return length, digest.hexdigest()
