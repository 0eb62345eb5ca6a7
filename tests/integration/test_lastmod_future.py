"""A lastmod ahead of the server's clock (docs/rules.md §3): beyond HEADWATER_LASTMOD_SKEW it is
refused with 422 naming the field; within it, it is published capped at its change's
datetime, so a destination that keeps the newest lastmod it saw never skips a later change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from tests.integration.test_resourcesync_support import NS


def rec(name: str, **extra):
    return {"uri": f"https://example.org/{name}", "collection": "t", **extra}


async def test_a_lastmod_beyond_the_skew_is_refused(client, auth, db):
    ahead = (datetime.now(UTC) + timedelta(hours=12)).isoformat()
    r = await client.post("/ingest", json=[rec("a"), rec("b", lastmod=ahead)], headers=auth)
    assert r.status_code == 422
    [err] = r.json()["errors"]
    assert err["pointer"] == "/1/lastmod" and "HEADWATER_LASTMOD_SKEW" in err["detail"]
    assert await db.fetchval("SELECT count(*) FROM changes") == 0


async def test_a_lastmod_within_the_skew_is_capped_at_its_change(client, auth, db):
    ahead = datetime.now(UTC) + timedelta(seconds=120)
    r = await client.post("/ingest", json=[rec("a", lastmod=ahead.isoformat())], headers=auth)
    assert r.status_code == 200, r.text
    change = await db.fetchrow("SELECT datetime, lastmod FROM changes")
    assert change["lastmod"] == change["datetime"] < ahead
    assert await db.fetchval("SELECT lastmod FROM resources") == change["datetime"]
    page = etree.fromstring((await client.get("/resourcesync/t/changelist.xml")).content)
    [url] = page.findall("sm:url", NS)
    assert url.findtext("sm:lastmod", namespaces=NS) == url.find("rs:md", NS).get("datetime")
    # a past lastmod is published as given
    past = datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)
    await client.post("/ingest", json=[rec("b", lastmod=past.isoformat())], headers=auth)
    assert await db.fetchval("SELECT lastmod FROM resources WHERE uri LIKE '%/b'") == past
