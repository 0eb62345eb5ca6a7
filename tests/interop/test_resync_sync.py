"""The reference destination, `resync-sync` (PyPI `resync` 2.0.1), run as its own process
against a live server on loopback: baseline from a Resource List Index into an empty folder,
incremental over each Change List page, audit. The client exits 0 on fatal errors and can't
read a Change List Index (docs/resourcesync.md, "The `resync` client"), so the test reads its
output, walks the index itself, and checks the downloaded bytes and hashes itself."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from lxml import etree
from resync.sitemap import Sitemap

from app.store.content import ContentStore
from tests.conftest import TOKEN

pytestmark = [pytest.mark.interop, pytest.mark.slow]
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
RESYNC = Path(sys.executable).with_name("resync-sync")


def _put_bytes(store: ContentStore, blobs: list[bytes]) -> None:
    async def put() -> None:
        for blob in blobs:
            async def one(b: bytes = blob):
                yield b
            await store.put_stream(one(), max_bytes=1 << 20)
    asyncio.run(put())


def _record(base: str, collection: str, name: str, blob: bytes) -> dict[str, object]:
    return {"uri": f"{base}/content/{collection}/{name}", "collection": collection,
            "length": len(blob), "type": "text/plain",
            "md5": hashlib.md5(blob).hexdigest(), "sha256": hashlib.sha256(blob).hexdigest()}


def _ingest(base: str, recs: list[dict[str, object]]) -> None:
    for i in range(0, len(recs), 1000):
        r = httpx.post(f"{base}/ingest", json=recs[i:i + 1000], timeout=60,
                       headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.text


def _resync(cwd: Path, *args: str) -> str:
    proc = subprocess.run([str(RESYNC), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert "FatalError" not in out and "Traceback" not in out, out[-3000:]
    return out


def _first_status(out: str) -> str:
    return next(line for line in out.splitlines() if "Status:" in line)


def _published(base: str, collection: str) -> dict[str, dict[str, str]]:
    """Every Resource List entry (through the index): uri → {md5, sha256, length}."""
    index = httpx.get(f"{base}/resourcesync/{collection}/resourcelist.xml").content
    parts = [e.text for e in etree.fromstring(index).findall("sm:sitemap/sm:loc", NS)]
    assert len(parts) >= 2, "the test needs an index"
    out: dict[str, dict[str, str]] = {}
    for part in parts:
        for url in etree.fromstring(httpx.get(part).content).findall("sm:url", NS):
            md = url.find("rs:md", NS)
            hashes = dict(tok.split(":", 1) for tok in md.get("hash").split())
            out[url.findtext("sm:loc", namespaces=NS)] = {
                "md5": hashes["md5"], "sha-256": hashes["sha-256"], "length": md.get("length")}
    return out


def _check_files(base: str, dst: Path, published: dict[str, dict[str, str]]) -> None:
    files = {p for p in dst.rglob("*") if p.is_file()}
    expected = {dst / uri.removeprefix(base + "/") for uri in published}
    assert files == expected
    for uri, md in published.items():
        data = (dst / uri.removeprefix(base + "/")).read_bytes()
        assert hashlib.md5(data).hexdigest() == md["md5"], uri
        assert hashlib.sha256(data).hexdigest() == md["sha-256"], uri
        assert str(len(data)) == md["length"]


def test_baseline_incremental_and_audit_with_the_reference_client(live_server_factory,
                                                                  data_dir, tmp_path):
    server = live_server_factory()
    base = server.url
    store = ContentStore(data_dir / "content")
    blobs = {(c, f"f{i}.txt"): f"{c} file {i}\n".encode() * (1 + i % 7)
             for c, n in (("e2e:a", 1500), ("e2e:b", 1000)) for i in range(n)}
    _put_bytes(store, list(blobs.values()))
    _ingest(base, [_record(base, c, name, b) for (c, name), b in blobs.items()])

    cap = f"{base}/resourcesync/e2e/capabilitylist.xml"
    work, dst = tmp_path / "work", tmp_path / "dst"
    work.mkdir()
    dst.mkdir()
    out = _resync(work, "--baseline", "--delete", "-v", "--capabilitylist", cap, base, str(dst))
    assert re.search(r"SYNCED \(same=0, created=2500, updated=0, deleted=0\)", out), out[-2000:]
    _check_files(base, dst, _published(base, "e2e"))

    # create, update and delete through the ingest path
    time.sleep(1.1)  # the client compares lastmod with file mtimes at one-second precision
    new = {("e2e:b", f"new{i}.txt"): f"new {i}\n".encode() for i in range(5)}
    updated = {("e2e:a", f"f{i}.txt"): f"updated {i}\n".encode() * 9 for i in range(3)}
    _put_bytes(store, list(new.values()) + list(updated.values()))
    gone = [("e2e:b", "f10.txt"), ("e2e:b", "f11.txt")]
    _ingest(base, [_record(base, c, n, b) for (c, n), b in {**new, **updated}.items()]
            + [{"uri": f"{base}/content/{c}/{n}", "collection": c, "deleted": True}
               for c, n in gone])

    # resync can't read a Change List Index: walk it, one incremental per page
    index_url = f"{base}/resourcesync/e2e/changelist.xml"
    sm = Sitemap()
    pages = sorted(sm.parse_xml(io.BytesIO(httpx.get(index_url).content)).uris(),
                   key=lambda u: int(u.rsplit("/", 1)[1].split("?")[0].removesuffix(".xml")))
    assert sm.parsed_index and len(pages) == 3
    statuses = [_first_status(_resync(work, "--incremental", "--delete", "-v",
                                      "--changelist-uri", page, base, str(dst)))
                for page in pages]
    last = statuses[-1]
    assert "CHANGES APPLIED" in last, statuses
    m = re.search(r"created=(\d+), updated=(\d+), deleted=(\d+)", last)
    assert m and int(m.group(1)) >= 5 and m.group(2) == "3" and m.group(3) == "2", statuses
    published = _published(base, "e2e")
    assert len(published) == 2503
    _check_files(base, dst, published)
    for (c, n), blob in updated.items():
        assert (dst / "content" / c / n).read_bytes() == blob
    for c, n in gone:
        assert not (dst / "content" / c / n).exists()

    audit = _resync(work, "--audit", "--capabilitylist", cap, base, str(dst))
    assert "IN SYNC (same=2503, to create=0, to update=0, to delete=0)" in \
        _first_status(audit), audit[-2000:]
