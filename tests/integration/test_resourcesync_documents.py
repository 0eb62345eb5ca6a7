"""Every document type: schema-valid, parsed by the `resync` library's own parsers, and served
with the HTTP behaviour destinations rely on (HEAD, validators, 304, gzip, problems)."""

from __future__ import annotations

import gzip
import re

import pytest
from resync import (
    CapabilityList,
    ChangeList,
    ResourceList,
    SourceDescription,
)

from tests.integration.test_resourcesync_support import (
    NS,
    W3C,
    links,
    locs,
    plain_schema,
    records,
    top_md,
    validate,
)

B = "http://127.0.0.1:8000"


@pytest.fixture
async def loaded(client, auth):
    recs = records(6, collection="vc:a") + records(4, collection="vc:b:c")
    recs[0]["links"] = [{"rel": "describedby", "href": f"{B}/meta/0?x=1&y=2",
                         "type": "application/ld+json"}]
    recs[1]["type"] = "application/vnd.ms-excel"
    assert (await client.post("/ingest", json=recs, headers=auth)).status_code == 200
    upd = [dict(recs[2], md5="f" * 32), dict(recs[3], deleted=True)]
    assert (await client.post("/ingest", json=upd, headers=auth)).status_code == 200
    return recs


async def _get(client, path: str, **headers: str):
    r = await client.get(path, headers={"accept-encoding": "identity", **headers})
    assert r.status_code == 200, (path, r.text)
    assert r.headers["content-type"].startswith("application/xml")
    return r


async def test_source_description_and_capability_list(client, loaded):
    sd = validate((await _get(client, "/.well-known/resourcesync")).content)
    assert top_md(sd) == {"capability": "description"}
    assert links(sd)["describedby"] == f"{B}/oai?verb=Identify"
    assert locs(sd) == [f"{B}/resourcesync/{c}/capabilitylist.xml"
                        for c in ("vc", "vc:a", "vc:b", "vc:b:c")]
    parsed = SourceDescription()
    parsed.parse(str_data=(await _get(client, "/.well-known/resourcesync")).text)
    assert len(parsed) == 4

    cap = validate((await _get(client, "/resourcesync/vc:b/capabilitylist.xml")).content)
    assert links(cap) == {"up": f"{B}/.well-known/resourcesync"}
    caps = {e.findtext("sm:loc", namespaces=NS): e.find("rs:md", NS).get("capability")
            for e in cap.findall("sm:url", NS)}
    assert caps[f"{B}/resourcesync/vc:b/resourcelist.xml"] == "resourcelist"
    assert caps[f"{B}/resourcesync/vc:b/changelist.xml"] == "changelist"
    assert "changelist-archive" not in caps.values()  # no sealed page yet
    parsed_cap = CapabilityList()
    parsed_cap.parse(str_data=(await _get(client, "/resourcesync/vc:b/capabilitylist.xml")).text)
    assert parsed_cap.capability_info("resourcelist").uri.endswith("vc:b/resourcelist.xml")


async def test_resource_list_lists_live_resources_of_the_tree(client, loaded):
    r = await _get(client, "/resourcesync/vc/resourcelist.xml")
    root = validate(r.content)
    md = top_md(root)
    assert md["capability"] == "resourcelist" and re.match(W3C, md["at"])
    assert links(root) == {"up": f"{B}/resourcesync/vc/capabilitylist.xml"}
    live = {rec["uri"] for rec in loaded} - {loaded[3]["uri"]}
    assert sorted(locs(root)) == sorted(live)
    rl = ResourceList()
    rl.parse(str_data=r.text)
    by_uri = {res.uri: res for res in rl}
    assert by_uri[loaded[2]["uri"]].md5 == "f" * 32
    assert by_uri[loaded[0]["uri"]].sha256 == "0" * 64
    assert by_uri[loaded[5]["uri"]].length == 5
    assert by_uri[loaded[0]["uri"]].ln[0]["rel"] == "describedby"
    # `at` is the newest change of the set: the datetime of the last Change List entry
    cl = validate((await _get(client, "/resourcesync/vc/changelist.xml")).content)
    assert md["at"] == cl.findall("sm:url/rs:md", NS)[-1].get("datetime")


