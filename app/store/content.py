"""The content-addressed store: bytes kept under their sha-256 in the data folder.

Bytes are streamed to a temporary file (hashing md5, sha-1 and sha-256 on the way), fsynced and
renamed into place before any row points at them, so a crash leaves either nothing or a whole
file. Paths are derived from a hex digest only, never from a URL, so no request can name a file
outside the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

from app.store.files import durable_rename
from sitemaps.fixity import Fixity

__all__ = ["ContentStore", "Stored", "TooLarge"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class TooLarge(Exception):
    """The upload exceeded the configured limit; nothing was kept."""


@dataclass(frozen=True)
class Stored:
    key: str  # sha-256 hex
    fixity: Fixity  # measured from the bytes (no media type: the store does not know it)


class ContentStore:
    def __init__(self, root: Path):
        self.root = root
        self.tmp = root / "tmp"

    def prepare(self, *, stale_after: float = 3600.0) -> list[Path]:
        """Create the folders; remove temporary files a killed upload left behind.

        Only files untouched for `stale_after` seconds go: another worker sharing this store
        may be writing a younger one right now. Returns what was removed."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        removed = []
        cutoff = time.time() - stale_after
        for leftover in self.tmp.glob("*.part"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed.append(leftover)
            except FileNotFoundError:
                pass
        return removed

    def path_for(self, key: str) -> Path:
        if not _HEX64.match(key):
            raise ValueError("a content key is a lowercase sha-256 hex digest")
        return self.root / key[:2] / key[2:4] / key

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    async def put_stream(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Stored:
        """Stream chunks into the store; return the fixity of what was written."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{uuid.uuid4().hex}.part"
        md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
        length = 0
        try:
            async with aiofiles.open(tmp, "wb") as out:
                async for chunk in chunks:
                    if not chunk:
                        continue
                    length += len(chunk)
                    if length > max_bytes:
                        raise TooLarge(f"the upload is larger than {max_bytes} bytes")
                    md5.update(chunk)
                    sha1.update(chunk)
                    sha256.update(chunk)
                    await out.write(chunk)
                await out.flush()
                await aiofiles.os.wrap(os.fsync)(out.fileno())
            key = sha256.hexdigest()
            # replaced even when present (same bytes): the fresh file's mtime tells garbage
            # collection an upload is about to name it (app/lifecycle/gc.py)
            await aiofiles.os.wrap(durable_rename)(tmp, self.path_for(key))
        except BaseException:
            try:
                await aiofiles.os.remove(tmp)
            except FileNotFoundError:
                pass
            raise
        return Stored(key, Fixity(length, None, md5.hexdigest(), sha1.hexdigest(), key))
