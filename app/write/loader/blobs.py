"""Bytes for loaded resources, from a crawler's blob folder (`headwater ingest --blobs DIR`).

A crawling pipeline that keeps what it fetched in a blob store lays files out by their sha-1,
as sandcrawler's store does: `DIR/<sha1[0:2]>/<sha1[2:4]>/<sha1>`, possibly with an extension
(`<sha1>.pdf`). A record whose sha-1 names a file there gets those bytes copied into the content
store (hashed on the way; a file that does not match the record's sha-1, md5, sha-256 or length
is refused), so its resource can be packed into dumps (docs/dumps.md). The resource keeps its
published URI: the Resource List still points at where the crawl found it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiofiles

from app.store.content import ContentStore, Stored
from app.write.changeset import Doc

__all__ = ["BlobFolder", "BlobMismatch", "bring_in"]

_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_CHUNK = 1024 * 1024
_NO_LIMIT = 2**62


class BlobMismatch(Exception):
    """The blob's bytes are not the ones the record describes."""


@dataclass(frozen=True)
class BlobFolder:
    root: Path

    def find(self, sha1: str) -> Path | None:
        """The blob of a sha-1 (lowercase hex), or None when the folder has none."""
        if not _SHA1.match(sha1):
            return None
        folder = self.root / sha1[0:2] / sha1[2:4]
        exact = folder / sha1
        if exact.is_file():
            return exact
        for candidate in sorted(folder.glob(sha1 + ".*")):
            if candidate.is_file():
                return candidate
        return None


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    async with aiofiles.open(path, "rb") as f:
        while chunk := await f.read(_CHUNK):
            yield chunk


async def bring_in(store: ContentStore, doc: Doc, path: Path) -> Stored:
    """Copy a blob into the store and check it against what the record says of it; fill in the
    digests and length the record left out. The caller sets `doc.content_key` on success."""
    stored = await store.put_stream(_chunks(path), max_bytes=_NO_LIMIT)
    names = {"sha1": "sha-1", "md5": "md5", "sha256": "sha-256", "length": "length"}
    wrong = [label for field, label in names.items()
             if getattr(doc.fixity, field) is not None
             and getattr(doc.fixity, field) != getattr(stored.fixity, field)]
    if wrong:
        # the file stays in the store under its own digest, referenced by nothing, like the
        # leftover of an interrupted upload (docs/design.md)
        raise BlobMismatch(f"blob {path} does not match the record's {', '.join(wrong)}")
    doc.fixity = stored.fixity._replace(type=doc.fixity.type)
    return stored
