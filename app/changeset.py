"""Deciding what a batch changes: pure logic, no I/O.

Given the current rows of the batch's URIs and the documents as the client describes them, work
out, record by record and in order, which changes to append (created, updated, deleted) and the
final state of each row. A record identical to the current state appends nothing; a URI moved to
another collection appends `deleted` in the old one and `created` in the new one (CONTRACT §1).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

__all__ = ["Doc", "Row", "Change", "Plan", "plan_batch"]

ChangeType = Literal["created", "updated", "deleted"]

# Fields whose difference makes an update (lastmod only when the client gives one).
_COMPARED = ("content_key", "length", "type", "md5", "sha1", "sha256", "metadata", "links",
             "oai_identifier")


@dataclass(frozen=True)
class Doc:
    """The state a client asks for. `lastmod=None` means "the time of the change"."""

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


@dataclass
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


@dataclass(frozen=True)
class Change:
    uri: str
    collection: str
    change: ChangeType
    # lastmod given by the client; None means the change's own datetime
    lastmod: datetime | None
    snapshot: Row = field(repr=False)


@dataclass
class Plan:
    rows: dict[str, Row]
    changes: list[Change]
    unchanged: int


def _same(row: Row, doc: Doc) -> bool:
    if any(getattr(row, name) != getattr(doc, name) for name in _COMPARED):
        return False
    return doc.lastmod is None or doc.lastmod == row.lastmod


def _apply(row: Row, doc: Doc) -> None:
    for name in _COMPARED:
        setattr(row, name, getattr(doc, name))
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
        changes.append(Change(row.uri, collection, change, row.lastmod, replace(row)))

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
