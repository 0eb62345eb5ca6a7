"""The reference destination, `resync-sync` 2.0.1, run as its own process against a live server
(see test_resync_sync.py for how it is driven and why its output is read): baseline →
incremental → audit stays IN SYNC through the cases that used to lose changes or bytes.

- a record whose lastmod is ahead of the server's clock (published capped at its change);
- uploaded bytes described afterwards by an ingest record (the bytes are kept);
- a quiet collection whose only Change List page seals by age (changelist.xml never carries
  `until`; it becomes the index, walked page by page)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree
from resync.sitemap import Sitemap

from app.db.connect import connect
from app.write.writer import seal_stale_pages
from tests.conftest import PAGE_SIZE, TOKEN
from tests.interop.test_resync_sync import NS, _first_status, _resync

pytestmark = [pytest.mark.interop, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _put(base: str, collection: str, name: str, blob: bytes) -> None:
    r = httpx.put(f"{base}/content/{collection}/{name}", content=blob, timeout=30,
                  headers={**AUTH, "Content-Type": "text/plain"})
    assert r.status_code in (200, 201), r.text


def _ingest(base: str, recs: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(f"{base}/ingest", json=recs, headers=AUTH, timeout=30)


def _live(base: str, collection: str) -> dict[str, dict[str, str]]:
    """uri → {md5, length} of every Resource List entry (one document here)."""
    root = etree.fromstring(httpx.get(f"{base}/resourcesync/{collection}/resourcelist.xml")
                            .content)
    out = {}
    for url in root.findall("sm:url", NS):
        md = url.find("rs:md", NS)
        hashes = dict(tok.split(":", 1) for tok in md.get("hash").split())
        out[url.findtext("sm:loc", namespaces=NS)] = {"md5": hashes["md5"],
                                                      "length": md.get("length")}
    return out


def _check_files(base: str, dst: Path, collection: str) -> None:
    """The destination holds exactly the published resources, each with the published bytes,
    and each equal to what the server serves."""
    published = _live(base, collection)
    assert {p for p in dst.rglob("*") if p.is_file()} == {
        dst / uri.removeprefix(base + "/") for uri in published}
    for uri, md in published.items():
        data = (dst / uri.removeprefix(base + "/")).read_bytes()
        assert hashlib.md5(data).hexdigest() == md["md5"] and str(len(data)) == md["length"]
        served = httpx.get(uri)
        assert served.status_code == 200 and served.content == data, uri


def _sync_dirs(tmp_path: Path) -> tuple[Path, Path]:
    work, dst = tmp_path / "work", tmp_path / "dst"
    work.mkdir()
    dst.mkdir()
    return work, dst


def _baseline(base: str, work: Path, dst: Path, collection: str, created: int) -> None:
    cap = f"{base}/resourcesync/{collection}/capabilitylist.xml"
    out = _resync(work, "--baseline", "--delete", "-v", "--capabilitylist", cap, base, str(dst))
    assert re.search(rf"SYNCED \(same=0, created={created}, updated=0, deleted=0\)", out), \
        out[-2000:]


def _incremental(base: str, work: Path, dst: Path, changelist: str) -> str:
    return _first_status(_resync(work, "--incremental", "--delete", "-v",
                                 "--changelist-uri", changelist, base, str(dst)))


def _audit(base: str, work: Path, dst: Path, collection: str, same: int) -> None:
    cap = f"{base}/resourcesync/{collection}/capabilitylist.xml"
    out = _resync(work, "--audit", "--capabilitylist", cap, base, str(dst))
    assert f"IN SYNC (same={same}, to create=0, to update=0, to delete=0)" in \
        _first_status(out), out[-2000:]


def test_a_future_lastmod_does_not_hide_later_changes(live_server, tmp_path):
    base = live_server.url
    for i in range(3):
        _put(base, "fut", f"f{i}.txt", f"file {i}\n".encode())
    # within the default skew (5 minutes): accepted, published capped at its change (the
    # record names the stored bytes by their sha-256, so it is about the lastmod alone)
    ahead = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    r = _ingest(base, [{"uri": f"{base}/content/fut/f0.txt", "collection": "fut",
                        "sha256": hashlib.sha256(b"file 0\n").hexdigest(), "type": "text/plain",
                        "lastmod": ahead, "metadata": {"title": "dated ahead"}}])
    assert r.status_code == 200 and r.json()["changed"] == 1, r.text
    work, dst = _sync_dirs(tmp_path)
    _baseline(base, work, dst, "fut", 3)

    time.sleep(1.1)  # the client compares lastmod with file mtimes at one-second precision
    _put(base, "fut", "f1.txt", b"file 1, second version\n")
    _put(base, "fut", "new.txt", b"a new file\n")
    status = _incremental(base, work, dst, f"{base}/resourcesync/fut/changelist.xml")
    # (the client keeps changes dated at its stored state, so f0's own change comes again)
    assert "CHANGES APPLIED" in status and "created=1, updated=" in status, status
    assert (dst / "content/fut/f1.txt").read_bytes() == b"file 1, second version\n"
    _check_files(base, dst, "fut")
    _audit(base, work, dst, "fut", 4)


def test_described_uploads_keep_their_bytes(live_server, tmp_path):
    base = live_server.url
    blobs = {f"d{i}.txt": f"described {i}\n".encode() * (i + 1) for i in range(3)}
    for name, blob in blobs.items():
        _put(base, "desc", name, blob)
    work, dst = _sync_dirs(tmp_path)
    _baseline(base, work, dst, "desc", 3)

    time.sleep(1.1)
    uri = f"{base}/content/desc/d0.txt"
    wrong = _ingest(base, [{"uri": uri, "collection": "desc", "md5": "0" * 32}])
    assert wrong.status_code == 409 and wrong.json()["errors"][0]["pointer"] == "/0/md5"
    r = _ingest(base, [
        {"uri": uri, "collection": "desc", "metadata": {"title": "Zero", "creator": "A"}},
        {"uri": f"{base}/content/desc/d1.txt", "collection": "desc",
         "md5": hashlib.md5(blobs["d1.txt"]).hexdigest(), "metadata": {"title": "One"}},
    ])
    assert r.status_code == 200 and r.json()["changed"] == 2, r.text
    assert httpx.get(uri).content == blobs["d0.txt"]
    status = _incremental(base, work, dst, f"{base}/resourcesync/desc/changelist.xml")
    assert "CHANGES APPLIED" in status and "updated=2" in status, status
    for name, blob in blobs.items():
        assert (dst / "content/desc" / name).read_bytes() == blob
    _check_files(base, dst, "desc")
    _audit(base, work, dst, "desc", 3)


def _pages(base: str, collection: str) -> list[str]:
    body = httpx.get(f"{base}/resourcesync/{collection}/changelist.xml").content
    root = etree.fromstring(body)
    assert root.find("rs:md", NS).get("until") is None  # never closed (ResourceSync §12.1)
    sm = Sitemap()
    uris = sm.parse_xml(io.BytesIO(body)).uris()
    assert sm.parsed_index
    return sorted(uris, key=lambda u: int(u.rsplit("/", 1)[1].split("?")[0].removesuffix(".xml")))


def _seal_quiet_pages(database_url: str) -> list[str]:
    """What the background sealer does once HEADWATER_SEAL_AFTER has passed (it is tested on
    its own in test_resourcesync_sealing.py), run now so the test does not race the clock."""
    async def run() -> list[str]:
        conn = await connect(database_url)
        try:
            return await seal_stale_pages(conn, page_size=PAGE_SIZE, seal_after=timedelta(0))
        finally:
            await conn.close()
    return asyncio.run(run())


def test_a_quiet_collection_sealed_by_age_stays_in_sync(live_server, database_url, tmp_path):
    base = live_server.url
    for i in range(3):
        _put(base, "quiet", f"q{i}.txt", f"quiet {i}\n".encode())
    work, dst = _sync_dirs(tmp_path)
    _baseline(base, work, dst, "quiet", 3)

    # while its only page is open, changelist.xml is that page: the client reads it directly
    time.sleep(1.1)
    _put(base, "quiet", "q0.txt", b"quiet 0, second version\n")
    top = f"{base}/resourcesync/quiet/changelist.xml"
    status = _incremental(base, work, dst, top)
    assert "CHANGES APPLIED" in status and "updated=1" in status, status

    # the quiet page seals by age: the top-level document becomes the index, without until
    assert _seal_quiet_pages(database_url) == ["quiet"]
    [page0] = _pages(base, "quiet")
    sealed = httpx.get(page0)
    assert etree.fromstring(sealed.content).find("rs:md", NS).get("until")

    time.sleep(1.1)
    _put(base, "quiet", "q1.txt", b"quiet 1, second version\n")
    _put(base, "quiet", "q3.txt", b"quiet 3\n")
    assert httpx.delete(f"{base}/content/quiet/q2.txt", headers=AUTH).status_code == 200
    pages = _pages(base, "quiet")
    assert pages[0] == page0 and len(pages) == 2
    assert httpx.get(page0).content == sealed.content  # the sealed page never changed
    statuses = [_incremental(base, work, dst, page) for page in pages]
    assert "CHANGES APPLIED" in statuses[-1], statuses
    assert re.search(r"created=1, updated=1, deleted=1", statuses[-1]), statuses
    assert not (dst / "content/quiet/q2.txt").exists()
    _check_files(base, dst, "quiet")
    _audit(base, work, dst, "quiet", 3)
