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

__all__ = ["fsync_path", "fsync_dir", "make_dirs", "durable_rename", "atomic_file", "write_atomic",
           "temp_name", "write_once"]


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by its path (a folder: the entries renamed into it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (the directory entry, not just the file)."""
    fsync_path(path)


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


def write_once(path: Path, text: str) -> str:
    """Create `path` holding `text` (mode 0600) unless it exists; return what it holds.

    Written under a temporary name, fsynced, then hard-linked into place, which fails if the
    file exists: when several workers start at once exactly one creates it, the others read
    theirs, and no reader ever sees an empty or half-written file (the write token, the
    OAI-PMH signing key)."""
    if not path.is_file():
        make_dirs(path.parent)
        tmp = temp_name(path.parent, ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)  # fails if another process won the race: use theirs
                fsync_dir(path.parent)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text()
