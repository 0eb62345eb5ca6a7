"""PUT/GET/HEAD/DELETE /content/{collection}/{path}."""

from __future__ import annotations

import hashlib

import pytest

BODY = b"hello, headwater\n" * 100
ORDERED = "SELECT change FROM changes ORDER BY position"


async def put(client, auth, path="demo/hello.txt", body=BODY, ctype="text/plain; charset=utf-8"):
    return await client.put(f"/content/{path}", content=body,
                            headers={**auth, "Content-Type": ctype})


async def test_round_trip(client, auth, db, data_dir):
    r = await put(client, auth)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(BODY).hexdigest()
    g = await client.get("/content/demo/hello.txt")
    assert g.status_code == 200 and g.content == BODY
    assert g.headers["content-type"].startswith("text/plain")
    assert g.headers["content-length"] == str(len(BODY))
    assert g.headers["etag"] == f'"{hashlib.sha256(BODY).hexdigest()}"'
    assert "last-modified" in g.headers
    assert g.headers["link"] == ('<http://127.0.0.1:8000/resourcesync/demo/capabilitylist.xml>;'
                                 ' rel="resourcesync"')
    row = await db.fetchrow("SELECT * FROM resources")
    assert row["uri"] == "http://127.0.0.1:8000/content/demo/hello.txt"
    assert row["md5"] == hashlib.md5(BODY).hexdigest() and row["length"] == len(BODY)
    assert row["type"] == "text/plain"
    key = row["content_key"]
    assert (data_dir / "content" / key[:2] / key[2:4] / key).read_bytes() == BODY
    assert list((data_dir / "content" / "tmp").iterdir()) == []


async def test_identical_upload_appends_no_change(client, auth, db):
    await put(client, auth)
    r = await put(client, auth)
    assert r.status_code == 200 and r.json()["changed"] is False
    assert await db.fetchval("SELECT count(*) FROM changes") == 1
    await put(client, auth, body=b"new bytes")
    assert [r["change"] for r in await db.fetch(ORDERED)] == [
        "created", "updated"]


async def test_head_conditional_and_range(client, auth):
    await put(client, auth)
    h = await client.head("/content/demo/hello.txt")
    assert h.status_code == 200 and h.content == b""
    assert h.headers["content-length"] == str(len(BODY))
    etag = h.headers["etag"]
    assert (await client.get("/content/demo/hello.txt",
                             headers={"If-None-Match": etag})).status_code == 304
    lm = h.headers["last-modified"]
    assert (await client.get("/content/demo/hello.txt",
                             headers={"If-Modified-Since": lm})).status_code == 304
    part = await client.get("/content/demo/hello.txt", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == BODY[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(BODY)}"


async def test_delete_then_410(client, auth, db):
    await put(client, auth)
    d = await client.delete("/content/demo/hello.txt", headers=auth)
    assert d.status_code == 200
    assert (await client.get("/content/demo/hello.txt")).status_code == 410
    assert (await client.delete("/content/demo/hello.txt", headers=auth)).status_code == 410
    assert [r["change"] for r in await db.fetch(ORDERED)] == [
        "created", "deleted"]


async def test_unknown_is_404(client):
    r = await client.get("/content/demo/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_writes_need_a_token(client, auth, db):
    assert (await client.put("/content/demo/x", content=b"x")).status_code == 401
    assert (await client.put("/content/demo/x", content=b"x",
                             headers={"Authorization": "Bearer nope"})).status_code == 403
    await put(client, auth, path="demo/x")
    assert (await client.delete("/content/demo/x")).status_code == 401
    assert await db.fetchval("SELECT count(*) FROM changes") == 1


@pytest.mark.parametrize(
    "path",
    ["demo/..%2Fescape", "demo/a%2Fb", "demo/%2e%2e/etc/passwd", "demo/a/%2e/b", "demo/a//b",
     "demo/a%00b", "demo/a%5Cb", "bad%20name/x", "demo/%2E%2E"],
)
async def test_traversal_and_bad_paths_are_400(client, auth, data_dir, path):
    r = await client.put(f"/content/{path}", content=b"evil", headers=auth)
    assert r.status_code in (400, 404), r.text
    assert r.status_code == 400 or "problem" in r.headers["content-type"]
    assert not (data_dir.parent / "escape").exists()
    g = await client.get(f"/content/{path}")
    assert g.status_code in (400, 404)


async def test_literal_dotdot_never_reaches_the_store(client, auth, data_dir):
    # httpx normalises '..' away, so send the raw target over the ASGI transport
    r = await client.put("/content/demo/a%2F..%2F..%2Fx", content=b"x", headers=auth)
    assert r.status_code == 400


async def test_upload_limit_is_413(app, client, auth, data_dir, db):
    app.state.settings.max_upload = 1024
    r = await put(client, auth, body=b"x" * 5000)
    assert r.status_code == 413
    assert await db.fetchval("SELECT count(*) FROM changes") == 0
    assert list((data_dir / "content" / "tmp").iterdir()) == []


async def test_percent_encoding_is_normalised(client, auth, db):
    await put(client, auth, path="demo/caf%c3%a9%20menu.txt")
    uri = await db.fetchval("SELECT uri FROM resources")
    assert uri == "http://127.0.0.1:8000/content/demo/caf%C3%A9%20menu.txt"
    assert (await client.get("/content/demo/caf%C3%A9%20menu.txt")).content == BODY
