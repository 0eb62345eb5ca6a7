"""What every document needs from the running service, in one object kept on the app: where
reads go (the primary's pool, and the streaming replicas of `app.read.replicas`), the settings,
the sealed-page and part caches, the Capability List's providers, and this database's
identity (read once).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Query, Request

from app.read import queries
from app.read.capabilities import Provider
from app.read.part_cache import PartBodies
from app.read.replicas import ReadPools
from app.read.sealed_pages import SealedPages
from app.read.snapshot import Snapshot, reading
from app.settings import Settings

__all__ = ["Reader", "ReaderDep", "AtPosition"]


@dataclass
class Reader:
    pool: asyncpg.Pool
    settings: Settings
    sealed: SealedPages
    providers: Sequence[Provider] = ()
    reads: ReadPools | None = None  # replicas configured: public reads go there
    parts: PartBodies | None = None  # Resource List parts' entries on disk (None: render)
    _instance: str | None = field(default=None, repr=False)

    @property
    def replicated(self) -> bool:
        return self.reads is not None and bool(self.reads.replicas)

    def snapshot(self, *, at: int | None = None,
                 primary: bool = False) -> AbstractAsyncContextManager[Snapshot]:
        """A snapshot for one document (`app.read.snapshot.reading`): on a replica when there
        are some, at or after log position `at` when given; on the primary with `primary`."""
        if self.reads is None:
            return reading(self.pool)
        return self.reads.snapshot(at=at, primary=primary)

    def connection(self, *, at: int | None = None
                   ) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A plain connection (no snapshot) routed like `snapshot`, for OAI-PMH."""
        if self.reads is None:
            return self.pool.acquire()
        return self.reads.connection(at=at)

    async def instance_id(self, snap: Snapshot) -> str:
        """This database's identity: ETags and cache files carry it, so two databases behind
        one base URL never share validators."""
        if self._instance is None:
            self._instance = await snap.conn.fetchval(queries.Q["instance_id"]) or "none"
        return self._instance


def _reader(request: Request) -> Reader:
    reader: Reader = request.app.state.reader
    return reader


ReaderDep = Annotated[Reader, Depends(_reader)]

# `?at=P` on a link an index gives out: the log position the index was read at (rule §1.8)
AtPosition = Annotated[int | None, Query(ge=0, description="log position of the index that "
                                                           "linked here")]
