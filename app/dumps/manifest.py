"""The XML of dumps: Resource Dump (and its index), Change Dump (and its index), and the two
package manifests. Pure string building on `sitemaps.format`, no I/O.

What a manifest says about a file is measured from the bytes packed (length) or true by
construction (sha-256: the content store's key), so it can say nothing false about them.
(md5 is left out: computing it would cost more than the rest of a build together.)
A dump is offered only when it holds every resource (Resource Dump) or the bytes of every change
(Change Dump) it covers (docs/dumps.md); the dump documents carry a comment saying so for the
human reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sitemaps.fixity import NO_FIXITY, Fixity
from sitemaps.format import (
    SITEMAPINDEX_CLOSE,
    URLSET_CLOSE,
    hash_value,
    sitemap_entry,
    sitemapindex_open,
    url_entry,
    urlset_open,
)

# a field named `datetime` (the spec's attribute) needs another name for its type
Timestamp = datetime

__all__ = [
    "ZIP", "EXTERNAL_NOTE", "FileEntry", "ChangeEntry", "PackageEntry",
    "resourcedump_manifest_head", "changedump_manifest_head", "resource_manifest_entry",
    "change_manifest_entry", "resourcedump_head", "changedump_head", "package_entry",
    "dump_index", "URLSET_CLOSE",
]

ZIP = "application/zip"
EXTERNAL_NOTE = (
    "<!-- The packages hold the bytes of every resource (Resource Dump) or change (Change "
    "Dump) they cover. A collection holding resources hosted elsewhere, whose bytes this "
    "server does not have, is offered no dump. -->\n"
)


@dataclass(frozen=True)
class FileEntry:
    """One file of a Resource Dump package."""

    loc: str
    lastmod: Timestamp | None
    path: str
    fixity: Fixity


@dataclass(frozen=True)
class ChangeEntry:
    """One change of a Change Dump package; `path` (and fixity) only when it has bytes."""

    loc: str
    change: str
    datetime: Timestamp
    lastmod: Timestamp | None = None
    path: str | None = None
    fixity: Fixity = NO_FIXITY


@dataclass(frozen=True)
class PackageEntry:
    """One package as the Resource Dump or Change Dump lists it."""

    loc: str
    manifest: str
    length: int
    sha256: str
    created: Timestamp
    at: Timestamp | None = None
    from_: Timestamp | None = None
    until: Timestamp | None = None


def _up(up: str, index: str | None = None) -> list[tuple[str, str]]:
    links = [("up", up)]
    if index:
        links.append(("index", index))
    return links


def resourcedump_manifest_head(*, at: datetime, up: str) -> str:
    return urlset_open({"capability": "resourcedump-manifest", "at": at}, _up(up))


def changedump_manifest_head(*, from_: datetime, until: datetime, up: str) -> str:
    return urlset_open(
        {"capability": "changedump-manifest", "from": from_, "until": until}, _up(up))


def resource_manifest_entry(e: FileEntry) -> str:
    return url_entry(e.loc, lastmod=e.lastmod, md={**e.fixity.md(), "path": e.path})


def change_manifest_entry(e: ChangeEntry) -> str:
    if e.path is None:
        # a deletion (no bytes): change and datetime only, as the spec's examples show
        return url_entry(e.loc, md={"change": e.change, "datetime": e.datetime})
    return url_entry(e.loc, lastmod=e.lastmod, md={
        "change": e.change, "datetime": e.datetime, **e.fixity.md(), "path": e.path})


def resourcedump_head(*, at: datetime, completed: datetime | None, up: str,
                      index: str | None = None) -> str:
    return urlset_open({"capability": "resourcedump", "at": at, "completed": completed},
                       _up(up, index)) + EXTERNAL_NOTE


def changedump_head(*, from_: datetime, up: str, index: str | None = None) -> str:
    # the Change Dump grows as pages seal: it is open, so it has no `until`
    return urlset_open({"capability": "changedump", "from": from_}, _up(up, index)) \
        + EXTERNAL_NOTE


def package_entry(p: PackageEntry) -> str:
    return url_entry(p.loc, lastmod=p.created, md={
        "type": ZIP, "length": p.length, "at": p.at, "completed": p.created if p.at else None,
        "from": p.from_, "until": p.until, "hash": hash_value(sha256=p.sha256),
    }, links=[{"rel": "contents", "href": p.manifest, "type": "application/xml"}])


def dump_index(capability: str, *, up: str, children: Sequence[str],
               at: datetime | None = None, from_: datetime | None = None) -> str:
    """A Resource Dump Index (`at`) or Change Dump Index (`from`) over its parts."""
    md = {"capability": capability, "at": at, "from": from_}
    return (sitemapindex_open(md, _up(up)) + "".join(sitemap_entry(c) for c in children)
            + SITEMAPINDEX_CLOSE)
