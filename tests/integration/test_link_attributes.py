"""rs:ln in ingest records carries the attributes ResourceSync 1.1's own examples use (`pri`,
`hash`, `length`, `modified`; `rel` as the schema's pattern or a URI; a non-HTTP `href` as in
Example 24), and every renderer publishes them with the same bytes: the SQL fragment of the
Resource List, the Python builder (`sitemaps/entries.py`) and the OAI-PMH `rs` view."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from sitemaps.entries import ResourceRow, resource_url
from sitemaps.fixity import Fixity
from tests.integration.test_resourcesync_support import NS, validate

BASE = "http://127.0.0.1:8000"
MIRRORS = [  # Example 24 of the specification, plus a URI relation and every attribute
    {"rel": "duplicate", "pri": 1, "href": "http://mirror1.example.com/res1",
     "modified": "2013-01-03T18:00:00Z"},
    {"rel": "duplicate", "pri": 2, "href": "http://mirror2.example.com/res1",
     "modified": "2013-01-03T19:00:00+01:00"},
    {"rel": "duplicate", "pri": 3, "href": "gsiftp://gridftp.example.com/res1",
     "modified": "2013-01-03T18:00:00Z"},
    {"rel": "http://www.openarchives.org/rs/terms/patch", "href": "http://example.com/res1-diff",
     "type": "application/x-tiff-diff", "hash": "md5:1e0d5cb8ef6ba40c99b14c0237be735e",
     "length": 116},
    {"rel": "via", "href": "http://original.example.com/res1.html",
     "modified": "2013-01-03T07:00:00.5Z", "hash": "md5:1584abdf8ebdc9802ac0c6a7402c03b6",
     "length": 8876, "type": "text/html"},
]
RECORD = {"uri": "http://example.com/res1", "collection": "links", "md5": "1" * 32,
          "length": 8876, "type": "text/html", "links": MIRRORS}


@pytest.fixture
async def ingested(client, auth):
    r = await client.post("/ingest", json=[RECORD], headers=auth)
    assert r.status_code == 200, r.text


def _url_element(body: bytes) -> bytes:
    """The one `<url>…</url>` of a document, as the bytes it was served with."""
    found = re.search(rb"<url>.*?</url>", body, re.S)
    assert found
    return found.group(0)


async def test_every_link_attribute_is_published(client, ingested):
    body = (await client.get("/resourcesync/links/resourcelist.xml")).content
    root = validate(body)  # resourcesync.xsd: pri range, anyURI href and rel, dateTime, length
    lns = [dict(e.attrib) for e in root.findall("sm:url/rs:ln", NS)]
    assert lns == [
        {"rel": "duplicate", "href": "http://mirror1.example.com/res1",
         "modified": "2013-01-03T18:00:00.000000Z", "pri": "1"},
        {"rel": "duplicate", "href": "http://mirror2.example.com/res1",
         "modified": "2013-01-03T18:00:00.000000Z", "pri": "2"},
        {"rel": "duplicate", "href": "gsiftp://gridftp.example.com/res1",
         "modified": "2013-01-03T18:00:00.000000Z", "pri": "3"},
        {"rel": "http://www.openarchives.org/rs/terms/patch",
         "href": "http://example.com/res1-diff", "type": "application/x-tiff-diff",
         "length": "116", "hash": "md5:1e0d5cb8ef6ba40c99b14c0237be735e"},
        {"rel": "via", "href": "http://original.example.com/res1.html", "type": "text/html",
         "length": "8876", "hash": "md5:1584abdf8ebdc9802ac0c6a7402c03b6",
         "modified": "2013-01-03T07:00:00.500000Z"},
    ]


async def test_sql_python_and_oai_render_the_same_links(client, ingested, db):
    row = await db.fetchrow("SELECT * FROM resources WHERE uri = $1", RECORD["uri"])
    fixity = Fixity(row["length"], row["type"], row["md5"], row["sha1"], row["sha256"])
    python = resource_url(ResourceRow(row["uri"], row["lastmod"], fixity, row["links"]))
    assert row["url_xml"] == python  # the fragment PostgreSQL rendered at write time
    listed = (await client.get("/resourcesync/links/resourcelist.xml")).content
    assert _url_element(listed) == python.rstrip("\n").encode()

    r = await client.get("/oai", params={"verb": "GetRecord", "metadataPrefix": "rs",
                                         "identifier": f"oai:headwater.local:{row['id']}"})
    oai_links = re.findall(rb"<rs:ln [^>]*/>", r.content)
    assert oai_links == re.findall(rb"<rs:ln [^>]*/>", python.encode())
    assert len(oai_links) == len(MIRRORS)


@pytest.mark.parametrize(("link", "field"), [
    ({"rel": "Duplicate", "href": "http://m.example/x"}, "rel"),      # not the rel pattern
    ({"rel": "du plicate", "href": "http://m.example/x"}, "rel"),
    ({"rel": "duplicate", "href": "mirror/x"}, "href"),                # not an absolute URI
    ({"rel": "duplicate", "href": "http://m.example/x", "pri": 0}, "pri"),
    ({"rel": "duplicate", "href": "http://m.example/x", "pri": 1_000_000}, "pri"),
    ({"rel": "duplicate", "href": "http://m.example/x", "length": -1}, "length"),
    ({"rel": "duplicate", "href": "http://m.example/x", "hash": "1584abdf"}, "hash"),
    ({"rel": "duplicate", "href": "http://m.example/x", "modified": "2013-01-03"}, "modified"),
    ({"rel": "duplicate", "href": "http://m.example/x", "encoding": "gzip"}, "encoding"),
])
async def test_bad_link_attributes_are_refused(client, auth, db, link, field):
    record = {**RECORD, "links": [link]}
    r = await client.post("/ingest", json=[record], headers=auth)
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == [f"/0/links/0/{field}"]
    assert await db.fetchval("SELECT count(*) FROM resources") == 0


def test_modified_is_stored_as_published():
    from app.write.records import Link

    link = Link.model_validate({"rel": "memento", "href": "http://a.example/",
                                "modified": datetime(2013, 1, 3, 7, tzinfo=UTC).isoformat()})
    assert link.model_dump(exclude_none=True)["modified"] == "2013-01-03T07:00:00.000000Z"


async def test_the_reference_client_reads_every_link_attribute(client, ingested):
    """The `resync` client parses the Resource List with these links (it refuses a `pri`
    outside 1–999999 and a link without rel or href)."""
    from resync.resource_list import ResourceList

    body = (await client.get("/resourcesync/links/resourcelist.xml")).text
    parsed = ResourceList()
    parsed.parse(str_data=body)
    [resource] = list(parsed.resources)
    assert [(ln["rel"], ln["href"], ln.get("pri")) for ln in resource.ln] == [
        (m["rel"], m["href"], m.get("pri")) for m in MIRRORS]
