"""Takedown: after a purge the resource's bytes, every version, are in no store file, no dump
package (each re-read and unzipped), no on-demand dump; GET answers 410 with the reason; the
purge is recorded with its token's name and listed on the status page."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from lxml import html

from app.dumps.builder import Builder
from app.main import create_app
from app.settings import load_settings
from app.write.writer import seal_stale_pages
from tests.conftest import PAGE_SIZE

pytestmark = pytest.mark.asyncio
BASE = "http://127.0.0.1:8000"
OPS = "ops-token-" + "y" * 20
PLAIN = "plain-token-" + "z" * 16
SECRET_V1 = b"secret first version: must vanish\n"
SHARED = b"bytes another live resource publishes too\n"
OTHER = b"an unrelated resource\n"


@pytest.fixture
async def ops_client(database_url: str, data_dir: Path):  # type: ignore[no-untyped-def]
    settings = load_settings(database_url=database_url, data_dir=data_dir, page_size=PAGE_SIZE,
                             base_url=BASE, write_tokens=[f"legal-desk:{OPS}", PLAIN],
                             gc_every="0")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield app, client


async def _put(client, path: str, body: bytes) -> None:  # type: ignore[no-untyped-def]
    r = await client.put(f"/content/{path}", content=body,
                         headers={"Authorization": f"Bearer {OPS}", "Content-Type": "text/plain"})
    assert r.status_code in (200, 201), r.text


async def _all_package_bytes(client, data_dir: Path) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Every member of every package, both as listed over HTTP and as found on disk."""
    out: list[bytes] = []
    zips = list((data_dir / "dumps").rglob("*.zip"))
    assert zips
    for path in zips:
        with zipfile.ZipFile(path) as z:
            out += [z.read(n) for n in z.namelist()]
    for doc in ("resourcedump.xml", "changedump.xml"):
        listing = (await client.get(f"/resourcesync/t/{doc}")).text
        for loc in html.fromstring(listing.encode()).xpath("//loc/text()"):
            body = (await client.get(loc.removeprefix(BASE))).content
            with zipfile.ZipFile(io.BytesIO(body)) as z:
                out += [z.read(n) for n in z.namelist()]
    return out


async def test_purge_removes_every_version_everywhere(ops_client, data_dir):  # type: ignore[no-untyped-def]
    app, client = ops_client
    await _put(client, "t/secret.txt", SECRET_V1)
    await _put(client, "t/secret.txt", SHARED)  # its second version: bytes shared below
    await _put(client, "t/keep.txt", SHARED)
    await _put(client, "t/other.txt", OTHER)
    async with app.state.pool.acquire() as conn:
        await seal_stale_pages(conn, page_size=PAGE_SIZE, seal_after=timedelta(0))
    await Builder(app.state.pool, app.state.settings, app.state.store).build_collection(
        "t", force=True)
    before = await _all_package_bytes(client, data_dir)
    assert any(SECRET_V1 in b for b in before)
    listing = (await client.get("/resourcesync/t/changedump.xml")).text
    old_etags = {(await client.head(loc.removeprefix(BASE))).headers["etag"]
                 for loc in html.fromstring(listing.encode()).xpath("//loc/text()")}

    # bad input: a clear problem, nothing written
    r = await client.post("/admin/purge", json={"uris": [f"{BASE}/content/t/secret.txt"]},
                          headers={"Authorization": f"Bearer {OPS}"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = await client.post("/admin/purge", json={"uris": [f"{BASE}/content/t/nope"],
                                                "reason": "x"},
                          headers={"Authorization": f"Bearer {OPS}"})
    assert r.status_code == 404
    assert (await client.post("/admin/purge", json={})).status_code == 401
    for bad in ({"uris": ["a\u0000b"], "reason": "x"}, {"uris": ["x"], "reason": "\u0000"},
                {"uris": [], "reason": "x"}, ["not", "an", "object"]):
        r = await client.post("/admin/purge", json=bad, headers={"Authorization": f"Bearer {OPS}"})
        assert r.status_code == 422, (bad, r.text)
    assert (await client.post("/admin/purge", content=b"{", headers={
        "Authorization": f"Bearer {OPS}"})).status_code == 400

    uri = f"{BASE}/content/t/secret.txt"
    r = await client.post("/admin/purge", json={"uris": [uri], "reason": "court order 42"},
                          headers={"Authorization": f"Bearer {OPS}"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["deleted"] == 1 and report["files_removed"] == 1 and report["kept_shared"] == 1
    assert report["bytes_removed"] == len(SECRET_V1) and report["packages_rebuilt"] >= 2

    # GET: 410 with the reason; the shared bytes are still served under the live URI
    gone = await client.get("/content/t/secret.txt")
    assert gone.status_code == 410 and "court order 42" in gone.json()["detail"]
    assert (await client.get("/content/t/keep.txt")).content == SHARED

    # the store: no file holds the purged bytes
    files = [p for p in (data_dir / "content").rglob("*") if p.is_file()]
    assert files and not any(SECRET_V1 in p.read_bytes() for p in files)

    # every package, re-read and unzipped: the purged bytes are nowhere; the Change Dump's
    # packages are new (new ETags), the resource dump holds no entry for the URI
    after = await _all_package_bytes(client, data_dir)
    assert not any(SECRET_V1 in b for b in after)
    assert any(SHARED in b for b in after) and any(OTHER in b for b in after)
    listing = (await client.get("/resourcesync/t/changedump.xml")).text
    locs = html.fromstring(listing.encode()).xpath("//loc/text()")
    new_etags = {(await client.head(loc.removeprefix(BASE))).headers["etag"] for loc in locs}
    assert locs and not (new_etags & old_etags)
    manifests = [p.read_bytes() for p in (data_dir / "dumps").rglob("*.manifest.xml")]
    assert not any(b"secret.txt</loc><lastmod>" in m and b"/resourcedump-manifest" in m
                   for m in manifests)

    # on-demand dumps: by URI and by time window
    r = await client.post("/resourcesync/t/dump", json={"uris": [uri]})
    assert r.status_code == 404
    r = await client.post("/resourcesync/t/dump", json={"from": "2000-01-01T00:00:00Z"})
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert not any(SECRET_V1 in z.read(n) for n in z.namelist())

    # the Change List keeps the history: created, updated, deleted
    index = (await client.get("/resourcesync/t/changelist.xml")).content
    changes = "".join([(await client.get(loc.removeprefix(BASE))).text
                       for loc in html.fromstring(index).xpath("//sitemap/loc/text()")])
    assert changes.count("secret.txt</loc>") >= 3 and 'change="deleted"' in changes

    # recorded, with the token's name, and listed on the status page
    async with app.state.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT uri, reason, token_name, position FROM purges")
    assert (row["uri"], row["reason"], row["token_name"]) == (uri, "court order 42",
                                                            "legal-desk")
    assert row["position"] is not None
    page = html.fromstring((await client.get("/")).content)
    purge_rows = page.xpath("//tr[@class='purge']")
    assert [r.find_class("reason")[0].text for r in purge_rows] == ["court order 42"]
    assert purge_rows[0].find_class("by")[0].text == "legal-desk"

    # a plain token still works (named by its place in the list)
    r = await client.post("/admin/purge", json={"uris": [f"{BASE}/content/t/other.txt"],
                                                "reason": "spam"},
                          headers={"Authorization": f"Bearer {PLAIN}"})
    assert r.status_code == 200
    async with app.state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT token_name FROM purges WHERE reason = 'spam'") \
            == "token-2"
