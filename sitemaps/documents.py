"""Whole documents and document heads: Source Description, Capability List, lists, indexes,
archives, the plain search-engine sitemap and robots.txt.

Large documents are a head, a stream of entry fragments and a tail; `stream` joins them into
bytes chunks as they come, so nothing here holds a whole page. Small documents (Capability List,
Source Description entries, indexes) are built from the rows given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sitemaps.format import (
    SITEMAPINDEX_CLOSE,
    SM_NS,
    URLSET_CLOSE,
    XML_DECL,
    esc,
    ln_element,
    md_element,
    sitemap_entry,
    sitemapindex_open,
    url_entry,
    urlset_open,
)

__all__ = [
    "IndexChild", "resourcelist_head", "changelist_head", "index_document", "capability_list",
    "source_description_head", "source_description_entry", "archive_head", "archive_entry",
    "plain_urlset_head", "plain_index", "robots_txt", "stream", "URLSET_CLOSE",
    "SITEMAPINDEX_CLOSE",
]


@dataclass(frozen=True)
class IndexChild:
    """One `<sitemap>` of an index: its URI and the time attributes of its `rs:md`."""

    loc: str
    at: datetime | None = None
    from_: datetime | None = None
    until: datetime | None = None


def _links(up: str | None, index: str | None = None, extra: Sequence[tuple[str, str]] = ()
           ) -> list[tuple[str, str]]:
    links = list(extra)
    if up:
        links.append(("up", up))
    if index:
        links.append(("index", index))
    return links


def resourcelist_head(*, at: datetime, up: str, index: str | None = None,
                      capability: str = "resourcelist") -> str:
    return urlset_open({"capability": capability, "at": at}, _links(up, index))


def changelist_head(*, from_: datetime, until: datetime | None, up: str,
                    index: str | None = None) -> str:
    return urlset_open({"capability": "changelist", "from": from_, "until": until},
                       _links(up, index))


def index_document(capability: str, *, up: str, children: Iterable[IndexChild],
                   at: datetime | None = None, from_: datetime | None = None,
                   until: datetime | None = None) -> Iterator[str]:
    """A `<sitemapindex>` with the same capability as its children (spec §6.1)."""
    yield sitemapindex_open({"capability": capability, "at": at, "from": from_, "until": until},
                            _links(up))
    for child in children:
        md = {"at": child.at, "from": child.from_, "until": child.until}
        yield sitemap_entry(child.loc, md=md if any(md.values()) else None)
    yield SITEMAPINDEX_CLOSE


def capability_list(*, up: str, entries: Iterable[tuple[str, str, Sequence[tuple[str, str]]]]
                    ) -> str:
    """`entries`: (loc, capability, ((rel, href), …)) in the order given."""
    parts = [urlset_open({"capability": "capabilitylist"}, _links(up))]
    for loc, capability, links in entries:
        # rs:ln before rs:md, as the Change Notification spec's Example 7 shows the channel
        parts.append(f"<url><loc>{esc(loc)}</loc>"
                     + "".join(ln_element(rel, href) for rel, href in links)
                     + md_element(capability=capability) + "</url>\n")
    parts.append(URLSET_CLOSE)
    return "".join(parts)


def source_description_head(*, describedby: Sequence[str] = ()) -> str:
    return urlset_open({"capability": "description"}, [("describedby", h) for h in describedby])


def source_description_entry(capability_list_uri: str) -> str:
    return url_entry(capability_list_uri, md={"capability": "capabilitylist"})


def archive_head(capability: str, *, up: str) -> str:
    return urlset_open({"capability": capability}, _links(up))


def archive_entry(loc: str, *, from_: datetime, until: datetime) -> str:
    return url_entry(loc, md={"from": from_, "until": until})


def plain_urlset_head() -> str:
    return f'{XML_DECL}<urlset xmlns="{SM_NS}">\n'


def plain_index(children: Iterable[str]) -> Iterator[str]:
    yield f'{XML_DECL}<sitemapindex xmlns="{SM_NS}">\n'
    for loc in children:
        yield f"<sitemap><loc>{esc(loc)}</loc></sitemap>\n"
    yield SITEMAPINDEX_CLOSE


def robots_txt(sitemaps: Iterable[str]) -> str:
    lines = ["User-agent: *", "Allow: /", ""]
    lines.extend(f"Sitemap: {loc}" for loc in sitemaps)
    return "\n".join(lines) + "\n"


def stream(head: str, chunks: Iterable[str], tail: str) -> Iterator[bytes]:
    """Head, fragments, tail as UTF-8 chunks; one chunk per fragment batch given."""
    yield head.encode()
    for chunk in chunks:
        if chunk:
            yield chunk.encode()
    yield tail.encode()

