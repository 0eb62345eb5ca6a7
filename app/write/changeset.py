"""Deciding what a batch changes: pure logic, no I/O.

Given the current rows of the batch's URIs and the documents as the client describes them, work
out, record by record and in order, which changes to append (created, updated, deleted) and the
final state of each row. A record identical to the current state appends nothing; a URI moved to
another collection appends `deleted` in the old one and `created` in the new one (docs/rules.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

__all__ = ["Doc", "Row", "Snapshot", "Change", "Plan", "plan_batch"]

ChangeType = Literal["created", "updated", "deleted"]


@dataclass(slots=True)
class Doc:
    """The state a client asks for. `lastmod=None` means "the time of the change".

    Not frozen: a frozen dataclass's __init__ costs twice as much, and one Doc is built per
    record on the ingest path. Nothing mutates a Doc once built."""

    uri: str
    collection: str
    content_key: str | None = None
    length: int | None = None
    type: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    lastmod: datetime | None = None
    deleted: bool = False
    metadata: dict[str, list[str]] | None = None
    links: list[dict[str, Any]] | None = None
    oai_identifier: str | None = None


@dataclass(slots=True)
class Row:
    """A resource row as the batch leaves it. `id is None` for a row not yet in the table."""

    uri: str
    collection: str
    id: int | None = None
    content_key: str | None = None
    length: int | None = None
    type: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    lastmod: datetime | None = None
    deleted: bool = False
    metadata: dict[str, list[str]] | None = None
    links: list[dict[str, Any]] | None = None
    oai_identifier: str | None = None
    moved: bool = False  # placed in a (new) collection by this batch: needs a fresh ordinal
    touched: bool = False
    # the index into Plan.changes of this row's newest change in the batch
    last_change: int = -1


class Snapshot(NamedTuple):
    """The fixity the change log records for a change (the row as it was at that change)."""

    content_key: str | None
    length: int | None
    type: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class Change:
    uri: str
    collection: str
    change: ChangeType
    # lastmod given by the client; None means the change's own datetime
    lastmod: datetime | None
    snapshot: Snapshot = field(repr=False)


@dataclass
class Plan:
    rows: dict[str, Row]
    changes: list[Change]
    unchanged: int


def _same(row: Row, doc: Doc) -> bool:
    # Fields whose difference makes an update (lastmod only when the client gives one).
    # Spelled out rather than looped over with getattr: this runs once per record.
    return (
        row.content_key == doc.content_key and row.length == doc.length
        and row.type == doc.type and row.md5 == doc.md5 and row.sha1 == doc.sha1
        and row.sha256 == doc.sha256 and row.metadata == doc.metadata
        and row.links == doc.links and row.oai_identifier == doc.oai_identifier
        and (doc.lastmod is None or doc.lastmod == row.lastmod)
    )


def _apply(row: Row, doc: Doc) -> None:
    row.content_key, row.length, row.type = doc.content_key, doc.length, doc.type
    row.md5, row.sha1, row.sha256 = doc.md5, doc.sha1, doc.sha256
    row.metadata, row.links, row.oai_identifier = doc.metadata, doc.links, doc.oai_identifier
    row.lastmod = doc.lastmod  # None: filled with the change datetime at write time
    row.deleted = False
    row.touched = True


def plan_batch(current: dict[str, Row], docs: list[Doc]) -> Plan:
    """Fold `docs` over `current` (keyed by URI) in order; return the changes to append."""
    rows = current
    changes: list[Change] = []
    unchanged = 0

    def emit(row: Row, change: ChangeType, collection: str) -> None:
        row.last_change = len(changes)
        # a tuple, not a copy of the row: this runs once per change on the bulk path
        snap = Snapshot(row.content_key, row.length, row.type, row.md5, row.sha1, row.sha256)
        changes.append(Change(row.uri, collection, change, row.lastmod, snap))

    for doc in docs:
        row = rows.get(doc.uri)
        if doc.deleted:
            if row is None or row.deleted:
                unchanged += 1
                continue
            row.deleted = True
            row.lastmod = None
            row.touched = True
            emit(row, "deleted", row.collection)
            continue
        if row is None:
            row = rows[doc.uri] = Row(uri=doc.uri, collection=doc.collection, moved=True)
            _apply(row, doc)
            emit(row, "created", doc.collection)
            continue
        if row.collection != doc.collection:
            if not row.deleted:
                row.deleted = True
                row.lastmod = None
                emit(row, "deleted", row.collection)
            row.collection = doc.collection
            row.moved = True
            _apply(row, doc)
            emit(row, "created", doc.collection)
            continue
        if row.deleted:
            _apply(row, doc)
            emit(row, "created", doc.collection)
            continue
        if _same(row, doc):
            unchanged += 1
            continue
        _apply(row, doc)
        emit(row, "updated", doc.collection)
    return Plan(rows=rows, changes=changes, unchanged=unchanged)
