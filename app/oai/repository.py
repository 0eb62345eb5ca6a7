"""The OAI-PMH queries (SQL in `app/oai/sql/oai.sql`): records by identifier, keyset pages, counts,
sets. Rows become `render.Record`s here, so the verbs never see SQL rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from app.db.locks import APPEND_LOCK
from app.db.queries import load_queries
from app.oai.render import Record
from app.oai.sets import SetSpec, record_specs
from sitemaps.fixity import Fixity

__all__ = ["Filter", "clock", "earliest", "sample_identifier", "get_record", "resolve_set",
           "page", "count", "sets_page", "sets_count", "identifier_of", "EPOCH", "to_micros",
           "from_micros", "MERGE_LIMIT", "COUNT_CAP"]

_KINDS = {"collection": ("collection_id", "integer"), "domain": ("oai_domain", "text"),
          "mime": ("oai_mime", "text")}
_Q = dict(load_queries("app.oai", "sql/oai.sql"))
# one query per set kind from each shared shape, built once (column names from _KINDS only)
_Q.update({f"{shape}_{kind}": _Q[f"{shape}_by"].format(column=column, type=type_)
           for shape in ("page", "scan", "count") for kind, (column, type_) in _KINDS.items()})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Up to this many exact values a parent set is served by merging per-value keysets (cost grows
# with the values, not the depth); beyond it, by a filtered walk of (datestamp, id).
MERGE_LIMIT = 64
# completeListSize of a narrowed list is counted up to this many records (tens of ms), never
# the whole table; a whole list's size comes from counters (`count`)
COUNT_CAP = 100_000


def to_micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def identifier_of(repository_id: str, row: asyncpg.Record) -> str:
    return row["oai_identifier"] or f"oai:{repository_id}:{row['id']}"


def _record(repository_id: str, row: asyncpg.Record) -> Record:
    return Record(
        identifier=identifier_of(repository_id, row),
        datestamp=row["datestamp"],
        deleted=row["deleted"],
        specs=record_specs(row["collection"], row["oai_domain"], row["oai_mime"]),
        uri=row["uri"],
        lastmod=row["lastmod"],
        fixity=Fixity(row["length"], row["type"], row["md5"], row["sha1"], row["sha256"]),
        metadata=row["metadata"],
        links=row["links"],
    )


async def clock(conn: asyncpg.Connection) -> tuple[datetime, int]:
    """A responseDate that an incremental harvest can use as its next `from` (every record with
    an earlier datestamp is already visible to the queries that follow), and the log position
    read. A replica shows the primary's log up to what it replayed, so there the date is that
    of the newest change it holds, whatever the clock says (docs/scaling.md)."""
    row = await conn.fetchrow(_Q["clock"], APPEND_LOCK)
    position = row["position"] or 0
    if row["head"] is None:
        return row["now"], position
    if row["replica"]:
        return row["head"], position
    if row["quiet"]:
        return row["now"], position
    return min(row["now"], row["head"]), position


async def earliest(conn: asyncpg.Connection) -> datetime | None:
    return await conn.fetchval(_Q["earliest"])


async def sample_identifier(conn: asyncpg.Connection, repository_id: str) -> str:
    row = await conn.fetchrow(_Q["sample_id"])
    return identifier_of(repository_id, row) if row else f"oai:{repository_id}:1"


async def get_record(conn: asyncpg.Connection, identifier: str,
                     repository_id: str) -> Record | None:
    """Published `oai_identifier` first, then the `oai:<repository id>:<id>` form."""
    row = await conn.fetchrow(_Q["record_by_oai_identifier"], identifier)
    if row is None:
        match = re.fullmatch(rf"oai:{re.escape(repository_id)}:([1-9][0-9]{{0,17}})", identifier)
        if match:
            row = await conn.fetchrow(_Q["record_by_id"], int(match.group(1)))
    return _record(repository_id, row) if row else None


@dataclass(frozen=True)
class Filter:
    """What a list request selects: all records, or the exact values of one set hierarchy."""

    kind: str | None = None  # None | 'collection' | 'domain' | 'mime'
    values: tuple[object, ...] = ()


async def resolve_set(conn: asyncpg.Connection, spec: SetSpec) -> Filter:
    """The exact values a set covers, descendants included; none → the set is empty/unknown."""
    if spec.kind == "collection":
        rows = await conn.fetch(_Q["collection_ids"], spec.path)
        return Filter("collection", tuple(r["id"] for r in rows))
    rows = await conn.fetch(_Q["set_values"], str(spec))
    return Filter(spec.kind, tuple(r["value"] for r in rows))


@dataclass(frozen=True)
class Page:
    records: list[Record]
    last_ts: int | None  # keyset of the last record returned
    last_id: int | None
    more: bool


async def page(conn: asyncpg.Connection, flt: Filter, *, after_ts: datetime, after_id: int,
               until: datetime, size: int, repository_id: str) -> Page:
    """Up to `size` records after the keyset, and whether more follow (one extra row read)."""
    if flt.kind is None:
        rows = await conn.fetch(_Q["page_all"], after_ts, after_id, until, size + 1)
    else:
        name = "page_" if len(flt.values) <= MERGE_LIMIT else "scan_"
        rows = await conn.fetch(_Q[name + flt.kind], list(flt.values), after_ts, after_id,
                                until, size + 1)
    more = len(rows) > size
    rows = rows[:size]
    last = rows[-1] if rows else None
    return Page(
        [_record(repository_id, r) for r in rows],
        to_micros(last["datestamp"]) if last else None,
        last["id"] if last else None,
        more,
    )


async def count(conn: asyncpg.Connection, flt: Filter, *, since: datetime,
                until: datetime, dated: bool) -> int | None:
    """completeListSize, at a cost that does not grow with the store: a whole list (the
    repository, a `collection:` set) from the per-part counters; a list narrowed by dates or
    by a `domain:`/`mime:` set counted up to COUNT_CAP records. Beyond the cap: None, and the
    attribute is left out (OAI-PMH §3.5: it is optional, and may be an estimate)."""
    if not dated and flt.kind is None:
        return await conn.fetchval(_Q["records_all"])
    if not dated and flt.kind == "collection":
        return await conn.fetchval(_Q["records_of_collections"], list(flt.values))
    if flt.kind is None:
        n = await conn.fetchval(_Q["count_all"], since, until, COUNT_CAP + 1)
    else:
        n = await conn.fetchval(_Q["count_" + flt.kind], list(flt.values), since, until,
                                COUNT_CAP + 1)
    return n if n <= COUNT_CAP else None


async def sets_page(conn: asyncpg.Connection, after: str, size: int) -> list[str]:
    return [r["spec"] for r in await conn.fetch(_Q["sets_page"], after, size)]


async def sets_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(_Q["sets_count"])
