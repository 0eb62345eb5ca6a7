"""On-demand dumps: `POST /resourcesync/{collection}/dump` with 1,000 URIs or a time window
streams back a ZIP whose manifest matches its bytes; limits answer 413, bad input 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.test_dumps_support import BASE, NS, check_package, entries, local_record

pytestmark = pytest.mark.asyncio


async def _ingest(client, auth, recs) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/ingest", json=recs, headers=auth)
    assert r.status_code == 200, r.text


async def test_one_thousand_uris(client, auth, data_dir):
    recs = [local_record(data_dir, f"od:{'ab'[i % 2]}", f"n/{i}.txt",
                         f"item {i}\n".encode() * (i % 5 + 1)) for i in range(1_200)]
    await _ingest(client, auth, recs)
    await _ingest(client, auth, [{"uri": "https://elsewhere.example/z", "collection": "od:a"}])
    wanted = [r["uri"] for r in recs[100:1_100]]
    asked = wanted + ["https://elsewhere.example/z", f"{BASE}/content/od:a/nothing-here"]

    r = await client.post("/resourcesync/od/dump", json={"uris": asked})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    manifest, files = check_package(r.content, "resourcedump-manifest")
    listed = entries(manifest)
    # in the order asked; the external and the unknown URI have no bytes here: not listed
    assert [e["loc"] for e in listed] == wanted
    by_uri = {rec["uri"]: rec for rec in recs}
    for e in listed:
        assert e["hash"].endswith(by_uri[e["loc"]]["sha256"])
    assert len(files) == 1_000
    assert r.headers["headwater-dump-entries"] == "1000"

    # a child collection only sees its own resources
    r = await client.post("/resourcesync/od:a/dump", json={"uris": wanted[:10]})
    _, files = check_package(r.content, "resourcedump-manifest")
    assert len(files) == 5


async def test_time_window_gives_a_change_dump_manifest(client, auth, data_dir):
    await _ingest(client, auth, [local_record(data_dir, "win", "a.txt", b"a v1")])
    start = datetime.now(UTC)
    await _ingest(client, auth, [local_record(data_dir, "win", "a.txt", b"a v2"),
                                 local_record(data_dir, "win", "b.txt", b"b v1")])
    await _ingest(client, auth, [{"uri": f"{BASE}/content/win/b.txt", "collection": "win",
                                  "deleted": True}])
    end = datetime.now(UTC)
    await _ingest(client, auth, [local_record(data_dir, "win", "a.txt", b"a v3")])

    r = await client.post("/resourcesync/win/dump",
                          json={"from": start.isoformat(), "until": end.isoformat()})
    assert r.status_code == 200, r.text
    manifest, files = check_package(r.content, "changedump-manifest")
    md = manifest.find("rs:md", NS)
    assert md.get("from") and md.get("until")
    rows = [(e["loc"].rsplit("/", 1)[-1], e["change"]) for e in entries(manifest)]
    assert rows == [("a.txt", "updated"), ("b.txt", "created"), ("b.txt", "deleted")]
    assert sorted(files.values()) == [b"a v2", b"b v1"]

    # without `until`: up to the newest change
    r = await client.post("/resourcesync/win/dump", json={"from": end.isoformat()})
    _, files = check_package(r.content, "changedump-manifest")
    assert list(files.values()) == [b"a v3"]

    # a window holding a change without bytes (hosted elsewhere) cannot be covered: refused
    # rather than answered with a manifest that leaves the change out
    later = datetime.now(UTC)
    await _ingest(client, auth, [{"uri": "https://elsewhere.example/w", "collection": "win"}])
    r = await client.post("/resourcesync/win/dump", json={"from": start.isoformat()})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "1 created or updated changes" in r.json()["detail"]
    r = await client.post("/resourcesync/win/dump",
                          json={"from": start.isoformat(), "until": later.isoformat()})
    assert r.status_code == 200


async def test_limits_and_bad_requests(app, client, auth, data_dir):
    await _ingest(client, auth, [local_record(data_dir, "lim", f"{i}.bin", bytes(1000) + bytes([i]))
                                 for i in range(5)])
    uris = [f"{BASE}/content/lim/{i}.bin" for i in range(5)]

    app.state.settings.dump_max_bytes = 3_000
    r = await client.post("/resourcesync/lim/dump", json={"uris": uris})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    r = await client.post("/resourcesync/lim/dump", json={"uris": uris[:2]})
    assert r.status_code == 200

    r = await client.post("/resourcesync/lim/dump",
                          json={"uris": [f"{BASE}/x/{i}" for i in range(50_001)]})
    assert r.status_code == 413
    for body, status in [({"uris": []}, 422), ({"uris": [1]}, 422), ({"uri": uris}, 422),
                         ({"from": "yesterday"}, 422), ({"from": "2026-01-01T00:00:00"}, 422),
                         ({"uris": uris, "from": "2026-01-01T00:00:00Z"}, 422), ([], 422)]:
        r = await client.post("/resourcesync/lim/dump", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["status"] == status
    r = await client.post("/resourcesync/lim/dump", content=b"{not json")
    assert r.status_code == 400
    r = await client.post("/resourcesync/nope/dump", json={"uris": uris})
    assert r.status_code == 404
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = await client.post("/resourcesync/lim/dump", json={"from": future})
    assert r.status_code == 404  # an empty window: nothing to dump



async def test_busy_builds_answer_429_with_retry_after(app, client, auth, data_dir):
    import asyncio

    await _ingest(client, auth, [local_record(data_dir, "busy", "a.txt", b"a")])
    uris = [f"{BASE}/content/busy/a.txt"]
    slots = app.state.dump_slots = asyncio.Semaphore(app.state.settings.dump_concurrency)
    for _ in range(app.state.settings.dump_concurrency):
        await slots.acquire()  # every slot held by a dump still streaming
    r = await client.post("/resourcesync/busy/dump", json={"uris": uris})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert r.json()["status"] == 429
    slots.release()
    r = await client.post("/resourcesync/busy/dump", json={"uris": uris})
    assert r.status_code == 200
    check_package(r.content, "resourcedump-manifest")
    assert not slots.locked()  # the slot came back when the stream ended


async def test_out_of_range_date_times_are_refused_not_a_500(client, auth, data_dir):
    await _ingest(client, auth, [local_record(data_dir, "far", "a.txt", b"a")])
    for when in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        for body in ({"from": when}, {"from": "2026-01-01T00:00:00Z", "until": when}):
            r = await client.post("/resourcesync/far/dump", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["errors"][0]["pointer"] in ("/from", "/until")


async def test_a_file_and_a_folder_of_the_same_name_both_unzip(client, auth, tmp_path):
    """`…/a` and `…/a/b` cannot both be ZIP members `resources/…/a` and `resources/…/a/b`:
    the later one gets its fallback name, and the package extracts whole."""
    import io
    import zipfile

    uris = []
    for path in ("a", "a/b", "x/y", "x"):
        r = await client.put(f"/content/zc/{path}", content=path.encode(), headers=auth)
        assert r.status_code == 201, r.text
        uris.append(r.json()["uri"])
    r = await client.post("/resourcesync/zc/dump", json={"uris": uris})
    assert r.status_code == 200, r.text
    manifest, files = check_package(r.content, "resourcedump-manifest")
    assert sorted(files.values()) == [b"a", b"a/b", b"x", b"x/y"]
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path)  # no file/folder clash
    # the first of each pair keeps its natural name
    assert {e["path"] for e in entries(manifest)} >= {"/resources/zc/a", "/resources/zc/x/y"}
