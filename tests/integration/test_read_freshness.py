"""A write is visible on the very next request, on every route a cache could serve: the
Resource List (one page and its index), its parts (kept as files by version), the open Change
List page, OAI-PMH ListRecords, stored content and the plain sitemap. Parts are also checked
to be served from their file once rendered, and to miss after a write that keeps every count
and byte length the same (the case a cache keyed by entries and bytes would get wrong)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tests.integration.test_resourcesync_support import records

B = "http://127.0.0.1:8000"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
RS = "{http://www.openarchives.org/rs/terms/}"


async def _get(client, path: str, *, gz: bool = False) -> bytes:
    r = await client.get(path, headers={"accept-encoding": "gzip" if gz else "identity"})
    assert r.status_code == 200, (path, r.text)
    return r.content  # httpx decodes gzip


async def _ingest(client, auth, recs) -> None:
    r = await client.post("/ingest", json=recs, headers=auth)
    assert r.status_code == 200, r.text


def _md5s(body: bytes) -> dict[str, str]:
    root = etree.fromstring(body)
    return {u.findtext(f"{SM}loc"): u.find(f"{RS}md").get("hash", "")
            for u in root.iter(f"{SM}url")}


def _cached(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "cache" / "resourcelist").rglob("*.xml"))


async def test_part_served_from_file_and_fresh_after_same_size_write(client, auth, data_dir):
    await _ingest(client, auth, records(1500, collection="f:a"))
    part0 = "/resourcesync/f:a/resourcelist/f:a/0.xml"
    first = await _get(client, part0)
    files = _cached(data_dir)
    assert len(files) == 1 and files[0].read_bytes() in first  # entries kept as a file
    assert await _get(client, part0) == first
    assert await _get(client, part0, gz=True) == first

    # same length, same counts, other bytes: md5 0 → f…f of one resource in part 0
    uri = f"{B}/r/f:a/7"
    await _ingest(client, auth, [{"uri": uri, "collection": "f:a", "md5": "f" * 32,
                                  "sha256": f"{7:064x}", "length": 7, "type": "text/plain"}])
    for gz in (False, True):
        assert "md5:" + "f" * 32 in _md5s(await _get(client, part0, gz=gz))[uri]
    assert len(_cached(data_dir)) == 1  # the older version was dropped

    # a deletion leaves the part at once, and part 1 is untouched by part 0's writes
    part1 = "/resourcesync/f:a/resourcelist/f:a/1.xml"
    before = _md5s(await _get(client, part1))
    await _ingest(client, auth, [{"uri": uri, "collection": "f:a", "deleted": True}])
    assert uri not in _md5s(await _get(client, part0))
    assert _md5s(await _get(client, part1)) == before


async def test_every_document_shows_a_write_on_the_next_request(client, auth):
    await _ingest(client, auth, records(20, collection="w", metadata={"title": "before"}))
    await _ingest(client, auth, records(1200, collection="big"))
    documents = {
        "resource list": "/resourcesync/w/resourcelist.xml",
        "resource list index": "/resourcesync/big/resourcelist.xml",
        "part": "/resourcesync/big/resourcelist/big/1.xml",
        "change list (open page)": "/resourcesync/w/changelist.xml",
        "plain sitemap index": "/sitemap.xml",
        "plain sitemap": "/sitemap/w/0.xml",
        "oai ListRecords": "/oai?verb=ListRecords&metadataPrefix=oai_dc&set=collection:w",
    }
    for path in documents.values():  # warm every cache there is
        await _get(client, path)
        await _get(client, path, gz=True)

    await _ingest(client, auth, [
        {"uri": f"{B}/r/w/3", "collection": "w", "md5": "e" * 32, "length": 3,
         "metadata": {"title": "after"}},
        {"uri": f"{B}/r/big/1100", "collection": "big", "md5": "d" * 32, "length": 1100}])
    for gz in (False, True):
        seen = {name: await _get(client, path, gz=gz) for name, path in documents.items()}
        assert "md5:" + "e" * 32 in _md5s(seen["resource list"])[f"{B}/r/w/3"]
        assert "md5:" + "d" * 32 in _md5s(seen["part"])[f"{B}/r/big/1100"]
        assert b"e" * 32 in seen["change list (open page)"]
        assert b"<title>after</title>" in seen["oai ListRecords"].replace(b"dc:", b"")
        index_at = etree.fromstring(seen["resource list index"]).find(f"{RS}md").get("at")
        part_at = etree.fromstring(seen["part"]).find(f"{RS}md").get("at")
        assert index_at == part_at  # parts keep their index's `at`, cached or not

    await _ingest(client, auth, records(1, collection="w", start=500))
    assert f"{B}/r/w/500".encode() in await _get(client, documents["plain sitemap"])
    await _ingest(client, auth, records(1, collection="new"))
    assert b"/sitemap/new/0.xml" in await _get(client, documents["plain sitemap index"])
    assert f"{B}/r/w/500".encode() in await _get(client, documents["resource list"])


async def test_content_bytes_replaced_are_served_next(client, auth):
    path = "/content/w:files/a.bin"
    for body in (b"A" * 16384, b"B" * 16384, b"C" * 10):
        r = await client.put(path, content=body, headers=auth)
        assert r.status_code in (200, 201), r.text
        assert await _get(client, path) == body
    r = await client.delete(path, headers=auth)
    assert r.status_code == 200
    assert (await client.get(path)).status_code == 410
