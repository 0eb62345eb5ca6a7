"""Sealed Change List pages kept as files: rendered once, with a gzip copy compressed once.

A sealed page never changes (docs/rules.md §1.2), so after its first request it is served as a
static file would be. Files are named by the page's ETag token (which covers the database
instance, base URL, set and page), written to a temp name, fsynced and renamed, so a reader
never sees a partial file and concurrent first requests simply race to the same bytes.
"""

from __future__ import annotations

import asyncio
import gzip
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from app.store.files import atomic_file

__all__ = ["SealedPages"]



class SealedPages:
    def __init__(self, root: Path, *, remember: int = 4096):
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}
        # (collection, page) → (ETag token, Last-Modified) of pages already on disk. A sealed
        # page never changes, so a repeat request needs no database round trip at all; the
        # oldest entries go first once `remember` are kept.
        self._known: OrderedDict[tuple[str, int], tuple[str, datetime]] = OrderedDict()
        self._remember = remember

    def known(self, collection: str, page: int) -> tuple[str, datetime] | None:
        found = self._known.get((collection, page))
        if found is not None and not self.ready(found[0]):
            self._known.pop((collection, page), None)  # the cache folder was cleared
            return None
        return found

    def learn(self, collection: str, page: int, token: str, last_modified: datetime) -> None:
        self._known[(collection, page)] = (token, last_modified)
        self._known.move_to_end((collection, page))
        while len(self._known) > self._remember:
            self._known.popitem(last=False)

    def paths(self, token: str) -> tuple[Path, Path]:
        folder = self.root / token[:2]
        return folder / f"{token}.xml", folder / f"{token}.xml.gz"

    def ready(self, token: str) -> bool:
        xml, gz = self.paths(token)
        return xml.is_file() and gz.is_file()

    async def ensure(self, token: str, render: Callable[[], AsyncIterator[bytes]]
                     ) -> tuple[Path, Path]:
        """The page's two files, rendering them first if this is the first request."""
        xml, gz = self.paths(token)
        if self.ready(token):
            return xml, gz
        lock = self._locks.setdefault(token, asyncio.Lock())
        async with lock:
            if not self.ready(token):
                await self._render(xml, gz, render)
        self._locks.pop(token, None)
        return xml, gz

    async def _render(self, xml: Path, gz: Path, render: Callable[[], AsyncIterator[bytes]]
                      ) -> None:
        with atomic_file(xml) as raw, atomic_file(gz) as graw:
            zipped = gzip.GzipFile(fileobj=graw, mode="wb", compresslevel=6, mtime=0)
            async for chunk in render():
                # compression is CPU work: keep it off the event loop
                await asyncio.to_thread(_write, raw, zipped, chunk)
            await asyncio.to_thread(zipped.close)
        # the identity file lands last: `ready` looks for both, so a reader never sees half


def _write(raw: BinaryIO, zipped: gzip.GzipFile, chunk: bytes) -> None:
    raw.write(chunk)
    zipped.write(chunk)
