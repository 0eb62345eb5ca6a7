"""One `<url>` entry per row: the Python twins of the fragments PostgreSQL pre-renders.

`app/db/migrations/0002_document_fragments.sql` renders the same bytes at write time
(`headwater_resource_url`, `headwater_change_url`); a test proves the two agree, so documents
may mix stored fragments and fragments built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sitemaps.fixity import NO_FIXITY, Fixity
from sitemaps.format import esc, ln_element, url_entry, w3c

# a field named `datetime` (the spec's attribute) needs another name for its type
Timestamp = datetime

__all__ = ["ResourceRow", "ChangeRow", "LINK_ATTRS", "resource_url", "change_url", "plain_url",
           "links_xml"]

# every attribute an ingest record's link may carry, in the order every renderer publishes
# them (headwater_links_xml in app/db/migrations/0007_link_attributes.sql is the SQL twin)
LINK_ATTRS = ("rel", "href", "type", "length", "hash", "modified", "pri")


@dataclass(frozen=True)
class ResourceRow:
    uri: str
    lastmod: Timestamp | None = None
    fixity: Fixity = NO_FIXITY
    links: Sequence[Mapping[str, Any]] = field(default=())


@dataclass(frozen=True)
class ChangeRow:
    uri: str
    change: str
    datetime: Timestamp
    lastmod: Timestamp | None = None
    fixity: Fixity = NO_FIXITY


def _links(links: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    # the attributes an ingest record may carry, in LINK_ATTRS order
    return [{k: link[k] for k in LINK_ATTRS if link.get(k) is not None} for link in links or ()]


def links_xml(links: Sequence[Mapping[str, Any]] | None) -> str:
    """The `<rs:ln>` elements of a resource's stored links, as a Resource List shows them."""
    return "".join(ln_element(**link) for link in _links(links))


def resource_url(row: ResourceRow) -> str:
    """A Resource List entry: loc, lastmod, `rs:md` (hash, length, type), `rs:ln`s."""
    return url_entry(row.uri, lastmod=row.lastmod, md=row.fixity.md() or None,
                     links=_links(row.links))


def change_url(row: ChangeRow) -> str:
    """A Change List entry: `change` and `datetime` always; lastmod and fixity unless deleted."""
    if row.change == "deleted":
        return url_entry(row.uri, md={"change": row.change, "datetime": row.datetime})
    md = {"change": row.change, "datetime": row.datetime, **row.fixity.md()}
    return url_entry(row.uri, lastmod=row.lastmod, md=md)


def plain_url(uri: str, lastmod: datetime | None) -> str:
    """A sitemaps.org entry for search engines: loc and lastmod only, no `rs:` elements."""
    if lastmod is None:
        return f"<url><loc>{esc(uri)}</loc></url>\n"
    return f"<url><loc>{esc(uri)}</loc><lastmod>{w3c(lastmod)}</lastmod></url>\n"
