"""Paging at a small page size (1,000): Resource List Index parts cover every URL exactly
once, sealed Change List pages never change again, the open page grows, archives list the
sealed pages, and oversized parts are cut by bytes."""

from __future__ import annotations

import gzip
import io
from collections import Counter
from datetime import timedelta

from lxml import etree
from resync import ChangeListArchive, ResourceList
from resync.sitemap import Sitemap

from app.write.writer import seal_stale_pages
from sitemaps import paging
from tests.conftest import PAGE_SIZE
from tests.integration.test_resourcesync_support import (
    NS,
    links,
    locs,
    plain_schema,
    records,
    top_md,
    validate,
)

B = "http://127.0.0.1:8000"


async def _ingest(client, auth, recs):
    for i in range(0, len(recs), 5000):
        r = await client.post("/ingest", json=recs[i:i + 5000], headers=auth)
        assert r.status_code == 200, r.text


async def _xml(client, url: str, **headers: str):
    r = await client.get(url.removeprefix(B), headers={"accept-encoding": "identity", **headers})
    assert r.status_code == 200, (url, r.text)
    return r


async def test_resource_list_index_parts_cover_every_url_once(client, auth):
    recs = records(2000, collection="p:a") + records(1500, collection="p:b")
    await _ingest(client, auth, recs)
    index = await _xml(client, f"{B}/resourcesync/p/resourcelist.xml")
    root = validate(index.content)
    assert root.tag == f"{{{NS['sm']}}}sitemapindex"
    assert top_md(root)["capability"] == "resourcelist"
    sm = Sitemap()
    parsed = sm.parse_xml(io.BytesIO(index.content))
    assert sm.parsed_index is True
    part_urls = locs(root)
    # each part URL carries the index's log position (docs/rules.md §1.8)
    assert part_urls == [f"{B}/resourcesync/p/resourcelist/p:{c}/{k}.xml?at=3500"
                         for c, k in (("a", 0), ("a", 1), ("b", 0), ("b", 1))]
    assert sorted(parsed.uris()) == sorted(part_urls)
    seen: Counter[str] = Counter()
    for url in part_urls:
        r = await _xml(client, url)
        part = validate(r.content)
        assert links(part) == {"up": f"{B}/resourcesync/p/capabilitylist.xml",
                               "index": f"{B}/resourcesync/p/resourcelist.xml"}
        assert top_md(part)["at"] == top_md(root)["at"]
        rl = ResourceList()
        rl.parse(str_data=r.text)
        assert len(rl) <= PAGE_SIZE
        seen.update(res.uri for res in rl)
    assert set(seen) == {rec["uri"] for rec in recs}
    assert max(seen.values()) == 1
    # the plain sitemap: sitemaps.org only, an index above a page, this server's URIs only
    await _ingest(client, auth, records(5, collection="elsewhere", base="https://other.org"))
    plain = (await _xml(client, f"{B}/sitemap.xml")).content
    plain_schema("siteindex.xsd").validate(plain)
    plain_seen: Counter[str] = Counter()
    for url in locs(etree.fromstring(plain)):
        body = (await _xml(client, url)).content
        plain_schema("sitemap.xsd").validate(body)
        assert b"rs:" not in body
        plain_seen.update(locs(etree.fromstring(body)))
    assert set(plain_seen) == {rec["uri"] for rec in recs} and max(plain_seen.values()) == 1
    # a child's own index lists its own parts under its own URL
    leaf = validate((await _xml(client, f"{B}/resourcesync/p:b/resourcelist.xml")).content)
    assert locs(leaf) == [f"{B}/resourcesync/p:b/resourcelist/p:b/{k}.xml?at=3500"
                          for k in (0, 1)]


