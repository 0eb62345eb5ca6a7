"""Resource List parts' entries kept as files until one of their rows changes.

A part's entries (the `<url>` fragments of one keyset range of one collection) change only when
a write touches one of its rows, and every such write bumps the part's version in the same
transaction (migration 0012). The entries are rendered once into a file named by everything
that determines them — database instance, collection id, part, sub-part, version, page size
and byte budget — so a request that reads the version in its snapshot finds the file of
exactly that state, or renders it: a write makes the next request miss, never serve stale.

The head (`at`, links) and tail are added per request, so parts keep their index's `at`
(docs/resourcesync.md). Older versions of a part are removed when a newer one is written, so
the folder holds at most one file per part (plus the rare racing older one): bounded by the
size of the live lists, whatever the traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

from app.store.files import atomic_file

__all__ = ["PartBodies", "part_key", "file_chunks"]

_READ = 256 * 1024  # few event-loop steps per part, yet a stalled client blocks the send


def part_key(instance: str, collection_id: int, part: int, sub: int | None, version: int,
             page_size: int, budget: int) -> tuple[str, str]:
    """(the part's folder, shared by its versions; the file name of this version)."""
    return (f"{instance}-{collection_id}-{part}-{'' if sub is None else sub}",
            f"{version}-{page_size}-{budget}.xml")


class PartBodies:
    def __init__(self, root: Path):
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, folder: str, name: str) -> Path:
        return self.root / folder / name

    def open(self, folder: str, name: str) -> BinaryIO | None:
        """The entries file of this version, open (so a later prune cannot take it away
        mid-response), or None if no request has rendered it yet."""
        try:
            return open(self.path(folder, name), "rb")
        except FileNotFoundError:
            return None

    async def ensure(self, folder: str, name: str,
                     render: Callable[[], AsyncIterator[bytes]]) -> BinaryIO:
        """The entries file, open; rendered first if no request has rendered it yet."""
        while (found := self.open(folder, name)) is None:
            key = f"{folder}/{name}"
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                if not self.path(folder, name).is_file():
                    with atomic_file(self.path(folder, name)) as out:
                        async for chunk in render():
                            out.write(chunk)
                    self._prune(folder, keep=name)
            self._locks.pop(key, None)
        return found

    def _prune(self, folder: str, keep: str) -> None:
        """Drop the part's other versions: no snapshot asks for an older one again (one
        already in flight renders it once more, and the next newer write prunes it)."""
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root / folder) as entries:
            for entry in entries:
                if entry.name != keep and not entry.name.startswith("."):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)


async def file_chunks(f: BinaryIO) -> AsyncIterator[bytes]:
    """An open file's bytes in large reads, then closes it. Reads come from the page cache
    (the file was just written or recently read): no thread hop per read."""
    with f:
        while chunk := f.read(_READ):
            yield chunk
