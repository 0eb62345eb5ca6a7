"""The exact text of ResourceSync documents: namespaces, date-times, hashes, escaping, entries.

Pure string building, no I/O: every document in `sitemaps/` (and the notifier's payloads) is
assembled from these pieces so one format holds everywhere (docs/rules.md §5):
UTC with `Z` and microseconds on every date-time, lowercase hex with `md5:`/`sha-1:`/`sha-256:`
tokens, every URI and attribute XML-escaped.

Written by hand rather than with lxml's serializer because a 50,000-entry page is built per
request: joining pre-escaped strings is several times faster than building elements
(docs/benchmarks.md), and the grammar here is small and fixed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SM_NS", "RS_NS", "XML_DECL", "w3c", "esc", "hash_value", "md_element", "ln_element",
    "url_entry", "urlset_open", "URLSET_CLOSE", "sitemapindex_open", "SITEMAPINDEX_CLOSE",
    "sitemap_entry",
]

SM_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
RS_NS = "http://www.openarchives.org/rs/terms/"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
_NS_ATTRS = f'xmlns="{SM_NS}" xmlns:rs="{RS_NS}"'
URLSET_CLOSE = "</urlset>\n"
SITEMAPINDEX_CLOSE = "</sitemapindex>\n"

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})
# What XML 1.0 cannot carry at all: C0 controls but tab, LF and CR; surrogates; U+FFFE, U+FFFF.
# Ingest refuses them; should one reach a renderer anyway it is dropped, never emitted (the
# SQL `headwater_xml_esc` of migration 0010 drops the same ones).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc(value: str) -> str:
    """Escape for element text and double-quoted attributes alike."""
    if _FORBIDDEN.search(value):
        value = _FORBIDDEN.sub("", value)
    return value.translate(_ESCAPES)


def w3c(when: datetime) -> str:
    """`2026-11-26T10:00:00.123456Z`: UTC, upper-case Z, always microseconds."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: every published time is UTC")
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hash_value(
    md5: str | None = None, sha1: str | None = None, sha256: str | None = None
) -> str | None:
    parts = []
    if md5:
        parts.append(f"md5:{md5}")
    if sha1:
        parts.append(f"sha-1:{sha1}")
    if sha256:
        parts.append(f"sha-256:{sha256}")
    return " ".join(parts) or None


def _attrs(attrs: Mapping[str, Any]) -> str:
    out = []
    for name, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = w3c(value)
        out.append(f' {name}="{esc(str(value))}"')
    return "".join(out)


def md_element(**attrs: Any) -> str:
    """`<rs:md …/>` with the given attributes in the given order (None values left out)."""
    return f"<rs:md{_attrs(attrs)}/>"


def ln_element(rel: str, href: str, **attrs: Any) -> str:
    return f"<rs:ln{_attrs({'rel': rel, 'href': href, **attrs})}/>"


def url_entry(
    loc: str,
    *,
    lastmod: datetime | None = None,
    md: Mapping[str, Any] | None = None,
    links: Iterable[Mapping[str, Any]] = (),
) -> str:
    """One `<url>`: `<loc>`, optional `<lastmod>`, optional `<rs:md>`, then `<rs:ln>`s."""
    parts = [f"<url><loc>{esc(loc)}</loc>"]
    if lastmod is not None:
        parts.append(f"<lastmod>{w3c(lastmod)}</lastmod>")
    if md:
        parts.append(f"<rs:md{_attrs(md)}/>")
    for link in links:
        parts.append(ln_element(**link))
    parts.append("</url>\n")
    return "".join(parts)


def _top(md: Mapping[str, Any], links: Sequence[tuple[str, str]]) -> str:
    # links first, as the spec's examples do, then the one mandatory rs:md
    return "".join(ln_element(rel, href) for rel, href in links) + f"<rs:md{_attrs(md)}/>\n"


def urlset_open(md: Mapping[str, Any], links: Sequence[tuple[str, str]] = ()) -> str:
    """Declaration, `<urlset>` with both namespaces, top-level `rs:ln`s and `rs:md`."""
    return f"{XML_DECL}<urlset {_NS_ATTRS}>\n{_top(md, links)}"


def sitemapindex_open(md: Mapping[str, Any], links: Sequence[tuple[str, str]] = ()) -> str:
    return f"{XML_DECL}<sitemapindex {_NS_ATTRS}>\n{_top(md, links)}"


def sitemap_entry(loc: str, *, lastmod: datetime | None = None,
                  md: Mapping[str, Any] | None = None) -> str:
    parts = [f"<sitemap><loc>{esc(loc)}</loc>"]
    if lastmod is not None:
        parts.append(f"<lastmod>{w3c(lastmod)}</lastmod>")
    if md:
        parts.append(f"<rs:md{_attrs(md)}/>")
    parts.append("</sitemap>\n")
    return "".join(parts)