async def test_change_list_pages_seal_and_the_open_page_grows(client, auth, settings):
    recs = records(3500, collection="c:x")
    await _ingest(client, auth, recs)
    index_url = f"{B}/resourcesync/c/changelist.xml"
    root = validate((await _xml(client, index_url)).content)
    assert root.tag == f"{{{NS['sm']}}}sitemapindex"
    children = root.findall("sm:sitemap", NS)
    pages = [c.findtext("sm:loc", namespaces=NS) for c in children]
    # sealed pages keep one URL; the open page's carries the index's log position
    assert pages == [f"{B}/resourcesync/c/changelist/{k}.xml" for k in range(3)] + [
        f"{B}/resourcesync/c/changelist/3.xml?at=3500"]
    mds = [c.find("rs:md", NS).attrib for c in children]
    assert [("until" in m) for m in mds] == [True, True, True, False]
    assert top_md(root)["from"] == mds[0]["from"]
    for k in range(3):
        assert mds[k]["until"] == mds[k + 1]["from"]  # contiguous

    sealed, counts = {}, []
    for k, url in enumerate(pages):
        r = await _xml(client, url)
        page = validate(r.content)
        md = top_md(page)
        assert links(page)["index"] == index_url
        entries = page.findall("sm:url", NS)
        counts.append(len(entries))
        times = [e.find("rs:md", NS).get("datetime") for e in entries]
        assert md["from"] <= times[0] and times == sorted(times)
        if k < 3:
            assert md["until"] == times[-1] == mds[k]["until"]
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            sealed[url] = (r.content, r.headers["etag"])
            z = await client.get(url.removeprefix(B), headers={"accept-encoding": "gzip"})
            assert z.headers["content-encoding"] == "gzip" and z.content == r.content
            h = await client.head(url.removeprefix(B), headers={"accept-encoding": "identity"})
            assert h.status_code == 200 and h.content == b""
            assert h.headers["etag"] == r.headers["etag"]
            assert h.headers["content-length"] == str(len(r.content))
        else:
            assert "until" not in md and r.headers["cache-control"] == "no-cache"
    assert counts == [1000, 1000, 1000, 500]
    # rendered once: the sealed pages now live in the cache folder with their gzip copies
    cached = sorted(p.name for p in (settings.data_dir / "cache").rglob("*.xml*"))
    assert len([n for n in cached if n.endswith(".xml")]) == 3
    assert len([n for n in cached if n.endswith(".xml.gz")]) == 3
    for f in (settings.data_dir / "cache").rglob("*.xml.gz"):
        assert gzip.decompress(f.read_bytes()) in {c for c, _ in sealed.values()}

    # more writes: sealed pages are byte-identical, the open page grows
    await _ingest(client, auth, [dict(r, md5="e" * 32) for r in recs[:200]])
    for url, (content, etag) in sealed.items():
        r = await _xml(client, url)
        assert r.content == content and r.headers["etag"] == etag
        assert (await client.get(url.removeprefix(B), headers={
            "if-none-match": etag, "accept-encoding": "identity"})).status_code == 304
    grown = validate((await _xml(client, pages[3])).content)
    assert len(grown.findall("sm:url", NS)) == 700

    # every change exactly once across the pages
    seen: Counter[tuple[str, str]] = Counter()
    for url in pages:
        for e in validate((await _xml(client, url)).content).findall("sm:url", NS):
            seen[(e.findtext("sm:loc", namespaces=NS), e.find("rs:md", NS).get("datetime"))] += 1
    assert sum(seen.values()) == 3700 and max(seen.values()) == 1

    # the archive lists the sealed pages, and the Capability List advertises it
    archive = await _xml(client, f"{B}/resourcesync/c/changelist-archive.xml")
    aroot = validate(archive.content)
    assert top_md(aroot) == {"capability": "changelist-archive"}
    assert locs(aroot) == pages[:3]
    assert [e.find("rs:md", NS).get("until") for e in aroot.findall("sm:url", NS)] == \
        [m["until"] for m in mds[:3]]
    parsed = ChangeListArchive()
    parsed.parse(str_data=archive.text)
    assert len(parsed) == 3
    cap = validate((await _xml(client, f"{B}/resourcesync/c/capabilitylist.xml")).content)
    assert f"{B}/resourcesync/c/changelist-archive.xml" in locs(cap)


