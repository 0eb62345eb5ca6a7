"""The queries documents are read with: collections, heads, part counters, keyset ranges.

Every function runs on a snapshot's connection (`app.read.snapshot`). Entries are the fragments
pre-rendered at write time (migration 0002), fetched `CHUNK` rows at a time as one
`string_agg` per keyset range: a few round trips per page, no OFFSET, no per-row Python work,
and memory bounded by one chunk whatever the collection's size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.db.queries import load_queries
from sitemaps.paging import PartStats

__all__ = ["Q", "CHUNK", "PLAN_SETTINGS", "Collection", "collection", "part_stats",
           "resource_chunks", "plain_chunks", "change_chunks", "page_bounds", "set_head",
           "sync_sitemap_prefix"]

Q = load_queries("app.read", "sql/documents.sql")
CHUNK = 5_000

# Every range read here is a keyset range of a btree (resources (collection_id, ord),
# set_changes (set_id, seq)). Left alone the planner picks a bitmap scan and then sorts the
# 5,000 rows for `string_agg(… ORDER BY …)`; a plain index scan delivers them in order and the
# aggregate skips its sort: measured 50–125 ms against 270–300 ms for 50,000 fragments.
PLAN_SETTINGS = ("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; "
                  "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")


@dataclass(frozen=True)
class Collection:
    id: int
    name: str
    change_seq: int
    member_seq: int
    created_at: datetime


async def collection(conn: asyncpg.Connection, name: str) -> Collection | None:
    row = await conn.fetchrow(Q["collection"], name)
    return Collection(**dict(row)) if row else None


async def set_head(conn: asyncpg.Connection, c: Collection) -> tuple[int, datetime]:
    """Position and datetime of the set's newest change (the Resource List's `at`)."""
    row = await conn.fetchrow(Q["set_head"], c.id)
    if row is None:  # a collection is created by its first change; keep a sane fallback
        return 0, c.created_at
    return row["position"], row["datetime"]


async def sync_sitemap_prefix(conn: asyncpg.Connection, prefix: str, page_size: int) -> bool:
    """Make resource_parts.local_entries count URIs under `prefix` (the base URL + '/'); the
    writer's trigger keeps them from then on. Recounts (one pass over resources, blocking
    writes meanwhile) only when the stored prefix differs; True when it did."""
    from app.db.locks import APPEND_LOCK

    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
        if await conn.fetchval(Q["sitemap_prefix"]) == prefix:
            return False
        await conn.execute(Q["recount_sitemap_prefix"], prefix, page_size)
        return True


async def part_stats(conn: asyncpg.Connection, ids: Sequence[int] | None, *,
                     page_size: int = 0, prefix: str = ""
                     ) -> tuple[list[PartStats], dict[str, tuple[int, int]]]:
    """Per-part entries and bytes of the given collections, and the (id, member_seq) of each
    collection named. With `ids=None`: the parts of every collection holding a URI under
    `prefix`. member_seq bounds the last part's range, so a small collection costs one
    range query, not page size / CHUNK."""
    if ids is None:
        if await conn.fetchval(Q["sitemap_prefix"]) == prefix:
            rows = await conn.fetch(Q["plain_parts_counted"], prefix)  # counters: no scan
        else:
            rows = await conn.fetch(Q["plain_parts"], page_size, prefix)
    else:
        rows = await conn.fetch(Q["resource_parts"], list(ids))
    stats = [PartStats(r["collection"], r["part"], r["entries"], r["bytes"]) for r in rows]
    return stats, {r["collection"]: (r["collection_id"], r["member_seq"]) for r in rows}


async def _chunks(conn: asyncpg.Connection, sql: str, key: object, lo: int, hi: int,
                  *extra: object) -> AsyncIterator[bytes]:
    """One `string_agg` per CHUNK-wide keyset range; the next range is already being read
    while the consumer sends this one (PostgreSQL and the socket work side by side)."""
    starts = range(lo, hi, CHUNK)
    if not starts:
        return

    def fetch(start: int) -> asyncio.Task[str | None]:
        return asyncio.ensure_future(
            conn.fetchval(sql, key, start, min(start + CHUNK, hi), *extra))

    pending: asyncio.Task[str | None] | None = fetch(starts[0])
    try:
        for i in range(len(starts)):
            assert pending is not None
            text = await pending
            pending = fetch(starts[i + 1]) if i + 1 < len(starts) else None
            if text:
                yield text.encode()
    finally:
        if pending is not None:  # the consumer stopped early: let the query finish first
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


def resource_chunks(conn: asyncpg.Connection, collection_id: int, lo: int, hi: int
                    ) -> AsyncIterator[bytes]:
    return _chunks(conn, Q["resource_chunk"], collection_id, lo, hi)


def plain_chunks(conn: asyncpg.Connection, collection_id: int, lo: int, hi: int, prefix: str
                 ) -> AsyncIterator[bytes]:
    return _chunks(conn, Q["plain_chunk"], collection_id, lo, hi, prefix)


def change_chunks(conn: asyncpg.Connection, set_id: int, lo: int, hi: int
                  ) -> AsyncIterator[bytes]:
    return _chunks(conn, Q["change_chunk"], set_id, lo, hi)


async def page_bounds(conn: asyncpg.Connection, set_id: int, pages: Sequence[int],
                      page_size: int) -> dict[int, tuple[datetime, datetime]]:
    """{page: (from, last change datetime)}: `from` of page k is the datetime of page k-1's
    last change (the `until` it sealed with), the set's first change for page 0."""
    if not pages:
        return {}
    ends = sorted({(k + 1) * page_size for k in pages} | {k * page_size for k in pages if k})
    rows = await conn.fetch(Q["page_times"], set_id, ends)
    last = {r["end_seq"]: r["last"] for r in rows}
    first = await conn.fetchval(Q["first_change"], set_id)
    return {k: (last[k * page_size] if k else first, last[(k + 1) * page_size]) for k in pages}
