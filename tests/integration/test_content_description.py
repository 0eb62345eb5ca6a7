"""Bytes stored here belong to their URI (docs/rules.md §3): describing them keeps them, a record
that contradicts them is refused, a new upload keeps the description, and an upload may carry
its description at once (`Headwater-Description`)."""

from __future__ import annotations

import hashlib

import orjson

BODY = b"stored bytes\n" * 10
URI = "http://127.0.0.1:8000/content/demo/x.txt"
ROW = ("SELECT content_key, length, md5, sha256, type, metadata, links, oai_identifier "
       "FROM resources WHERE uri = $1")


async def put(client, auth, body=BODY, **headers):
    r = await client.put("/content/demo/x.txt", content=body,
                         headers={**auth, "Content-Type": "text/plain", **headers})
    assert r.status_code in (200, 201), r.text
    return r


async def ingest(client, auth, recs):
    return await client.post("/ingest", json=recs, headers=auth)


async def test_describing_uploaded_bytes_keeps_them(client, auth, db):
    await put(client, auth)
    r = await ingest(client, auth, [{"uri": URI, "collection": "demo",
                                     "metadata": {"title": "Described"}}])
    assert r.status_code == 200 and r.json()["changed"] == 1, r.text
    g = await client.get("/content/demo/x.txt")
    assert g.status_code == 200 and g.content == BODY
    row = await db.fetchrow(ROW, URI)
    assert row["content_key"] == row["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert row["length"] == len(BODY) and row["md5"] == hashlib.md5(BODY).hexdigest()
    assert row["type"] == "text/plain"
    assert row["metadata"] == {"title": ["Described"]}
    # the update's Change List entry still carries the bytes' fixity
    page = (await client.get("/resourcesync/demo/changelist.xml")).text
    assert page.count(f"md5:{hashlib.md5(BODY).hexdigest()}") == 2
    # repeating the description changes nothing; agreeing fixity is accepted
    again = await ingest(client, auth, [{"uri": URI, "collection": "demo",
                                         "metadata": {"title": "Described"},
                                         "length": len(BODY),
                                         "md5": hashlib.md5(BODY).hexdigest().upper()}])
    assert again.json() == {"received": 1, "changed": 0, "unchanged": 1}


async def test_a_record_contradicting_stored_bytes_is_refused(client, auth, db):
    await put(client, auth)
    before = await db.fetchval("SELECT count(*) FROM changes")
    r = await ingest(client, auth, [
        {"uri": "https://example.org/other", "collection": "demo"},
        {"uri": URI, "collection": "demo", "length": 1, "sha256": "0" * 64},
    ])
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in r.json()["errors"]] == ["/1/length", "/1/sha256"]
    assert await db.fetchval("SELECT count(*) FROM changes") == before  # nothing written
    assert (await client.get("/content/demo/x.txt")).content == BODY


async def test_a_deleting_record_still_deletes(client, auth):
    await put(client, auth)
    r = await ingest(client, auth, [{"uri": URI, "collection": "demo", "deleted": True}])
    assert r.status_code == 200
    assert (await client.get("/content/demo/x.txt")).status_code == 410


async def test_a_new_upload_keeps_the_description(client, auth, db):
    await put(client, auth)
    links = [{"rel": "license", "href": "https://example.org/licence"}]
    r = await ingest(client, auth, [{"uri": URI, "collection": "demo", "links": links,
                                     "metadata": {"title": "T"},
                                     "oai_identifier": "oai:legacy.example.org:7"}])
    assert r.status_code == 200, r.text
    await put(client, auth, body=b"version two\n")
    row = await db.fetchrow(ROW, URI)
    assert row["sha256"] == hashlib.sha256(b"version two\n").hexdigest()
    assert row["metadata"] == {"title": ["T"]}
    assert row["links"] == links
    assert row["oai_identifier"] == "oai:legacy.example.org:7"
    oai = await client.get("/oai", params={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                          "identifier": "oai:legacy.example.org:7"})
    assert "<dc:title>T</dc:title>" in oai.text and "<error" not in oai.text


async def test_an_upload_carries_its_description(client, auth, db):
    desc = {"metadata": {"title": "Ünïcode", "creator": ["A", "B"]},
            "links": [{"rel": "describedby", "href": "https://example.org/x.xml"}],
            "oai_identifier": "oai:legacy.example.org:8"}
    # raw UTF-8 in the header value, as many clients send it
    await put(client, auth, **{"Headwater-Description": orjson.dumps(desc)})
    row = await db.fetchrow(ROW, URI)
    assert row["metadata"] == {"title": ["Ünïcode"], "creator": ["A", "B"]}
    assert row["links"] == desc["links"]
    assert row["oai_identifier"] == "oai:legacy.example.org:8"
    # a key given as null clears it; keys left out are kept
    await put(client, auth, body=b"v2", **{"Headwater-Description": '{"metadata": null}'})
    row = await db.fetchrow(ROW, URI)
    assert row["metadata"] is None and row["oai_identifier"] == "oai:legacy.example.org:8"
    assert row["links"] == desc["links"]


async def test_a_bad_description_header_is_refused_before_the_body(client, auth, db,
                                                                   data_dir):
    r = await client.put("/content/demo/y.txt", content=BODY, headers={
        **auth, "Headwater-Description": '{"metadata": {"titel": "typo"}, "md5": "x"}'})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in r.json()["errors"]] == ["/metadata/titel", "/md5"]
    assert await db.fetchval("SELECT count(*) FROM resources") == 0
    assert not list((data_dir / "content").glob("??/??/*"))
    bad_json = await client.put("/content/demo/y.txt", content=BODY,
                                headers={**auth, "Headwater-Description": "{"})
    assert bad_json.status_code == 422


async def test_an_upload_taking_a_used_oai_identifier_is_refused(client, auth):
    r = await ingest(client, auth, [{"uri": "https://example.org/a", "collection": "demo",
                                     "oai_identifier": "oai:legacy.example.org:9"}])
    assert r.status_code == 200
    r = await client.put("/content/demo/z.txt", content=BODY, headers={
        **auth, "Headwater-Description": '{"oai_identifier": "oai:legacy.example.org:9"}'})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/oai_identifier"
