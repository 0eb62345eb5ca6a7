"""What a channel's topic URI serves in `websub` mode (docs/rules.md §6): the changes the hubs have
not yet acknowledged, oldest first, at most a page, preceded by up to `window` recently
acknowledged ones for a hub that fetches late. Subscribers dedupe by URI and datetime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from notifier.config import NotifierConfig
from notifier.payload import Change, first_from, notification
from notifier.queries import Q
from sitemaps import urls

__all__ = ["first_seq_after", "topic_body", "topic_document", "collection_exists"]

Probe = Callable[[int], Awaitable[tuple[int, int] | None]]


async def first_seq_after(probe: Probe, position: int, end: int) -> int:
    """The smallest sequence number of a set whose change lies after log `position`, or `end`.

    Positions grow with sequence numbers inside a set, but sequences have gaps (a page sealed
    by age skips to the next multiple of the page size) and `set_changes` has no index on
    position; so binary-search with `probe(x)` = the first entry at or after `x` (an index
    probe on the primary key): O(log n) probes at any depth, where a scan would read the set.
    """
    lo, hi = 0, end  # invariant: the answer's probe point lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        found = await probe(mid)
        if found is None or found[1] > position:
            hi = mid
        else:
            lo = found[0] + 1
    found = await probe(lo)
    return found[0] if found and found[1] > position else end


async def topic_body(conn: asyncpg.Connection, *, base: str, name: str, set_id: int,
                     created_at: datetime, end: int, acked: int, window: int,
                     limit: int) -> bytes:
    """The notification a hub fetching the topic distributes. `acked`: the position every
    hub has accepted; `end`: the set's next sequence number."""

    async def probe(x: int) -> tuple[int, int] | None:
        r = await conn.fetchrow(Q["seq_probe"], set_id, x)
        return (r["seq"], r["position"]) if r else None

    async with conn.transaction(isolation="repeatable_read", readonly=True):
        start = await first_seq_after(probe, acked, end)
        # one more than the window: the change before the first entry gives `from`
        before = [Change.from_row(r) for r in
                  await conn.fetch(Q["topic_before"], set_id, start, window + 1)]
        fresh = [Change.from_row(r) for r in
                 await conn.fetch(Q["topic_from"], set_id, start, limit)]
    before.reverse()
    shown = before[1:] if len(before) > window else before
    entries = shown + fresh
    if len(before) > window:
        from_ = before[0].datetime
    elif entries:
        from_ = first_from(created_at, entries[0].datetime)
    else:
        from_ = created_at
    until = entries[-1].datetime if entries else from_
    return notification(up=urls.capability_list(base, name), from_=from_, until=until,
                        entries=entries)


async def topic_document(conn: asyncpg.Connection, config: NotifierConfig,
                         collection: str) -> bytes | None:
    """What a hub fetching `collection`'s topic gets in websub mode, or None when there is no
    such collection: the changes not yet acknowledged by every hub, after the window."""
    row = await conn.fetchrow(Q["collection"], collection)
    if row is None:
        return None
    acked = await conn.fetchval(Q["min_cursor"], list(config.hubs))
    return await topic_body(
        conn, base=config.base_url, name=collection, set_id=row["id"],
        created_at=row["created_at"], end=row["change_seq"], acked=acked,
        window=min(config.topic_window, config.page_size), limit=config.page_size)


async def collection_exists(conn: asyncpg.Connection, collection: str) -> bool:
    return await conn.fetchrow(Q["collection"], collection) is not None
