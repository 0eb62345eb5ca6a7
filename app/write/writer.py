"""The one write path: a batch of documents into `resources` and the change log, atomically.

Every writer (the ingest API, content uploads, the bulk loader) comes through `write_batch`. It
takes the log's append lock (a transaction-level advisory lock) *before* reading the current
state, so the diff, the positions and the datetimes are decided by one writer at a time and
commit in that order: a reader that has seen position P never later finds a change below P
(docs/rules.md §1.1), and datetimes strictly increase (docs/rules.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from app.db.locks import APPEND_LOCK
from app.db.queries import load_queries
from app.metrics import INGESTED
from app.write.changeset import Doc, Plan, Row, plan_batch, published_lastmod
from sitemaps.fixity import Fixity
from sitemaps.names import ancestors

__all__ = ["WriteResult", "write_batch", "seal_stale_pages", "hour_counts"]

_Q = load_queries("app.write", "sql/writer.sql")
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class WriteResult:
    received: int
    changed: int
    unchanged: int
    first_position: int | None = None
    last_position: int | None = None
    kinds: tuple[str, ...] = ()  # the change type of each appended change, in order


@dataclass
class _Set:
    id: int
    member_seq: int
    change_seq: int
    page_opened_at: datetime | None
    dirty: bool = False


async def _ensure_collections(conn: asyncpg.Connection, names: set[str]) -> dict[str, _Set]:
    wanted = {a for name in names for a in ancestors(name)}
    rows = await conn.fetch(_Q["collections_by_name"], list(wanted))
    missing = wanted - {r["name"] for r in rows}
    if missing:
        for name in sorted(missing, key=lambda n: n.count(":")):
            parent = name.rpartition(":")[0] or None
            await conn.execute(_Q["insert_collection"], name, parent, name.count(":"))
        rows = await conn.fetch(_Q["collections_by_name"], list(wanted))
    return {
        r["name"]: _Set(r["id"], r["member_seq"], r["change_seq"], r["page_opened_at"])
        for r in rows
    }


async def _current(conn: asyncpg.Connection, uris: list[str]) -> dict[str, Row]:
    rows = await conn.fetch(_Q["resources_by_uri"], uris)
    return {r["uri"]: Row(r["uri"], r["collection"], r["id"], r["content_key"],
                          Fixity(r["length"], r["type"], r["md5"], r["sha1"], r["sha256"]),
                          r["lastmod"], r["deleted"], r["metadata"], r["links"],
                          r["oai_identifier"])
            for r in rows}


def hour_counts(start: datetime, count: int, tick: timedelta) -> list[tuple[datetime, int]]:
    """How many of `count` changes dated `start + i·tick` fall in each UTC hour (the status
    page's change rate, kept per hour so no request counts the log)."""
    out: list[tuple[datetime, int]] = []
    i = 0
    while i < count:
        hour = (start + tick * i).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        end = hour + timedelta(hours=1)
        k = min(count, -(-(end - start) // tick))  # first j with start + j·tick >= end
        out.append((hour, k - i))
        i = k
    return out


async def write_batch(
    conn: asyncpg.Connection,
    docs: list[Doc],
    *,
    page_size: int,
    seal_after: timedelta,
) -> WriteResult:
    """Apply `docs` in order, in one transaction; return what was appended.

    Raises `changeset.Contradicts` (nothing written) when a doc contradicts stored bytes."""
    if not docs:
        return WriteResult(0, 0, 0)
    async with conn.transaction():
        await conn.execute(_Q["append_lock"], APPEND_LOCK)
        head = await conn.fetchrow(_Q["log_head"])
        plan = plan_batch(await _current(conn, list({d.uri for d in docs})), docs)
        if not plan.changes:
            INGESTED.labels("unchanged").inc(plan.unchanged)
            return WriteResult(len(docs), 0, plan.unchanged)
        sets = await _ensure_collections(conn, {c.collection for c in plan.changes})
        start = head["now"]
        if head["datetime"] is not None and start <= head["datetime"]:
            start = head["datetime"] + _TICK
        first = head["position"] + 1
        await _append(conn, plan, sets, first, start, page_size, seal_after)
        last = first + len(plan.changes) - 1
        await conn.execute(_Q["update_log_head"], last, start + _TICK * (len(plan.changes) - 1))
        hours = hour_counts(start, len(plan.changes), _TICK)
        await conn.execute(_Q["count_change_hours"], [h for h, _ in hours], [n for _, n in hours])
    # counted after commit: a rolled-back batch counts nothing
    INGESTED.labels("changed").inc(len(plan.changes))
    INGESTED.labels("unchanged").inc(plan.unchanged)
    kinds = tuple(c.change for c in plan.changes)
    return WriteResult(len(docs), len(plan.changes), plan.unchanged, first, last, kinds)


_RESOURCE_COLUMNS = (
    "id", "uri", "collection_id", "ord", "content_key", "length", "type", "md5", "sha1",
    "sha256", "lastmod", "deleted", "metadata", "links", "oai_identifier", "last_position",
    "datestamp",
)
_CHANGE_COLUMNS = (
    "position", "resource_id", "collection_id", "change", "datetime", "uri", "lastmod",
    "content_key", "length", "type", "md5", "sha1", "sha256",
)
_SET_CHANGE_COLUMNS = ("set_id", "seq", "position")


async def _append(
    conn: asyncpg.Connection,
    plan: Plan,
    sets: dict[str, _Set],
    first: int,
    start: datetime,
    page_size: int,
    seal_after: timedelta,
) -> None:
    # Rows go in with binary COPY (new rows, the log, set_changes) or one jsonb parameter
    # (updates): both cost a fraction of binding one array per column, whose encoding
    # dominated the write path at large batches. COPY fires the tables' triggers like INSERT.
    changes = plan.changes
    stamps = [start + _TICK * i for i in range(len(changes))]

    touched = [row for row in plan.rows.values() if row.touched or row.last_change >= 0]
    fresh = [row for row in touched if row.id is None]
    is_new = {row.uri for row in fresh}
    if fresh:
        ids = await conn.fetchval(_Q["reserve_resource_ids"], len(fresh))
        for row, id_ in zip(fresh, ids, strict=True):
            row.id = id_

    new_rows: list[tuple[object, ...]] = []
    updates: list[dict[str, object]] = []
    for row in touched:
        s = sets[row.collection]
        ord_ = None
        if row.moved:
            ord_, s.member_seq, s.dirty = s.member_seq, s.member_seq + 1, True
        when = stamps[row.last_change]
        values = (
            row.id, row.uri, s.id, ord_, row.content_key, *row.fixity,
            published_lastmod(row.lastmod, when), row.deleted,
            row.metadata, row.links, row.oai_identifier, first + row.last_change, when,
        )
        if row.uri in is_new:
            new_rows.append(values)
        else:
            updates.append(dict(zip(_RESOURCE_COLUMNS, values, strict=True)))
    if updates:
        await conn.execute(_Q["update_resources"], updates)
    if new_rows:
        await conn.copy_records_to_table("resources", records=new_rows,
                                         columns=_RESOURCE_COLUMNS)

    # The log itself, and each change's place in its collections' change lists.
    ids_by_uri = {row.uri: row.id for row in touched}
    lineage: dict[str, list[_Set]] = {}
    log_rows: list[tuple[object, ...]] = []
    set_rows: list[tuple[int, int, int]] = []
    for i, change in enumerate(changes):
        snap, when, position = change.snapshot, stamps[i], first + i
        log_rows.append((
            position, ids_by_uri[change.uri], sets[change.collection].id, change.change, when,
            change.uri,
            None if change.change == "deleted" else published_lastmod(change.lastmod, when),
            snap.content_key, *snap.fixity,
        ))
        chain = lineage.get(change.collection)
        if chain is None:
            chain = lineage[change.collection] = [sets[n] for n in ancestors(change.collection)]
        for s in chain:
            if (
                s.change_seq % page_size
                and s.page_opened_at is not None
                and s.page_opened_at < when - seal_after
            ):
                s.change_seq = (s.change_seq // page_size + 1) * page_size
            if s.change_seq % page_size == 0:
                s.page_opened_at = when
            set_rows.append((s.id, s.change_seq, position))
            s.change_seq += 1
            s.dirty = True
    await conn.copy_records_to_table("changes", records=log_rows, columns=_CHANGE_COLUMNS)
    await conn.copy_records_to_table("set_changes", records=set_rows,
                                     columns=_SET_CHANGE_COLUMNS)
    dirty = [s for s in sets.values() if s.dirty]
    await conn.execute(
        _Q["update_collection_counters"],
        [s.id for s in dirty],
        [s.member_seq for s in dirty],
        [s.change_seq for s in dirty],
        [s.page_opened_at for s in dirty],
    )


async def seal_stale_pages(
    conn: asyncpg.Connection, *, page_size: int, seal_after: timedelta
) -> list[str]:
    """Seal open change-list pages older than `seal_after` (quiet collections); return names."""
    async with conn.transaction():
        await conn.execute(_Q["append_lock"], APPEND_LOCK)
        rows = await conn.fetch(_Q["seal_stale_pages"], page_size, seal_after)
    return [r["name"] for r in rows]
