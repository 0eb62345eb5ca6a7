"""Cheap public requests cost the same at any store size: /sitemap.xml, the first OAI-PMH list
page and the status page read counters the writer maintains (migration 0009), never a scan of
the store per request. Each counter is checked against the truth across creates, updates,
moves and deletes, and each request is shown to be answered from its counter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from app.oai import repository
from app.read.queries import sync_sitemap_prefix
from app.write.changeset import Doc
from app.write.writer import hour_counts, write_batch
from sitemaps.fixity import Fixity
from tests.conftest import PAGE_SIZE

# `settings`: the OAI page size of 3 those tests use, so the lists here have pages
from tests.integration.test_oai_paging import doc_, harvest, settings  # noqa: F401
from tests.integration.test_oai_protocol import ingest, oai

BASE = "http://127.0.0.1:8000"
OPTS = {"page_size": PAGE_SIZE, "seal_after": timedelta(hours=24)}
SM = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


async def _counters(db) -> dict[tuple[int, int], tuple[int, int]]:
    rows = await db.fetch("SELECT collection_id, part, records, local_entries "
                          "FROM resource_parts WHERE records <> 0 OR local_entries <> 0")
    return {(r["collection_id"], r["part"]): (r["records"], r["local_entries"]) for r in rows}


async def _truth(db, prefix: str) -> dict[tuple[int, int], tuple[int, int]]:
    rows = await db.fetch(
        "SELECT collection_id, ord / $1 AS part, count(*) AS n, "
        "count(*) FILTER (WHERE NOT deleted AND starts_with(uri, $2)) AS l "
        "FROM resources GROUP BY 1, 2", PAGE_SIZE, prefix)
    return {(r["collection_id"], r["part"]): (r["n"], r["l"]) for r in rows}


async def test_counters_follow_every_kind_of_write(db):
    prefix = BASE + "/"
    assert await sync_sitemap_prefix(db, prefix, PAGE_SIZE)
    assert not await sync_sitemap_prefix(db, prefix, PAGE_SIZE)  # unchanged: no recount
    local = [f"{BASE}/content/vc:a/{i}" for i in range(5)]
    foreign = [f"https://elsewhere.example/{i}" for i in range(PAGE_SIZE + 5)]
    await write_batch(db, [Doc(uri=u, collection="vc:a") for u in local + foreign], **OPTS)
    assert await _counters(db) == await _truth(db, prefix)
    await write_batch(db, [Doc(uri=local[0], collection="vc:b"),  # moved
                           Doc(uri=local[1], collection="vc:a", deleted=True),
                           Doc(uri=foreign[0], collection="vc:a", deleted=True),
                           Doc(uri=local[2], collection="vc:a",
                               fixity=Fixity(sha256="e" * 64))], **OPTS)
    assert await _counters(db) == await _truth(db, prefix)
    await write_batch(db, [Doc(uri=local[1], collection="vc:a")], **OPTS)  # back again
    assert await _counters(db) == await _truth(db, prefix)
    # another base URL: recounted once, then kept
    assert await sync_sitemap_prefix(db, "https://elsewhere.example/", PAGE_SIZE)
    assert await _counters(db) == await _truth(db, "https://elsewhere.example/")
    await write_batch(db, [Doc(uri="https://elsewhere.example/new", collection="vc:c")], **OPTS)
    assert await _counters(db) == await _truth(db, "https://elsewhere.example/")


async def test_change_hours_follow_the_log(db):
    await write_batch(db, [Doc(uri=f"https://example.org/{i}", collection="h") for i in
                           range(50)], **OPTS)
    await write_batch(db, [Doc(uri="https://example.org/1", collection="h", deleted=True)],
                      **OPTS)
    kept = {r["hour"]: r["changes"] for r in await db.fetch("SELECT * FROM change_hours")}
    truth = {r["h"]: r["n"] for r in await db.fetch(
        "SELECT date_trunc('hour', datetime, 'UTC') AS h, count(*) AS n FROM changes "
        "GROUP BY 1")}
    assert kept == truth and sum(kept.values()) == 51


def test_hour_counts_split_a_batch_at_the_hour():
    tick = timedelta(microseconds=1)
    start = datetime(2026, 1, 1, 10, 59, 59, 999_998, tzinfo=UTC)
    assert hour_counts(start, 5, tick) == [(datetime(2026, 1, 1, 10, tzinfo=UTC), 2),
                                           (datetime(2026, 1, 1, 11, tzinfo=UTC), 3)]
    assert hour_counts(start, 1, tick) == [(datetime(2026, 1, 1, 10, tzinfo=UTC), 1)]
    assert hour_counts(start, 0, tick) == []


async def test_status_page_rate_comes_from_the_hour_counters(client, auth, db):
    await ingest(client, auth, [{"uri": "https://example.org/x", "collection": "s"}])
    await db.execute("UPDATE change_hours SET changes = 4321")
    page = await client.get("/")
    assert page.status_code == 200
    assert "4321 changes" in page.text  # the bar's label: read, not counted from the log


async def test_plain_sitemap_lists_parts_from_the_counters(client, auth, db):
    foreign = [{"uri": f"https://elsewhere.example/{i}", "collection": "sm"}
               for i in range(PAGE_SIZE)]
    local = [{"uri": f"{BASE}/content/sm/{i}", "collection": "sm"} for i in range(3)]
    await ingest(client, auth, foreign)
    await ingest(client, auth, local)  # part 1 of `sm`: the only one with this server's URIs
    r = await client.get("/sitemap.xml")
    assert r.status_code == 200
    locs = [e.text for e in etree.fromstring(r.content).iterfind(".//sm:loc", SM)]
    assert locs == [rec["uri"] for rec in local]
    # the parts come from resource_parts.local_entries: a part the counters say holds none
    # of this server's URIs is not listed, without a look at its rows
    await db.execute("UPDATE resource_parts SET local_entries = 0 WHERE part = 1")
    await db.execute("UPDATE log_head SET position = position + 1")  # a new ETag
    r = await client.get("/sitemap.xml")
    assert etree.fromstring(r.content).find(".//sm:loc", SM) is None


async def test_first_list_page_sizes_the_list_from_the_counters(client, auth, db):
    await ingest(client, auth, [doc_(i) for i in range(8)] +
                 [doc_(i, collection="other") for i in range(8, 12)])
    first = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert first.find(".//{*}resumptionToken").get("completeListSize") == "12"
    in_set = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                       set="collection:vc")
    assert in_set.find(".//{*}resumptionToken").get("completeListSize") == "8"
    await db.execute("UPDATE resource_parts SET records = records + 1000")
    again = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert int(again.find(".//{*}resumptionToken").get("completeListSize")) > 1000


async def test_a_narrowed_list_is_counted_up_to_a_cap(client, auth, monkeypatch):
    await ingest(client, auth, [doc_(i) for i in range(8)])
    monkeypatch.setattr(repository, "COUNT_CAP", 5)
    dated = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2000-01-01"}
    seen, marks = await harvest(client, **dated)
    assert len(seen) == 8 and len(marks) == 3
    assert all(m.get("completeListSize") is None for m in marks)  # optional: left out
    monkeypatch.setattr(repository, "COUNT_CAP", 100)
    seen, marks = await harvest(client, **dated)
    assert [m.get("completeListSize") for m in marks] == ["8"] * 3
