"""One document, one snapshot: a pooled connection in a read-only REPEATABLE READ transaction,
so a document's head (`at`, `from`/`until`), its ETag and every entry come from the same state.

`reading(pool)` opens one for a block of code and closes it when the block ends, unless the
block handed it to a streamed response (`Snapshot.hand_over()`), whose body outlives the route:
the response then closes it once the last byte is sent, the client goes away, or at once for
HEAD and 304.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from app.http.problems import HTTPProblem
from app.read import queries

__all__ = ["Snapshot", "open_snapshot", "reading", "not_found", "require_collection"]


class Snapshot:
    """A pooled connection in a read-only REPEATABLE READ transaction, closed exactly once."""

    def __init__(self, pool: asyncpg.Pool, conn: asyncpg.Connection,
                 tr: asyncpg.transaction.Transaction):
        self.pool, self.conn = pool, conn
        self._tr: asyncpg.transaction.Transaction | None = tr
        self._closed = False
        self.handed_over = False
        self.replica: str | None = None  # the replica it reads, None for the primary

    def hand_over(self) -> Callable[[], Awaitable[None]]:
        """Give `close` to whoever streams from this snapshot (a response)."""
        self.handed_over = True
        return self.close

    async def end_transaction(self) -> None:
        """Leave the snapshot but keep the connection (until `close`) for plain queries."""
        if self._tr is not None:
            tr, self._tr = self._tr, None
            await tr.rollback()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._tr is not None:
                await self._tr.rollback()
        except Exception:
            # a client that went away mid-page can leave a read in flight: drop the
            # connection rather than wait for it (the pool opens a fresh one)
            self.conn.terminate()
        finally:
            with contextlib.suppress(Exception):
                await self.pool.release(self.conn)


async def open_snapshot(pool: asyncpg.Pool) -> Snapshot:
    conn = await pool.acquire()
    try:
        tr = conn.transaction(isolation="repeatable_read", readonly=True)
        await tr.start()
        await conn.execute(queries.PLAN_SETTINGS)
    except BaseException:
        await pool.release(conn)
        raise
    return Snapshot(pool, conn, tr)


@asynccontextmanager
async def reading(pool: asyncpg.Pool) -> AsyncIterator[Snapshot]:
    snap = await open_snapshot(pool)
    try:
        yield snap
    finally:
        if not snap.handed_over:
            await snap.close()


def not_found(what: str) -> HTTPProblem:
    return HTTPProblem(404, "not found", what)


async def require_collection(snap: Snapshot, name: str) -> queries.Collection:
    found = await queries.collection(snap.conn, name)
    if found is None:
        raise not_found(f"no collection named {name!r}")
    return found
