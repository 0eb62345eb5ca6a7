"""The locks lifecycle work holds while it removes bytes: the store lock (purge and GC
exclusive, a backup shared) and the dump builder's lock on every collection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from app.db.locks import DUMP_LOCK, STORE_LOCK
from app.db.queries import load_queries

__all__ = ["Q", "store_locked", "dumps_locked"]

Q = load_queries("app.lifecycle", "sql/lifecycle.sql")


@asynccontextmanager
async def store_locked(conn: asyncpg.Connection, *, shared: bool = False) -> AsyncIterator[None]:
    await conn.fetchval(Q["lock_store_shared"] if shared else Q["lock_store"], STORE_LOCK)
    try:
        yield
    finally:
        await conn.fetchval(Q["unlock_store_shared"] if shared else Q["unlock_store"],
                            STORE_LOCK)


@asynccontextmanager
async def dumps_locked(conn: asyncpg.Connection) -> AsyncIterator[dict[int, str]]:
    """Every collection's builder lock, in id order (so two holders never deadlock): no
    package is being written while the caller removes bytes. Yields {id: name}."""
    rows = await conn.fetch(Q["collection_ids"])
    held: list[int] = []
    try:
        for r in rows:
            await conn.fetchval(Q["lock_dumps"], DUMP_LOCK, r["id"])
            held.append(r["id"])
        yield {r["id"]: r["name"] for r in rows}
    finally:
        for cid in reversed(held):
            await conn.fetchval(Q["unlock_dumps"], DUMP_LOCK, cid)
