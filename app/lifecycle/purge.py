"""Takedown: a resource's bytes, every version of them, leave the service for good.

Under the store lock and every collection's dump builder lock, in one transaction: a `deleted`
change through `write_batch` (the Change List says the resource is gone), every version's
`content_key` forgotten (old Change List entries stay, with the fixity they had, but nothing
can fetch their bytes: not the content route, not a Change Dump, not an on-demand dump), and a
row in `purges` (what, when, why, which token). Then the files leave the store, unless a live
resource publishes the same bytes, and every dump package whose manifest names the bytes or
the URI is unlisted and deleted, then rebuilt (docs/operations.md, "Takedown").
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import asyncpg

from app.lifecycle.gc import remove_if_old
from app.lifecycle.guard import Q, dumps_locked, store_locked
from app.lifecycle.packages import drop_affected, find_affected, rebuild
from app.settings import Settings
from app.store.content import ContentStore
from app.write.changeset import Doc
from app.write.writer import write_batch

__all__ = ["PurgeError", "PurgeReport", "purge", "purge_reason"]

log = logging.getLogger(__name__)
MAX_URIS = 1_000


class PurgeError(Exception):
    """The purge cannot be done as asked (unknown URIs, no reason); nothing was changed."""


@dataclass(frozen=True)
class PurgeReport:
    uris: list[str]
    deleted: int  # `deleted` changes appended (URIs already deleted append none)
    files_removed: int
    bytes_removed: int
    kept_shared: int  # keys kept because a live resource publishes the same bytes
    packages_rebuilt: int  # dump builds dropped and built again
    rebuilt: bool = True  # False: building them again failed (logged); run the purge again


def _remove(store: ContentStore, keys: list[str], started: float) -> tuple[int, int]:
    """Remove the files, except one an upload wrote since the purge began: that upload is a
    new publication of the same bytes, decided after the takedown (its row names them)."""
    files = nbytes = 0
    for key in keys:
        freed = remove_if_old(store, key, started)
        if freed is not None:
            files, nbytes = files + 1, nbytes + freed
    return files, nbytes


async def purge(pool: asyncpg.Pool, settings: Settings, store: ContentStore, uris: list[str],
                *, reason: str, token_name: str) -> PurgeReport:
    uris = list(dict.fromkeys(uris))
    if not reason.strip():
        raise PurgeError("a purge needs a reason")
    if not uris or len(uris) > MAX_URIS:
        raise PurgeError(f"give between 1 and {MAX_URIS} URIs")
    started = time.time()
    async with pool.acquire() as conn:
        rows = await conn.fetch(Q["resources_for_purge"], uris)
        unknown = sorted(set(uris) - {r["uri"] for r in rows})
        if unknown:
            raise PurgeError("nothing is published at: " + ", ".join(unknown[:20]))
        async with store_locked(conn), dumps_locked(conn):
            ids = [r["id"] for r in rows]
            async with conn.transaction():
                keys = [r["content_key"] for r in await conn.fetch(Q["keys_of_resources"], ids)]
                live = {r["content_key"] for r in await conn.fetch(Q["keys_still_live"], keys,
                                                                    ids)}
                gone = [k for k in keys if k not in live]
                docs = [Doc(uri=r["uri"], collection=r["collection"], deleted=True)
                        for r in rows if not r["deleted"]]
                result = await write_batch(conn, docs, page_size=settings.page_size,
                                           seal_after=settings.seal_after)
                positions = {d.uri: (result.first_position or 0) + i
                             for i, d in enumerate(docs)}
                await conn.execute(Q["forget_resource_keys"], ids)
                await conn.execute(Q["forget_keys"], gone)
                await conn.execute(Q["forget_deleted_resource_keys"], ids, gone)
                # the files go after the commit; a crash in between leaves bytes no row names,
                # which the next garbage collection removes
                purge_ids = [await conn.fetchval(Q["insert_purge"], r["uri"], reason,
                                                 token_name, positions.get(r["uri"]), gone, 0)
                             for r in rows]
            files, nbytes = await asyncio.to_thread(_remove, store, gone, started)
            await conn.execute(Q["purge_files_removed"], purge_ids, files)
            affected = await find_affected(conn, settings, gone, uris)
            await drop_affected(conn, affected)
    try:
        await rebuild(pool, settings, store, affected)
    except Exception:
        # the takedown itself is done (nothing serves the bytes); the dropped packages are
        # built again by the next purge run or the dump scheduler
        log.exception("purge: rebuilding the affected dump packages failed")
        rebuilt = False
    else:
        rebuilt = True
    return PurgeReport(uris, len(docs), files, nbytes, len(live), len(affected.builds),
                       rebuilt)


async def purge_reason(conn: asyncpg.Connection, uri: str) -> str | None:
    """The reason a deleted URI answers 410 with, when it was taken down."""
    row = await conn.fetchrow(Q["purge_reason"], uri)
    return None if row is None else str(row["reason"])
