from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from sitemaps.format import (
    URLSET_CLOSE,
    esc,
    hash_value,
    url_entry,
    urlset_open,
    w3c,
)


def test_w3c_is_utc_with_microseconds():
    when = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert w3c(when) == "2026-01-02T03:04:05.000000Z"
    with pytest.raises(ValueError):
        w3c(datetime(2026, 1, 1))


def test_hash_tokens():
    assert hash_value("a" * 32, None, "b" * 64) == f"md5:{'a' * 32} sha-256:{'b' * 64}"
    assert hash_value() is None


def test_escaping_keeps_documents_well_formed():
    loc = "https://e.org/?a=1&b=<2>&c=\"'"
    doc = (urlset_open({"capability": "resourcelist", "at": datetime(2026, 1, 1, tzinfo=UTC)},
                       [("up", "https://e.org/cap?x=1&y=2")])
           + url_entry(loc, lastmod=datetime(2026, 1, 1, tzinfo=UTC),
                       md={"hash": hash_value("a" * 32), "length": 3, "type": "text/html"},
                       links=[{"rel": "describedby", "href": "https://e.org/m&d"}])
           + URLSET_CLOSE)
    root = etree.fromstring(doc.encode())
    ns = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    assert root.findtext("sm:url/sm:loc", namespaces=ns) == loc
    assert esc("é&") == "é&amp;"


def test_escaping_drops_characters_xml_forbids():
    value = "a\x00b\x01c\x1fd\ud800e\udfffF\ufffeg\uffffh\ti\nj\rk\ufffdl&"
    assert esc(value) == "abcdeFgh\ti\nj\rk\ufffdl&amp;"
    etree.fromstring(f"<x a=\"{esc(value)}\">{esc(value)}</x>".encode())