async def test_quiet_pages_seal_by_age(client, auth, db):
    """A quiet collection's page seals by age; the top-level changelist.xml never carries
    `until` (ResourceSync 1.1 §12.1): it becomes the index, and the sealed page keeps its URL."""
    await _ingest(client, auth, records(3, collection="q"))
    one = validate((await _xml(client, f"{B}/resourcesync/q/changelist.xml")).content)
    assert one.tag == f"{{{NS['sm']}}}urlset" and "until" not in top_md(one)
    assert "index" not in links(one)
    assert await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0)) == ["q"]
    closed = validate((await _xml(client, f"{B}/resourcesync/q/changelist.xml")).content)
    assert closed.tag == f"{{{NS['sm']}}}sitemapindex" and "until" not in top_md(closed)
    [child] = closed.findall("sm:sitemap", NS)
    assert child.findtext("sm:loc", namespaces=NS) == f"{B}/resourcesync/q/changelist/0.xml"
    page0 = await _xml(client, f"{B}/resourcesync/q/changelist/0.xml")
    sealed = validate(page0.content)
    assert top_md(sealed)["until"] == child.find("rs:md", NS).get("until") \
        == sealed.findall("sm:url/rs:md", NS)[-1].get("datetime")
    assert page0.headers["cache-control"] == "public, max-age=31536000, immutable"
    await _ingest(client, auth, records(2, collection="q", start=10))
    index = validate((await _xml(client, f"{B}/resourcesync/q/changelist.xml")).content)
    assert "until" not in top_md(index)
    mds = [c.find("rs:md", NS).attrib for c in index.findall("sm:sitemap", NS)]
    assert len(mds) == 2 and mds[0]["until"] == mds[1]["from"] and "until" not in mds[1]
    assert (await _xml(client, f"{B}/resourcesync/q/changelist/0.xml")).content == page0.content
    page1 = validate((await _xml(client, f"{B}/resourcesync/q/changelist/1.xml")).content)
    assert len(page1.findall("sm:url", NS)) == 2


async def test_a_full_single_page_is_served_as_an_index(client, auth):
    """A first page sealed by size, with nothing after it: still no `until` at the top."""
    await _ingest(client, auth, records(PAGE_SIZE, collection="full"))
    top = validate((await _xml(client, f"{B}/resourcesync/full/changelist.xml")).content)
    assert top.tag == f"{{{NS['sm']}}}sitemapindex" and "until" not in top_md(top)
    assert locs(top) == [f"{B}/resourcesync/full/changelist/0.xml"]
    assert "until" in top.find("sm:sitemap/rs:md", NS).attrib


async def test_oversized_parts_are_cut_by_bytes(client, auth, monkeypatch):
    long = "x" * 1900
    recs = [{"uri": f"{B}/long/{i}/{long}", "collection": "big", "length": i}
            for i in range(120)]
    await _ingest(client, auth, recs)
    monkeypatch.setattr(paging, "BYTE_BUDGET", 50_000)  # ~25 entries per sub-part
    root = validate((await _xml(client, f"{B}/resourcesync/big/resourcelist.xml")).content)
    part_urls = locs(root)
    assert len(part_urls) == 5
    assert part_urls[0] == f"{B}/resourcesync/big/resourcelist/big/0-0.xml?at=120"
    seen: Counter[str] = Counter()
    for url in part_urls:
        body = (await _xml(client, url)).content
        part = validate(body)
        entries = locs(part)
        seen.update(entries)
        assert len(body) < 50_000 + 4_000  # budget + head + one entry
    assert set(seen) == {r["uri"] for r in recs} and max(seen.values()) == 1
    assert (await client.get("/resourcesync/big/resourcelist/big/0-5.xml")).status_code == 404
