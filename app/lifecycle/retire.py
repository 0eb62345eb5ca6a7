"""Retiring a collection: every resource of it (descendants included) gets a `deleted` change,
in batches through `write_batch`, and the collection is recorded as retired.

Its Change Lists, their archive and its Change Dumps stay readable: a destination catches up on
the deletions like on any other change. Its Capability List stays too, listing only what still
makes sense for a collection with nothing in it: the Change List, the archive, the Change Dump
and the notification channel; the Resource List and Resource Dump are no longer listed (their
URLs still answer, empty). A later write to a retired collection is accepted (retirement is not
a lock; a takedown is `purge`) and the collection stays marked retired until retired again
or un-marked by an operator in the database (docs/operations.md, "Retiring a collection").
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from app.lifecycle.guard import Q
from app.read.capabilities import CapEntry, Provider
from app.settings import Settings
from app.write.changeset import Doc
from app.write.writer import write_batch

__all__ = ["RetireError", "RetireReport", "retire", "is_retired", "unless_retired"]

BATCH = 1_000


class RetireError(Exception):
    """No such collection."""


@dataclass(frozen=True)
class RetireReport:
    collection: str
    collections: int
    deleted: int


async def retire(conn: asyncpg.Connection, settings: Settings, collection: str, *,
                 reason: str, token_name: str, batch: int = BATCH) -> RetireReport:
    subtree = await conn.fetch(Q["subtree"], collection)
    if not subtree or subtree[0]["name"] != collection:
        raise RetireError(f"no collection named {collection!r}")
    ids = [r["id"] for r in subtree]
    deleted, last = 0, 0
    while True:
        rows = await conn.fetch(Q["live_batch"], ids, last, batch)
        if not rows:
            break
        docs = [Doc(uri=r["uri"], collection=r["collection"], deleted=True) for r in rows]
        result = await write_batch(conn, docs, page_size=settings.page_size,
                                   seal_after=settings.seal_after)
        deleted += result.changed
        last = rows[-1]["id"]
    await conn.execute(Q["mark_retired"], subtree[0]["id"], reason, token_name, deleted)
    return RetireReport(collection, len(ids), deleted)


async def is_retired(conn: asyncpg.Connection, collection: str) -> bool:
    return await conn.fetchval(Q["is_retired"], collection) is not None


_CURRENT_STATE = {"resourcelist", "resourcedump"}


def unless_retired(provider: Provider) -> Provider:
    """A Capability List provider that leaves out the Resource List and Resource Dump of a
    retired collection (they describe a current state there is no more of)."""
    async def entries(conn: asyncpg.Connection, settings: Settings, collection: str
                      ) -> list[CapEntry]:
        found = await provider(conn, settings, collection)
        if any(e.capability in _CURRENT_STATE for e in found) \
                and await is_retired(conn, collection):
            return [e for e in found if e.capability not in _CURRENT_STATE]
        return found
    return entries
