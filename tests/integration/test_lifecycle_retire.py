"""Retiring a collection: a `deleted` change for each resource (descendants too, in batches),
its Change Lists and archive still readable, its Capability List listing the Change List (and
archive) but no longer the Resource List or Resource Dump."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree, html

from app.lifecycle.retire import retire
from app.write.writer import seal_stale_pages
from tests.conftest import PAGE_SIZE

pytestmark = pytest.mark.asyncio
BASE = "http://127.0.0.1:8000"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}


def _capabilities(body: bytes) -> dict[str, str]:
    root = etree.fromstring(body)
    return {u.find("rs:md", NS).get("capability"): u.findtext("sm:loc", namespaces=NS)
            for u in root.findall("sm:url", NS)}


async def test_retire_deletes_everything_and_keeps_the_history(client, auth, db, settings):  # type: ignore[no-untyped-def]
    recs = [{"uri": f"https://example.org/{c}/{i}", "collection": c}
            for c, n in (("old:a", 7), ("old:b", 5), ("keep", 3)) for i in range(n)]
    assert (await client.post("/ingest", json=recs, headers=auth)).status_code == 200
    await client.post("/ingest", headers=auth, json=[
        {"uri": "https://example.org/old:a/0", "collection": "old:a", "deleted": True}])
    await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0))
    before = _capabilities((await client.get("/resourcesync/old/capabilitylist.xml")).content)
    assert "resourcelist" in before and "changelist-archive" in before

    r = await client.post("/admin/retire", json={"collection": "old", "reason": "superseded"})
    assert r.status_code == 401
    r = await client.post("/admin/retire", json={"collection": "nope", "reason": "x"},
                          headers=auth)
    assert r.status_code == 404
    r = await client.post("/admin/retire", json={"collection": "../x", "reason": "x"},
                          headers=auth)
    assert r.status_code == 422
    head = await db.fetchval("SELECT position FROM log_head")
    # the function itself, with small batches: several write_batch calls
    report = await retire(db, settings, "old", reason="superseded", token_name="ops", batch=4)
    assert (report.deleted, report.collections) == (11, 3)
    kinds = [r["change"] for r in await db.fetch(
        "SELECT change FROM changes WHERE position > $1 ORDER BY position", head)]
    assert kinds == ["deleted"] * 11
    assert await db.fetchval("SELECT count(*) FROM resources r JOIN collections c "
                             "ON c.id = r.collection_id WHERE c.name LIKE 'old%' "
                             "AND NOT r.deleted") == 0
    assert await db.fetchval("SELECT count(*) FROM resources WHERE NOT deleted") == 3
    # retiring again through the route appends nothing more
    r = await client.post("/admin/retire", json={"collection": "old", "reason": "again"},
                          headers=auth)
    assert r.status_code == 200 and r.json()["deleted"] == 0

    caps = _capabilities((await client.get("/resourcesync/old/capabilitylist.xml")).content)
    assert "resourcelist" not in caps and "resourcedump" not in caps
    assert "changelist" in caps and "changelist-archive" in caps
    for name in ("old:a", "old:b"):
        sub = _capabilities(
            (await client.get(f"/resourcesync/{name}/capabilitylist.xml")).content)
        assert "resourcelist" not in sub and "changelist" in sub
    assert "resourcelist" in _capabilities(
        (await client.get("/resourcesync/keep/capabilitylist.xml")).content)
    # the Change List and its archive stay readable and end with the deletions
    archive = await client.get(caps["changelist-archive"].removeprefix(BASE))
    assert archive.status_code == 200
    index = await client.get(caps["changelist"].removeprefix(BASE))
    assert index.status_code == 200
    page = etree.fromstring(index.content).findall("sm:sitemap/sm:loc", NS)[-1].text
    assert (await client.get(page.removeprefix(BASE))).text.count('change="deleted"') == 11
    status = html.fromstring((await client.get("/")).content)
    assert status.xpath("//tr[@data-collection='old']//em[@class='retired']")
    assert not status.xpath("//tr[@data-collection='keep']//em[@class='retired']")
    empty = await client.get("/resourcesync/old/resourcelist.xml")
    assert empty.status_code == 200 and "<url>" not in empty.text
