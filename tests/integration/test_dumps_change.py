"""Change Dumps: one package (or more, bounded) per sealed Change List page, holding each
change's bytes as they were at that change, in forward order, deletions without a path."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from app.dumps.builder import Builder
from app.write.writer import seal_stale_pages
from tests.conftest import PAGE_SIZE
from tests.integration.test_dumps_support import NS, check_package, entries, local_record, validate

pytestmark = pytest.mark.asyncio
BASE = "http://127.0.0.1:8000"


async def _ingest(client, auth, recs) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/ingest", json=recs, headers=auth)
    assert r.status_code == 200, r.text


async def _seal(db) -> None:  # type: ignore[no-untyped-def]
    await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0))


async def _build(app, **overrides):  # type: ignore[no-untyped-def]
    settings = app.state.settings.model_copy(update=overrides)
    return await Builder(app.state.pool, settings, app.state.store).build_collection("cd")


async def _packages(client) -> list[tuple[dict, bytes]]:  # type: ignore[no-untyped-def]
    r = await client.get("/resourcesync/cd/changedump.xml")
    assert r.status_code == 200, r.text
    root = validate(r.content)
    md = root.find("rs:md", NS)
    assert md.get("capability") == "changedump" and md.get("from") and md.get("until") is None
    out = []
    for e in entries(root):
        assert e["type"] == "application/zip"
        body = (await client.get(e["loc"].removeprefix(BASE))).content
        assert int(e["length"]) == len(body)
        assert e["hash"] == "sha-256:" + hashlib.sha256(body).hexdigest()
        out.append((e, body))
    return out


async def test_change_dump_holds_old_and_new_bytes_in_forward_order(app, client, auth, db,
                                                                    data_dir):
    v1, v2 = b"first version\n", b"second version, longer\n"
    await _ingest(client, auth, [local_record(data_dir, "cd:x", "doc.txt", v1),
                                 local_record(data_dir, "cd:y", "other.txt", b"other")])
    await _ingest(client, auth, [local_record(data_dir, "cd:x", "doc.txt", v2)])
    await _ingest(client, auth, [{"uri": f"{BASE}/content/cd:y/other.txt", "collection": "cd:y",
                                  "deleted": True}])

    assert not [r for r in await _build(app) if r.kind == "changedump"]  # nothing sealed yet
    assert (await client.get("/resourcesync/cd/changedump.xml")).status_code == 404
    await _seal(db)
    built = [r for r in await _build(app) if r.kind == "changedump"]
    assert [(r.page, r.packages) for r in built] == [(0, 1)]

    [(listed, body)] = await _packages(client)
    manifest, files = check_package(body, "changedump-manifest")
    top = manifest.find("rs:md", NS)
    assert (top.get("from"), top.get("until")) == (listed["from"], listed["until"])
    rows = entries(manifest)
    # forward order, every change of the page
    assert [(e["loc"].rsplit("/", 1)[-1], e["change"]) for e in rows] == [
        ("doc.txt", "created"), ("other.txt", "created"), ("doc.txt", "updated"),
        ("other.txt", "deleted")]
    stamps = [e["datetime"] for e in rows]
    assert stamps == sorted(stamps)
    assert top.get("from") <= stamps[0] <= stamps[-1] <= top.get("until")
    created, updated = rows[0], rows[2]
    assert created["path"] != updated["path"]
    assert files[created["path"]] == v1 and files[updated["path"]] == v2
    assert "path" not in rows[3]
    cap = (await client.get("/resourcesync/cd/capabilitylist.xml")).text
    assert f"{BASE}/resourcesync/cd/changedump.xml" in cap

    # a sealed page is packed once; the next sealed page gets its own package, contiguous
    assert not [r for r in await _build(app) if r.kind == "changedump"]
    await _ingest(client, auth, [local_record(data_dir, "cd:x", "doc.txt", b"third\n")])
    await _seal(db)
    built = [r for r in await _build(app) if r.kind == "changedump"]
    assert [r.page for r in built] == [1]
    (first, body0), (second, body1) = await _packages(client)
    assert body0 == body  # sealed: never rebuilt
    assert second["from"] == first["until"]
    _, files = check_package(body1, "changedump-manifest")
    assert list(files.values()) == [b"third\n"]


async def test_a_page_is_cut_into_bounded_packages(app, client, auth, db, data_dir):
    recs = [local_record(data_dir, "cd", f"f{i}.txt", f"file {i}".encode()) for i in range(7)]
    await _ingest(client, auth, recs)
    await _seal(db)
    built = [r for r in await _build(app, package_max_files=3) if r.kind == "changedump"]
    assert [(r.page, r.packages) for r in built] == [(0, 3)]
    listed = await _packages(client)
    seen = []
    for k, (e, body) in enumerate(listed):
        manifest, files = check_package(body, "changedump-manifest")
        assert len(files) <= 3
        seen += [x["loc"] for x in entries(manifest)]
        if k:
            assert e["from"] == listed[k - 1][0]["until"]
    assert seen == [r["uri"] for r in recs]

    # above one page of packages the Change Dump is an index, parts contiguous
    app.state.settings.page_size = 2
    index = validate((await client.get("/resourcesync/cd/changedump.xml")).content)
    assert index.tag.endswith("sitemapindex")
    assert index.find("rs:md", NS).get("from") == listed[0][0]["from"]
    parts = [e.text for e in index.findall("sm:sitemap/sm:loc", NS)]
    assert len(parts) == 2
    second = validate((await client.get(parts[1].removeprefix(BASE))).content)
    assert second.find("rs:md", NS).get("from") == listed[2][0]["from"]
    assert [e["loc"] for e in entries(second)] == [listed[2][0]["loc"]]


async def test_scheduler_packs_sealed_pages_without_rebuilding_the_resource_dump(
        app, client, auth, db, data_dir):
    from app.dumps.schedule import DumpScheduler

    await _ingest(client, auth, [local_record(data_dir, "cd", "a.txt", b"a")])
    scheduler = DumpScheduler(app.state.pool, app.state.settings, app.state.store)
    pages, due = await scheduler._due()
    assert pages == [] and due == ["cd"]
    await _seal(db)
    pages, due = await scheduler._due()
    assert pages == ["cd"]
    await scheduler._build("cd", force=False, resource_dump=False)
    assert (await client.get("/resourcesync/cd/changedump.xml")).status_code == 200
    assert (await client.get("/resourcesync/cd/resourcedump.xml")).status_code == 404
    pages, due = await scheduler._due()
    assert pages == [] and due == ["cd"]
    await scheduler._build("cd", force=False)
    assert (await client.get("/resourcesync/cd/resourcedump.xml")).status_code == 200
    assert await scheduler._due() == ([], [])
