"""The shipped nginx front (`deploy/nginx/headwater.conf`) in front of a live server, for real:
what Headwater marks cacheable is cached and revalidated with its validators, `no-cache` is
never stored, stored gzip copies pass through as they are, and content bytes are sent by nginx
itself through `X-Accel-Redirect` with Headwater's validators.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PAGE_SIZE, TOKEN, free_port
from tests.support.front import NginxFront, nginx_binary

pytestmark = pytest.mark.interop
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def front_factory(live_server_factory, tmp_path: Path):
    if nginx_binary() is None:
        pytest.skip("nginx not found: install the Debian package nginx-light")
    fronts: list[NginxFront] = []

    def start(**extra: str) -> tuple[NginxFront, object]:
        port = free_port()
        content = tmp_path / f"content-{port}"
        server = live_server_factory(HEADWATER_BASE_URL=f"http://127.0.0.1:{port}",
                                     HEADWATER_CONTENT_DIR=str(content), **extra)
        front = NginxFront([f"127.0.0.1:{server.port}"], content, port=port).start()
        fronts.append(front)
        return front, server

    yield start
    for front in fronts:
        front.stop()


def _records(n: int, collection: str) -> list[dict[str, object]]:
    return [{"uri": f"http://example.org/f/{collection}/{i}", "collection": collection,
             "length": i, "md5": f"{i:032x}"} for i in range(n)]


def test_content_bytes_are_sent_by_nginx_with_headwaters_validators(front_factory):
    front, server = front_factory(HEADWATER_ACCEL_REDIRECT="/_content/")
    data = os.urandom(300_000)
    with httpx.Client(base_url=front.url, timeout=30) as c:
        put = c.put("/content/fr/a/b.bin", content=data, headers=AUTH)
        assert put.status_code == 201, put.text
        sha = hashlib.sha256(data).hexdigest()
        got = c.get("/content/fr/a/b.bin")
        assert got.status_code == 200 and got.content == data
        assert got.headers["etag"] == f'"{sha}"'
        assert got.headers["content-type"] == "application/octet-stream"
        assert "x-accel-redirect" not in got.headers
        assert got.headers["last-modified"]
        assert 'rel="resourcesync"' in got.headers["link"]
        ranged = c.get("/content/fr/a/b.bin", headers={"Range": "bytes=100-199"})
        assert ranged.status_code == 206 and ranged.content == data[100:200]
        assert c.get("/content/fr/a/b.bin",
                     headers={"If-None-Match": f'"{sha}"'}).status_code == 304
        # the internal location is not reachable from outside
        inside = f"/_content/{sha[:2]}/{sha[2:4]}/{sha}"
        assert c.get(inside).status_code == 404
    # the node itself only names the file: nginx sent the bytes
    direct = httpx.get(f"{server.url}/content/fr/a/b.bin")
    assert direct.status_code == 200 and direct.content == b""
    assert direct.headers["x-accel-redirect"] == f"/_content/{sha[:2]}/{sha[2:4]}/{sha}"


def test_documents_are_cached_for_max_age_then_revalidated(front_factory):
    front, server = front_factory(HEADWATER_CACHE_MAX_AGE="2s")
    with httpx.Client(base_url=front.url, timeout=30) as c:
        assert c.post("/ingest", json=_records(10, "cache"), headers=AUTH).status_code == 200
        first = c.get("/resourcesync/cache/resourcelist.xml")
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=2"
        assert first.headers["x-cache-status"] == "MISS"
        again = c.get("/resourcesync/cache/resourcelist.xml")
        assert again.headers["x-cache-status"] == "HIT" and again.content == first.content
        time.sleep(3.2)
        # expired: nginx asks with the stored validators (in the background: the stale copy
        # answers meanwhile), Headwater answers 304, the entry is fresh again
        stale = c.get("/resourcesync/cache/resourcelist.xml")
        assert stale.headers["x-cache-status"] in ("STALE", "REVALIDATED")
        assert stale.content == first.content
        assert _not_modified_answers(server) >= 1
        time.sleep(0.3)
        assert c.get("/resourcesync/cache/resourcelist.xml").headers["x-cache-status"] == "HIT"
        # a write changes the ETag: after expiry the new list comes through
        assert c.post("/ingest", json=_records(11, "cache"), headers=AUTH).status_code == 200
        time.sleep(3.2)
        c.get("/resourcesync/cache/resourcelist.xml")  # stale, and the refresh starts
        time.sleep(0.3)
        fresh = c.get("/resourcesync/cache/resourcelist.xml")
        assert fresh.headers["x-cache-status"] == "HIT"
        assert fresh.headers["etag"] != first.headers["etag"]
        assert b"http://example.org/f/cache/10" in fresh.content


def _not_modified_answers(server) -> int:
    """304s the node answered on the Resource List route (its /metrics)."""
    total = 0
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if (line.startswith("headwater_http_requests_total{") and 'status="304"' in line
                and "resourcelist.xml" in line):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_no_cache_documents_are_never_stored(front_factory):
    front, _ = front_factory()
    with httpx.Client(base_url=front.url, timeout=30) as c:
        assert c.post("/ingest", json=_records(3, "nc"), headers=AUTH).status_code == 200
        for _ in range(2):
            r = c.get("/resourcesync/nc/resourcelist.xml")
            assert r.headers["cache-control"] == "no-cache"
            assert r.headers["x-cache-status"] == "MISS"


def test_sealed_pages_cached_with_their_stored_gzip_copy(front_factory):
    front, server = front_factory()
    with httpx.Client(base_url=front.url, timeout=60) as c:
        r = c.post("/ingest", json=_records(PAGE_SIZE + 5, "sealed"), headers=AUTH)
        assert r.status_code == 200
        index = c.get("/resourcesync/sealed/changelist.xml").text
        page = f"{front.url}/resourcesync/sealed/changelist/0.xml"
        assert page + "<" in index  # sealed: a stable URL, no position
        first, first_body = _raw(c, page, gz=True)
        assert first.headers["content-encoding"] == "gzip"
        assert "immutable" in first.headers["cache-control"]
        second, second_body = _raw(c, page, gz=True)
        assert second.headers["x-cache-status"] == "HIT"
        plain = c.get(page, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert gzip.decompress(second_body) == plain.content
    # the bytes the node stored, compressed once, not re-compressed on the way
    with httpx.Client(timeout=60) as c:
        direct, direct_body = _raw(c, f"{server.url}/resourcesync/sealed/changelist/0.xml",
                                   gz=True)
    assert direct.headers["etag"] == second.headers["etag"]
    assert direct_body == first_body == second_body


def _raw(c: httpx.Client, url: str, *, gz: bool) -> tuple[httpx.Response, bytes]:
    """The body as sent (httpx would otherwise decompress it)."""
    headers = {"Accept-Encoding": "gzip" if gz else "identity"}
    with c.stream("GET", url, headers=headers) as r:
        return r, b"".join(r.iter_raw())
