"""Garbage collection: store files no row names go after the grace period; an upload whose
file is written but whose row is not yet committed is never lost, even racing the collector."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import pytest

from app.lifecycle.gc import collect
from app.store.content import ContentStore
from app.write.changeset import Doc
from app.write.writer import write_batch
from sitemaps.fixity import Fixity
from tests.conftest import PAGE_SIZE

pytestmark = pytest.mark.asyncio
BASE = "http://127.0.0.1:8000"
DAY = 86_400.0


async def _put(store: ContentStore, data: bytes) -> str:
    async def one():  # type: ignore[no-untyped-def]
        yield data
    return (await store.put_stream(one(), max_bytes=1 << 20)).key


def _age(store: ContentStore, key: str, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(store.path_for(key), (old, old))


async def _name(db, settings, key: str, data: bytes, name: str) -> None:  # type: ignore[no-untyped-def]
    doc = Doc(uri=f"{BASE}/content/g/{name}", collection="g", content_key=key,
              fixity=Fixity(length=len(data), sha256=key))
    await write_batch(db, [doc], page_size=PAGE_SIZE, seal_after=settings.seal_after)


async def test_gc_frees_old_unnamed_files_only(db, settings, data_dir):  # type: ignore[no-untyped-def]
    store = ContentStore(settings.content_dir)
    named = await _put(store, b"named by a row")
    await _name(db, settings, named, b"named by a row", "named")
    orphan = await _put(store, b"orphan: its row never came" * 10)
    fresh = await _put(store, b"in flight: written, row not yet committed")
    for key in (named, orphan):
        _age(store, key, 2 * DAY)
    (store.tmp / "dead.part").write_bytes(b"killed upload")
    os.utime(store.tmp / "dead.part", (time.time() - 2 * DAY,) * 2)

    report = await collect(db, store, grace=DAY)
    assert (report.files_freed, report.bytes_freed) == (1, len(b"orphan: its row never came" * 10))
    assert report.partials_freed == 1 and report.scanned == 2
    assert not store.exists(orphan)
    assert store.exists(named) and store.exists(fresh)

    # the in-flight upload's row commits after the pass: its bytes are there
    await _name(db, settings, fresh, b"in flight: written, row not yet committed", "fresh")
    assert store.exists(fresh)
    # a history-only version (replaced by a newer one) stays named by the change log
    newer = await _put(store, b"newer")
    await _name(db, settings, newer, b"newer", "named")
    _age(store, named, 2 * DAY)
    assert (await collect(db, store, grace=DAY)).files_freed == 0
    assert store.exists(named)

    # a removal interrupted between setting a file aside and judging it: put back, not lost
    os.replace(store.path_for(fresh), store.tmp / f"gc-0123.{fresh}")
    await collect(db, store, grace=DAY)
    assert store.exists(fresh) and not list(store.tmp.glob("gc-*"))


async def test_upload_racing_the_collector_is_never_lost(db, database_url, settings):  # type: ignore[no-untyped-def]
    """Each round: bytes already in the store as an old orphan are uploaded again while a
    collection pass runs; whichever order they interleave in, once the row commits the bytes
    are in the store."""
    from app.db.connect import connect

    store = ContentStore(settings.content_dir)
    gc_conn = await connect(database_url)
    try:
        for i in range(30):
            data = f"racing upload {i}\n".encode() * (i + 1)
            key = hashlib.sha256(data).hexdigest()
            await _put(store, data)
            _age(store, key, 2 * DAY)  # an orphan the collector is free to take...

            async def upload(i: int = i, data: bytes = data) -> None:  # ...until named
                await asyncio.sleep(0.0005 * (i % 5))
                k = await _put(store, data)
                await asyncio.sleep(0.001 * (i % 3))  # file written, row not yet committed
                await _name(db, settings, k, data, f"race-{i}")

            await asyncio.gather(upload(), collect(gc_conn, store, grace=DAY))
            assert store.exists(key), f"round {i}: the upload's bytes were collected"
            assert store.path_for(key).read_bytes() == data
    finally:
        await gc_conn.close()
    # and a pass afterwards still keeps every named file
    for i in range(30):
        _age(store, hashlib.sha256(f"racing upload {i}\n".encode() * (i + 1)).hexdigest(), DAY * 2)
    assert (await collect(db, store, grace=DAY)).files_freed == 0


async def test_gc_route_reports_what_it_freed(client, auth, settings):  # type: ignore[no-untyped-def]
    store = ContentStore(settings.content_dir)
    key = await _put(store, b"x" * 1234)
    _age(store, key, 2 * DAY)
    assert (await client.post("/admin/gc")).status_code == 401
    r = await client.post("/admin/gc", headers=auth)
    assert r.status_code == 200
    assert r.json()["files_freed"] == 1 and r.json()["bytes_freed"] == 1234


async def test_the_server_collects_periodically(database_url, data_dir):  # type: ignore[no-untyped-def]
    from app.main import create_app
    from app.settings import load_settings

    settings = load_settings(database_url=database_url, data_dir=data_dir, page_size=PAGE_SIZE,
                             base_url=BASE, gc_every="0.2s", gc_grace="1h")
    store = ContentStore(settings.content_dir)
    old, young = await _put(store, b"old orphan"), await _put(store, b"young orphan")
    _age(store, old, 2 * DAY)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if not store.exists(old):
                break
            await asyncio.sleep(0.1)
        assert app.state.tasks.states()["gc"]["running"]
    assert not store.exists(old) and store.exists(young)
