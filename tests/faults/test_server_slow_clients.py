"""Slow clients reading a 50,000-URL Resource List page one byte at a time.

- other requests are still served promptly: writes, content, probes; further document requests
  get their page or a prompt 429 with Retry-After (app/http/limits.py), never a hang;
- the server's memory stays bounded: pages stream, they are not buffered per client;
- a client that stops reading altogether is dropped after HEADWATER_SEND_TIMEOUT; reading a
  part sent from its cached file, it holds no document slot meanwhile.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil
import pytest

from sitemaps.fixity import Fixity
from tests.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAGE = 50_000
# part 0 of the Resource List Index: exactly one full page (the upload lands in part 1)
PART = "/resourcesync/slow/resourcelist/slow/0.xml"
LIVENESS = 10.0  # seconds: a generous bound meaning "was not starved", not a performance goal

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_page_db(pg_server: str) -> Iterator[str]:
    """A database migrated with a 50,000-entry page size holding one full page of resources,
    written once for the module through the one write path."""
    from datetime import timedelta

    from app.db import migrate
    from app.db.connect import connect
    from app.write.changeset import Doc
    from app.write.writer import write_batch

    name = f"hw_slow_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(pg_server)
    url = urlunsplit(parts._replace(path="/" + name))

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def fill() -> None:
        await admin(f'CREATE DATABASE "{name}"')
        conn = await connect(url)
        try:
            await migrate.upgrade(conn, page_size=PAGE)
            for start in range(0, PAGE, 10_000):
                docs = [Doc(uri=f"http://example.org/slow/{i:06d}", collection="slow",
                            fixity=Fixity(i, "application/pdf", md5=f"{i:032x}",
                                          sha256=f"{i:064x}"))
                        for i in range(start, start + 10_000)]
                await write_batch(conn, docs, page_size=PAGE, seal_after=timedelta(days=1))
        finally:
            await conn.close()

    asyncio.run(fill())
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _start(factory, db_url: str, **env: str):  # type: ignore[no-untyped-def]
    server = factory(DATABASE_URL=db_url, HEADWATER_PAGE_SIZE=str(PAGE), **env)
    if httpx.get(server.url + PART, timeout=60).status_code == 404:
        pytest.skip("Resource List parts are not served yet")
    return server


class SlowReader(threading.Thread):
    """GET a page over a socket with a tiny receive buffer, one byte at a time."""

    def __init__(self, port: int, path: str, delay: float = 0.001, read: bool = True):
        super().__init__(daemon=True)
        self.port, self.path, self.delay, self.read = port, path, delay, read
        self.received = bytearray()
        self.closed_by_server = False
        self.stop = threading.Event()

    def run(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", self.port))
        sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        sock.settimeout(30)
        try:
            while not self.stop.is_set():
                if not self.read:
                    time.sleep(0.1)
                    continue
                byte = sock.recv(1 if self.delay else 65536)  # delay 0: drain what is left
                if not byte:
                    self.closed_by_server = True
                    return
                self.received += byte
                time.sleep(self.delay)
        except OSError:
            self.closed_by_server = True
        finally:
            sock.close()


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def test_slow_readers_do_not_starve_others_and_memory_stays_bounded(
    live_server_factory, big_page_db
):
    server = _start(live_server_factory, big_page_db, HEADWATER_SEND_TIMEOUT="600s",
                    HEADWATER_BUSY_WAIT="500ms")
    assert httpx.put(server.url + "/content/files/small.txt", content=b"small",
                     headers=AUTH).status_code == 201
    page = httpx.get(server.url + PART, timeout=60)
    assert page.status_code == 200 and page.content.count(b"<url>") == PAGE
    page_bytes = len(page.content)
    proc = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
    rss_before = proc.memory_info().rss

    readers = [SlowReader(server.port, PART) for _ in range(8)]
    for reader in readers:
        reader.start()
    try:
        time.sleep(3)  # every reader is now stalled on a full socket buffer
        rss_during = proc.memory_info().rss
        with httpx.Client(base_url=server.url, timeout=LIVENESS) as client:
            checks = {
                "healthz": lambda: client.get("/healthz"),
                "readyz": lambda: client.get("/readyz"),
                "content": lambda: client.get("/content/files/small.txt"),
                "ingest": lambda: client.post("/ingest", headers=AUTH, json=[
                    {"uri": "http://example.org/elsewhere/new", "collection": "elsewhere"}]),
                "capabilitylist": lambda: client.get("/resourcesync/slow/capabilitylist.xml"),
                "resourcelist": lambda: client.get(PART),
            }
            for name, call in checks.items():
                response, took = _timed(call)
                assert took < LIVENESS, f"{name} took {took:.1f}s"
                if name in ("capabilitylist", "resourcelist"):
                    assert response.status_code in (200, 429), (name, response.status_code)
                    if response.status_code == 429:
                        assert int(response.headers["retry-after"]) >= 1
                else:
                    assert response.status_code == 200, (name, response.text)
        assert all(len(r.received) < page_bytes for r in readers)
        growth = rss_during - rss_before
        streaming = sum(r.received.startswith(b"HTTP/1.1 200") for r in readers)
        assert streaming >= 1
        # A reader buffered in full costs at least a page (the body bytes, plus its text while
        # it is built). Streaming costs a few 5,000-row chunks per reader (measured ≈ 5.6 MB
        # of a 13 MB page), whatever the page or store size.
        assert growth < streaming * 0.75 * page_bytes, (
            f"RSS grew {growth / 1e6:.1f} MB with {streaming} slow readers of a "
            f"{page_bytes / 1e6:.1f} MB page")
    finally:
        for reader in readers:
            reader.stop.set()
        for reader in readers:
            reader.join(10)


def _stall_then_recover(server, path: str, expect_while_stalled: int) -> None:  # type: ignore[no-untyped-def]
    """A client asks for `path` and never reads; a second request meanwhile gets
    `expect_while_stalled`; after HEADWATER_SEND_TIMEOUT the server has dropped the stalled
    client (it received less than a whole page) and the path is served again."""
    stalled = SlowReader(server.port, path, read=False)
    stalled.start()
    try:
        time.sleep(1)
        busy = httpx.get(server.url + path, timeout=LIVENESS)
        assert busy.status_code == expect_while_stalled
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            again = httpx.get(server.url + path, timeout=60)
            if again.status_code == 200:
                break
            time.sleep(0.5)
        assert again.status_code == 200, "the stalled client's slot was never freed"
        time.sleep(3)  # past HEADWATER_SEND_TIMEOUT: the server drops the stalled client
        # the stalled client's connection was closed: draining it ends, short of a whole page
        stalled.delay = 0
        stalled.read = True
        stalled.join(30)
        assert stalled.closed_by_server
        assert len(stalled.received) < len(again.content)
    finally:
        stalled.stop.set()
        stalled.join(5)


def test_a_client_that_stops_reading_a_streamed_document_is_dropped_and_its_slot_freed(
    live_server_factory, big_page_db
):
    """The one-page Resource List (50,000 URLs) streams from the database: the stalled client
    holds the one document slot (and a connection) until it is dropped. (Other tests here
    write outside the `slow` collection, so it stays one page.)"""
    server = _start(live_server_factory, big_page_db, HEADWATER_SEND_TIMEOUT="2s",
                    HEADWATER_DOCUMENT_CONCURRENCY="1", HEADWATER_BUSY_WAIT="500ms")
    _stall_then_recover(server, "/resourcesync/slow/resourcelist.xml", 429)


def test_a_client_that_stops_reading_a_cached_part_holds_no_slot(
    live_server_factory, big_page_db
):
    """A part is sent from its cached file, which needs no document slot: the stalled client
    holds none, so the one slot serves the next request at once; it is still dropped."""
    server = _start(live_server_factory, big_page_db, HEADWATER_SEND_TIMEOUT="2s",
                    HEADWATER_DOCUMENT_CONCURRENCY="1", HEADWATER_BUSY_WAIT="500ms")
    _stall_then_recover(server, PART, 200)


def test_slow_content_readers_leave_the_pool_free(live_server_factory):
    """A dozen clients downloading a large file slowly (more than the pool's 10 connections)
    hold no database connection while the bytes flow: a Resource List and a write are still
    answered. Content routes take a connection only around their query (app/http/deps.py)."""
    server = live_server_factory(HEADWATER_SEND_TIMEOUT="600s")
    big = b"0123456789abcdef" * (2 * 1024 * 1024)  # 32 MiB: far more than the socket buffers
    put = httpx.put(server.url + "/content/slowc/big.bin", content=big, headers=AUTH,
                    timeout=120)
    assert put.status_code == 201, put.text
    readers = [SlowReader(server.port, "/content/slowc/big.bin", delay=0.01)
               for _ in range(12)]
    for reader in readers:
        reader.start()
    try:
        time.sleep(3)  # every reader is now mid-transfer, its socket buffers full
        assert all(r.received.startswith(b"HTTP/1.1 200") for r in readers)
        with httpx.Client(base_url=server.url, timeout=LIVENESS) as client:
            ingest = client.post("/ingest", headers=AUTH, json=[
                {"uri": "http://example.org/slowc/one", "collection": "slowc"}])
            assert ingest.status_code == 200, ingest.text
            listing = client.get("/resourcesync/slowc/resourcelist.xml")
            assert listing.status_code == 200, listing.text
            assert b"http://example.org/slowc/one" in listing.content
            small = client.put("/content/slowc/small.txt", content=b"small", headers=AUTH)
            assert small.status_code == 201, small.text
        assert all(len(r.received) < len(big) for r in readers)  # still downloading
    finally:
        for reader in readers:
            reader.stop.set()
        for reader in readers:
            reader.join(10)
