"""Deciding what a batch changes: pure logic, no I/O.

Given the current rows of the batch's URIs and the documents as the client describes them, work
out, record by record and in order, which changes to append (created, updated, deleted) and the
final state of each row. A record identical to the current state appends nothing; a URI moved to
another collection appends `deleted` in the old one and `created` in the new one (docs/rules.md §2).

Bytes Headwater stores belong to their URI: a record that does not name other stored bytes
describes the stored ones (it keeps them, and may not contradict their length or hashes), and a
new upload of the bytes keeps the description (`Doc.keep`). A lastmod is never published later
than its change's datetime (`published_lastmod`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, NamedTuple

from sitemaps.fixity import NO_FIXITY, Fixity

__all__ = ["Doc", "Row", "Snapshot", "Change", "Plan", "plan_batch", "Contradiction",
           "Contradicts", "DESCRIPTION", "FIXITY", "published_lastmod"]

ChangeType = Literal["created", "updated", "deleted"]

# The fields that describe a resource rather than its bytes: a new upload keeps them.
DESCRIPTION = frozenset({"metadata", "links", "oai_identifier"})
# The fields a record may give for stored bytes only if they agree with them.
FIXITY = ("length", "md5", "sha1", "sha256")


@dataclass(slots=True)
class Doc:
    """The state a client asks for. `lastmod=None` means "the time of the change".

    Not frozen: a frozen dataclass's __init__ costs twice as much, and one Doc is built per
    record on the ingest path. Nothing mutates a Doc once built."""

    uri: str
    collection: str
    content_key: str | None = None
    fixity: Fixity = NO_FIXITY
    lastmod: datetime | None = None
    deleted: bool = False
    metadata: dict[str, list[str]] | None = None
    links: list[dict[str, Any]] | None = None
    oai_identifier: str | None = None
    # DESCRIPTION fields to take from the live row when this Doc leaves them None (an upload
    # of new bytes keeps the description it does not replace)
    keep: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Contradiction:
    """Doc `index` gives `field` a value that disagrees with the bytes stored for its URI."""

    index: int
    field: str
    detail: str


class Contradicts(Exception):
    """Some documents contradict the stored bytes of their URI; nothing may be written."""

    def __init__(self, found: list[Contradiction]):
        super().__init__(f"{len(found)} record(s) contradict stored bytes")
        self.found = found


def published_lastmod(lastmod: datetime | None, when: datetime) -> datetime:
    """The lastmod published for a change at `when`: the client's, but never later than the
    change itself (a destination keeping the newest lastmod it saw would skip later changes)."""
    return when if lastmod is None or lastmod > when else lastmod


@dataclass(slots=True)
class Row:
    """A resource row as the batch leaves it. `id is None` for a row not yet in the table."""

    uri: str
    collection: str
    id: int | None = None
    content_key: str | None = None
    fixity: Fixity = NO_FIXITY
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
    """What the change log records of the bytes at a change (the row as it was then)."""

    content_key: str | None
    fixity: Fixity


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
        row.content_key == doc.content_key and row.fixity == doc.fixity
        and row.metadata == doc.metadata
        and row.links == doc.links and row.oai_identifier == doc.oai_identifier
        and (doc.lastmod is None or doc.lastmod == row.lastmod)
    )


def _resolve(row: Row, doc: Doc, index: int, found: list[Contradiction]) -> Doc:
    """The Doc as it applies to a live row: kept description fields filled in, and, when the
    row's bytes are stored here and the Doc names no other stored bytes, those bytes kept."""
    fill: dict[str, Any] = {}
    for name in doc.keep:
        if getattr(doc, name) is None:
            fill[name] = getattr(row, name)
    key = row.content_key
    if key is not None and doc.content_key in (None, key):
        for name in FIXITY:
            given, stored = getattr(doc.fixity, name), getattr(row.fixity, name)
            if given is not None and given != stored:
                found.append(Contradiction(index, name, f"{name} {given} contradicts the bytes "
                                           f"stored for this URI ({name} {stored})"))
        fill.update(content_key=key,
                    fixity=row.fixity._replace(type=doc.fixity.type or row.fixity.type))
    return replace(doc, **fill) if fill else doc


def _apply(row: Row, doc: Doc) -> None:
    row.content_key, row.fixity = doc.content_key, doc.fixity
    row.metadata, row.links, row.oai_identifier = doc.metadata, doc.links, doc.oai_identifier
    row.lastmod = doc.lastmod  # None: filled with the change datetime at write time
    row.deleted = False
    row.touched = True


def plan_batch(current: dict[str, Row], docs: list[Doc]) -> Plan:
    """Fold `docs` over `current` (keyed by URI) in order; return the changes to append.

    Raises Contradicts, naming every document that contradicts its URI's stored bytes."""
    rows = current
    changes: list[Change] = []
    unchanged = 0
    found: list[Contradiction] = []

    def emit(row: Row, change: ChangeType, collection: str) -> None:
        row.last_change = len(changes)
        # a tuple, not a copy of the row: this runs once per change on the bulk path
        snap = Snapshot(row.content_key, row.fixity)
        changes.append(Change(row.uri, collection, change, row.lastmod, snap))

    for index, doc in enumerate(docs):
        row = rows.get(doc.uri)
        if (row is not None and not row.deleted and not doc.deleted
                and (row.content_key is not None or doc.keep)):
            doc = _resolve(row, doc, index, found)
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
    if found:
        raise Contradicts(found)
    return Plan(rows=rows, changes=changes, unchanged=unchanged)
