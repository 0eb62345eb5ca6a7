"""Resource Dumps: built packages unzipped and checked against their manifests, the Resource
Dump document, the Capability List entry, package serving (ETag, Range, conditional GET)."""

from __future__ import annotations

import hashlib

import pytest

from app.dumps.builder import Builder
from tests.integration.test_dumps_support import (
    NS,
    check_package,
    entries,
    local_record,
    validate,
)

pytestmark = pytest.mark.asyncio


def _content(i: int) -> bytes:
    return f"resource {i}\n".encode() * (i % 7 + 1)


async def _load(client, auth, data_dir) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """23 local resources over vc:a and vc:b, one deleted (collections holding resources hosted
    elsewhere get no Resource Dump: tests/integration/test_dumps_coverage.py)."""
    recs, expected = [], {}
    for i in range(23):
        coll = "vc:a" if i % 2 else "vc:b"
        data = _content(i)
        rec = local_record(data_dir, coll, f"dir/r{i}.txt", data)
        recs.append(rec)
        expected[rec["uri"]] = data
    r = await client.post("/ingest", json=recs, headers=auth)
    assert r.status_code == 200, r.text
    gone = recs[4]["uri"]
    r = await client.post("/ingest", json=[{"uri": gone, "collection": "vc:a" if 4 % 2 else "vc:b",
                                            "deleted": True}], headers=auth)
    assert r.status_code == 200, r.text
    del expected[gone]
    return expected


async def _build(app, **overrides) -> list:  # type: ignore[no-untyped-def]
    settings = app.state.settings.model_copy(update=overrides)
    return await Builder(app.state.pool, settings, app.state.store).build_collection("vc")


async def test_resource_dump_packages_match_their_manifests(app, client, auth, data_dir):
    expected = await _load(client, auth, data_dir)

    r = await client.get("/resourcesync/vc/resourcedump.xml")
    assert r.status_code == 404
    cap = (await client.get("/resourcesync/vc/capabilitylist.xml")).text
    assert "resourcedump" not in cap

    results = await _build(app, package_max_files=5)
    rd = [x for x in results if x.kind == "resourcedump"][0]
    assert rd.outcome == "built" and rd.packages == 5  # 22 files, 5 per package

    r = await client.get("/resourcesync/vc/resourcedump.xml")
    assert r.status_code == 200
    root = validate(r.content)
    md = root.find("rs:md", NS)
    assert md.get("capability") == "resourcedump" and md.get("at") and md.get("completed")
    ups = {ln.get("rel"): ln.get("href") for ln in root.findall("rs:ln", NS)}
    assert ups["up"] == "http://127.0.0.1:8000/resourcesync/vc/capabilitylist.xml"

    seen: dict[str, bytes] = {}
    for url in root.findall("sm:url", NS):
        loc = url.findtext("sm:loc", namespaces=NS)
        pmd = url.find("rs:md", NS)
        package = await client.get(loc.removeprefix("http://127.0.0.1:8000"))
        assert package.status_code == 200
        assert package.headers["content-type"] == "application/zip"
        assert int(package.headers["content-length"]) == len(package.content)
        assert int(pmd.get("length")) == len(package.content)
        assert pmd.get("type") == "application/zip"
        assert pmd.get("hash") == "sha-256:" + hashlib.sha256(package.content).hexdigest()
        manifest, files = check_package(package.content, "resourcedump-manifest")
        assert manifest.find("rs:md", NS).get("at") == md.get("at")
        # the rel="contents" copy is the manifest inside the ZIP, byte for byte
        contents = url.find("rs:ln[@rel='contents']", NS).get("href")
        copy = await client.get(contents.removeprefix("http://127.0.0.1:8000"))
        import io
        import zipfile
        assert copy.content == zipfile.ZipFile(io.BytesIO(package.content)).read("manifest.xml")
        for e in entries(manifest):
            assert e["loc"] not in seen
            seen[e["loc"]] = files[e["path"]]
            assert e["path"].startswith("/resources/vc:")
    # every live resource exactly once, nothing deleted
    assert seen == expected

    cap = (await client.get("/resourcesync/vc/capabilitylist.xml")).text
    assert "http://127.0.0.1:8000/resourcesync/vc/resourcedump.xml" in cap
    # a child collection has its own dumps, built separately
    assert (await client.get("/resourcesync/vc:a/resourcedump.xml")).status_code == 404


async def test_unchanged_collection_is_not_rebuilt_and_changes_make_a_new_dump(
        app, client, auth, data_dir):
    await _load(client, auth, data_dir)
    first = [x for x in await _build(app) if x.kind == "resourcedump"][0]
    assert first.outcome == "built" and first.packages == 1
    again = [x for x in await _build(app) if x.kind == "resourcedump"][0]
    assert again.outcome == "current"
    r1 = await client.get("/resourcesync/vc/resourcedump.xml")

    new = local_record(data_dir, "vc:a", "late.txt", b"late arrival")
    assert (await client.post("/ingest", json=[new], headers=auth)).status_code == 200
    third = [x for x in await _build(app) if x.kind == "resourcedump"][0]
    assert third.outcome == "built"
    r2 = await client.get("/resourcesync/vc/resourcedump.xml")
    assert r2.headers["etag"] != r1.headers["etag"]
    loc = validate(r2.content).findtext("sm:url/sm:loc", namespaces=NS)
    package = await client.get(loc.removeprefix("http://127.0.0.1:8000"))
    _, files = check_package(package.content, "resourcedump-manifest")
    assert b"late arrival" in files.values()


