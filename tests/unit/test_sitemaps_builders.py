from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from sitemaps import documents as docs
from sitemaps import paging
from sitemaps.entries import ChangeRow, ResourceRow, change_url, plain_url, resource_url
from sitemaps.fixity import Fixity
from sitemaps.paging import PartStats

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9", "rs": "http://www.openarchives.org/rs/terms/"}
T = datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def test_resource_entry_carries_fixity_and_links_in_order():
    row = ResourceRow("http://e.org/a?x=1&y=<2>", T,
                      Fixity(7, "text/html", md5="a" * 32, sha256="b" * 64),
                      links=[{"href": "http://e.org/m", "rel": "describedby"}])
    assert resource_url(row) == (
        "<url><loc>http://e.org/a?x=1&amp;y=&lt;2&gt;</loc>"
        "<lastmod>2026-01-02T03:04:05.000600Z</lastmod>"
        f'<rs:md hash="md5:{"a" * 32} sha-256:{"b" * 64}" length="7" type="text/html"/>'
        '<rs:ln rel="describedby" href="http://e.org/m"/></url>\n')


def test_resource_entry_without_fixity_has_no_md():
    assert resource_url(ResourceRow("http://e.org/é", T)) == (
        "<url><loc>http://e.org/é</loc><lastmod>2026-01-02T03:04:05.000600Z</lastmod></url>\n")


def test_change_entries():
    created = change_url(ChangeRow("http://e.org/a", "created", T, lastmod=T,
                                   fixity=Fixity(0, md5="c" * 32)))
    assert created == ("<url><loc>http://e.org/a</loc><lastmod>2026-01-02T03:04:05.000600Z"
                       '</lastmod><rs:md change="created" datetime="2026-01-02T03:04:05.000600Z"'
                       f' hash="md5:{"c" * 32}" length="0"/></url>\n')
    deleted = change_url(ChangeRow("http://e.org/a", "deleted", T, lastmod=T,
                                   fixity=Fixity(md5="c" * 32)))
    assert deleted == ('<url><loc>http://e.org/a</loc><rs:md change="deleted" '
                       'datetime="2026-01-02T03:04:05.000600Z"/></url>\n')


def test_plain_entry_has_no_rs_elements():
    doc = docs.plain_urlset_head() + plain_url("http://e.org/a&b", T) + docs.URLSET_CLOSE
    root = etree.fromstring(doc.encode())
    assert root.nsmap == {None: NS["sm"]}
    assert root.findtext("sm:url/sm:loc", namespaces=NS) == "http://e.org/a&b"


def test_index_document_times_per_child():
    text = "".join(docs.index_document(
        "changelist", up="http://e.org/cap", from_=T,
        children=[docs.IndexChild("http://e.org/0.xml", from_=T, until=T),
                  docs.IndexChild("http://e.org/1.xml", from_=T)]))
    root = etree.fromstring(text.encode())
    mds = root.findall("sm:sitemap/rs:md", namespaces=NS)
    assert [m.get("until") for m in mds] == ["2026-01-02T03:04:05.000600Z", None]
    assert root.find("rs:md", namespaces=NS).get("capability") == "changelist"
    assert root.find("rs:ln", namespaces=NS).get("rel") == "up"


def test_stream_yields_bytes_chunks_as_given():
    chunks = list(docs.stream("<a>", iter(["x", "", "y"]), "</a>"))
    assert chunks == [b"<a>", b"x", b"y", b"</a>"]


def test_part_names_round_trip_and_refuse_junk():
    assert paging.parse_part_name("12.xml") == (12, None)
    assert paging.parse_part_name("3-1.xml") == (3, 1)
    for bad in ("01.xml", "-1.xml", "a.xml", "1.xml.gz", "1-.xml", "../1.xml"):
        assert paging.parse_part_name(bad) is None
    assert paging.part_name(3, 1) == "3-1.xml"


def test_plan_parts_skips_empty_and_cuts_oversized_parts_by_bytes():
    stats = [PartStats("a", 0, 10, 100), PartStats("a", 1, 0, 0), PartStats("a:b", 0, 5, 250)]
    refs = paging.plan_parts(stats, budget=100)
    assert [(r.collection, r.part, r.sub) for r in refs] == [
        ("a", 0, None), ("a:b", 0, 0), ("a:b", 0, 1), ("a:b", 0, 2)]
    assert paging.fits_one_page(stats, 15, budget=350)
    assert not paging.fits_one_page(stats, 14, budget=350)
    assert not paging.fits_one_page(stats, 15, budget=349)


def test_change_page_arithmetic():
    n = 1000
    assert paging.change_pages(0, n) == 0
    assert paging.change_pages(1, n) == 1
    assert paging.change_pages(1000, n) == 1 and paging.is_sealed(0, 1000, n)
    assert paging.change_pages(1001, n) == 2 and not paging.is_sealed(1, 1001, n)
    assert paging.sealed_pages(3500, n) == 3


def test_top_level_changelist_is_the_index_once_page_zero_seals():
    n = 1000
    assert not paging.changelist_is_index(0, n) and not paging.changelist_is_index(999, n)
    # full, or moved to the boundary by age: one sealed page is already served as an index
    assert paging.changelist_is_index(1000, n) and paging.changelist_is_index(1001, n)


def test_sitemaps_package_does_no_io():
    """import-linter's contract (pyproject.toml): sitemaps/ imports no driver, HTTP or app."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sitemaps is pure" in result.stdout


def test_capability_list_channel_entry_is_shaped_as_example_7():
    from sitemaps.documents import capability_list

    doc = capability_list(up="https://e.org/.well-known/resourcesync", entries=[
        ("https://e.org/rs/c/notifications.xml", "change-notification",
         (("hub", "https://hub.example.org/"),)),
    ])
    assert ('<url><loc>https://e.org/rs/c/notifications.xml</loc>'
            '<rs:ln rel="hub" href="https://hub.example.org/"/>'
            '<rs:md capability="change-notification"/></url>') in doc