async def test_change_list_entries(client, loaded):
    r = await _get(client, "/resourcesync/vc/changelist.xml")
    root = validate(r.content)
    md = top_md(root)
    assert md["capability"] == "changelist" and "until" not in md
    entries = root.findall("sm:url", NS)
    kinds = [e.find("rs:md", NS).get("change") for e in entries]
    assert kinds == ["created"] * 10 + ["updated", "deleted"]
    times = [e.find("rs:md", NS).get("datetime") for e in entries]
    assert times == sorted(times) and all(re.match(W3C, t) for t in times)
    assert md["from"] <= times[0]
    for e, kind in zip(entries, kinds, strict=True):
        has_lastmod = e.find("sm:lastmod", NS) is not None
        assert has_lastmod == (kind != "deleted")
        assert ("hash" in e.find("rs:md", NS).attrib) == (kind != "deleted")
    cl = ChangeList()
    cl.parse(str_data=r.text)
    assert [c.change for c in cl] == kinds


async def test_robots_and_plain_sitemap(client, loaded):
    r = await client.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = [ln.split(": ", 1)[1] for ln in r.text.splitlines() if ln.startswith("Sitemap: ")]
    assert f"{B}/sitemap.xml" in lines
    assert f"{B}/resourcesync/vc:b:c/resourcelist.xml" in lines
    body = (await _get(client, "/sitemap.xml")).content
    plain_schema("sitemap.xsd").validate(body)
    assert b"rs:" not in body and b"openarchives" not in body
    from lxml import etree
    assert len(locs(etree.fromstring(body))) == 9


async def test_conditional_get_head_and_gzip(client, loaded, auth):
    path = "/resourcesync/vc/resourcelist.xml"
    r = await _get(client, path)
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert r.headers["vary"] == "Accept-Encoding"
    again = await _get(client, path)
    assert again.content == r.content and again.headers["etag"] == etag  # unchanged set
    assert (await client.get(path, headers={"if-none-match": etag,
                                            "accept-encoding": "identity"})).status_code == 304
    assert (await client.get(path, headers={"if-modified-since": lm,
                                            "accept-encoding": "identity"})).status_code == 304
    head = await client.head(path, headers={"accept-encoding": "identity"})
    assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""
    zipped = await client.get(path, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] != etag
    assert zipped.content == r.content  # httpx decodes; the bytes underneath are gzip
    # a write to the set changes bytes and validators
    await client.post("/ingest", json=records(1, collection="vc:a", start=50), headers=auth)
    changed = await _get(client, path)
    assert changed.headers["etag"] != etag and changed.content != r.content
    # every document answers HEAD
    for p in ("/.well-known/resourcesync", "/resourcesync/vc/capabilitylist.xml",
              "/resourcesync/vc/changelist.xml", "/resourcesync/vc/changelist/0.xml",
              "/robots.txt", "/sitemap.xml", "/resourcesync/vc/resourcelist/vc:a/0.xml"):
        h = await client.head(p)
        assert h.status_code == 200 and h.headers.get("etag"), p


async def test_unknown_documents_are_problems(client, loaded):
    for p in ("/resourcesync/nope/resourcelist.xml", "/resourcesync/nope/capabilitylist.xml",
              "/resourcesync/vc/changelist/7.xml", "/resourcesync/vc/changelist/x.xml",
              "/resourcesync/vc/resourcelist/other/0.xml",
              "/resourcesync/vc/resourcelist/vc:a/9.xml",
              "/resourcesync/vc/changelist-archive.xml"):
        r = await client.get(p)
        assert r.status_code == 404, p
        assert r.headers["content-type"] == "application/problem+json"


async def test_gzip_body_is_gzip(app, loaded):
    """The transport layer sees real gzip bytes (httpx hides them when decoding)."""
    import httpx
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=B) as raw:
        async with raw.stream("GET", "/resourcesync/vc/changelist.xml",
                              headers={"accept-encoding": "gzip"}) as r:
            data = b"".join([c async for c in r.aiter_raw()])
    assert gzip.decompress(data).startswith(b"<?xml")

