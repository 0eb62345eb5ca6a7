"""Files that appear whole or not at all: write under a temporary name, fsync, rename, fsync
the folder. The one way the content store, the sealed-page cache, dump packages, loader
checkpoints and generated secrets reach the disk, so a crash at any moment leaves either the
old state or the new one, never a torn file (docs/reliability.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["fsync_dir", "make_dirs", "durable_rename", "atomic_file", "write_atomic",
           "temp_name"]


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (the directory entry, not just the file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """`mkdir -p`, with each folder it creates made durable in its parent."""
    missing = []
    for folder in [path, *path.parents]:
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # another writer made it first: its fsync covers it
        fsync_dir(folder.parent)


def temp_name(folder: Path, suffix: str = ".part") -> Path:
    return folder / f".{uuid.uuid4().hex}{suffix}"


def durable_rename(tmp: Path, final: Path) -> None:
    """Move a written and fsynced temporary file into place for good."""
    make_dirs(final.parent)
    os.replace(tmp, final)
    fsync_dir(final.parent)


@contextmanager
def atomic_file(final: Path, tmp_dir: Path | None = None) -> Iterator[BinaryIO]:
    """Write `final` through a temporary file in `tmp_dir` (default: beside it), which is
    fsynced and renamed into place when the block ends, and removed if it raises."""
    folder = tmp_dir or final.parent
    make_dirs(folder)
    tmp = temp_name(folder)
    try:
        with open(tmp, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        durable_rename(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(final: Path, data: bytes) -> None:
    with atomic_file(final) as out:
        out.write(data)