async def test_package_download_in_ranges_reassembles_byte_identically(
        app, client, auth, data_dir):
    recs = [local_record(data_dir, "big", f"f{i}.bin", bytes([i]) * 300_000) for i in range(4)]
    assert (await client.post("/ingest", json=recs, headers=auth)).status_code == 200
    settings = app.state.settings
    await Builder(app.state.pool, settings, app.state.store).build_collection("big")
    root = validate((await client.get("/resourcesync/big/resourcedump.xml")).content)
    path = root.findtext("sm:url/sm:loc", namespaces=NS).removeprefix("http://127.0.0.1:8000")

    head = await client.head(path)
    assert head.status_code == 200 and head.headers["accept-ranges"] == "bytes"
    size, etag = int(head.headers["content-length"]), head.headers["etag"]
    assert size > 1_200_000 and head.content == b""
    parts, step = [], 250_001
    for start in range(0, size, step):
        end = min(start + step, size) - 1
        r = await client.get(path, headers={"Range": f"bytes={start}-{end}",
                                            "If-Range": etag})
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
        parts.append(r.content)
    whole = b"".join(parts)
    assert etag == f'"{hashlib.sha256(whole).hexdigest()}"'
    check_package(whole, "resourcedump-manifest")

    r = await client.get(path, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert "immutable" in r.headers["cache-control"]
    r = await client.get(path.replace("rd-", "rd-9"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_build_on_request_needs_a_token_and_runs_in_the_background(
        app, client, auth, data_dir):
    import asyncio

    rec = local_record(data_dir, "asked", "a.txt", b"asked for")
    assert (await client.post("/ingest", json=[rec], headers=auth)).status_code == 200
    r = await client.post("/resourcesync/asked/resourcedump/build")
    assert r.status_code == 401
    r = await client.post("/resourcesync/nope/resourcedump/build", headers=auth)
    assert r.status_code == 404
    r = await client.post("/resourcesync/asked/resourcedump/build", headers=auth)
    assert r.status_code == 202
    for _ in range(300):
        r = await client.get("/resourcesync/asked/resourcedump.xml")
        if r.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 200
    loc = validate(r.content).findtext("sm:url/sm:loc", namespaces=NS)
    _, files = check_package((await client.get(loc.removeprefix("http://127.0.0.1:8000"))).content,
                             "resourcedump-manifest")
    assert list(files.values()) == [b"asked for"]


async def test_above_one_page_of_packages_the_resource_dump_is_an_index(
        app, client, auth, data_dir):
    recs = [local_record(data_dir, "many", f"{i}.txt", f"n{i}".encode()) for i in range(5)]
    assert (await client.post("/ingest", json=recs, headers=auth)).status_code == 200
    settings = app.state.settings.model_copy(update={"package_max_files": 1})
    await Builder(app.state.pool, settings, app.state.store).build_collection("many")
    app.state.settings.page_size = 2  # documents list 2 packages per page from here on

    r = await client.get("/resourcesync/many/resourcedump.xml")
    root = validate(r.content)
    assert root.tag.endswith("sitemapindex")
    md = root.find("rs:md", NS)
    assert md.get("capability") == "resourcedump" and md.get("at")
    parts = [e.text for e in root.findall("sm:sitemap/sm:loc", NS)]
    assert len(parts) == 3
    packages = []
    for part in parts:
        child = validate((await client.get(part.removeprefix("http://127.0.0.1:8000"))).content)
        links = {ln.get("rel"): ln.get("href") for ln in child.findall("rs:ln", NS)}
        assert links["index"] == "http://127.0.0.1:8000/resourcesync/many/resourcedump.xml"
        assert child.find("rs:md", NS).get("at") == md.get("at")
        packages += [e.text for e in child.findall("sm:url/sm:loc", NS)]
    assert len(packages) == len(set(packages)) == 5
    assert (await client.get("/resourcesync/many/resourcedump/3.xml")).status_code == 404


async def test_a_file_and_a_folder_of_the_same_name_both_unzip(app, client, auth, tmp_path):
    """A built Resource Dump never holds members `…/a` and `…/a/b` together."""
    import io
    import zipfile

    for path in ("a", "a/b", "x/y", "x"):
        r = await client.put(f"/content/vc:z/{path}", content=path.encode(), headers=auth)
        assert r.status_code == 201, r.text
    results = await _build(app)
    assert [x.outcome for x in results if x.kind == "resourcedump"] == ["built"]
    root = validate((await client.get("/resourcesync/vc/resourcedump.xml")).content)
    found: dict[str, bytes] = {}
    for url in root.findall("sm:url", NS):
        package = await client.get(
            url.findtext("sm:loc", namespaces=NS).removeprefix("http://127.0.0.1:8000"))
        _, files = check_package(package.content, "resourcedump-manifest")
        zipfile.ZipFile(io.BytesIO(package.content)).extractall(tmp_path / str(len(found)))
        found.update(files)
    assert sorted(found.values()) == [b"a", b"a/b", b"x", b"x/y"]
