"""The dump builder's footprint on the database and its tolerance of a damaged store: no
snapshot and no request-pool connection is held while files are read and packed, and bytes
missing from the content store leave one entry out, never every later dump of the collection.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from lxml import etree

import app.dumps.builder as builder_module
from app.dumps.builder import Builder
from app.write.writer import seal_stale_pages
from tests.conftest import PAGE_SIZE
from tests.integration.test_dumps_support import check_package, entries, local_record

pytestmark = pytest.mark.asyncio

# other sessions of this database holding a snapshot (or inside a transaction)
_HOLDING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND (backend_xmin IS NOT NULL OR state LIKE 'idle in transaction%')
"""


async def _ingest(client, auth, recs) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/ingest", json=recs, headers=auth)
    assert r.status_code == 200, r.text


async def _seal(db) -> None:  # type: ignore[no-untyped-def]
    await seal_stale_pages(db, page_size=PAGE_SIZE, seal_after=timedelta(0))


async def test_no_snapshot_or_pool_connection_is_held_while_packing(
        app, client, auth, db, data_dir, database_url, monkeypatch):
    await _ingest(client, auth, [local_record(data_dir, "bb:a", f"f{i}.txt", b"x%d" % i)
                                 for i in range(5)])
    await _seal(db)  # page 0 sealed: a Change Dump to build as well
    loop = asyncio.get_running_loop()
    pool = app.state.pool
    seen: list[tuple[int, int]] = []
    real_measure = builder_module.measure

    def measure(path):  # type: ignore[no-untyped-def]
        # runs on a worker thread while a package is measured: ask the database, on the
        # event loop, who holds a snapshot right now
        holding = asyncio.run_coroutine_threadsafe(db.fetchval(_HOLDING), loop).result(10)
        seen.append((holding, pool.get_size() - pool.get_idle_size()))
        return real_measure(path)

    monkeypatch.setattr(builder_module, "measure", measure)
    results = await Builder(pool, app.state.settings, app.state.store,
                            dsn=database_url).build_collection("bb")
    assert {(r.kind, r.outcome) for r in results} == {("changedump", "built"),
                                                      ("resourcedump", "built")}
    assert seen and all(holding == 0 for holding, _ in seen), seen
    assert all(in_use == 0 for _, in_use in seen), seen


async def test_missing_bytes_leave_one_entry_out_not_every_later_dump(
        app, client, auth, db, data_dir, caplog):
    caplog.set_level(logging.ERROR)
    lost = local_record(data_dir, "mb", "lost.txt", b"these bytes will be lost")
    await _ingest(client, auth, [lost, local_record(data_dir, "mb", "kept.txt", b"kept")])
    await _seal(db)  # page 0: lost.txt and kept.txt
    await _ingest(client, auth, [local_record(data_dir, "mb", "later.txt", b"later")])
    await _seal(db)  # page 1: later.txt
    app.state.store.path_for(lost["sha256"]).unlink()  # the store lost a file

    results = await Builder(app.state.pool, app.state.settings,
                            app.state.store).build_collection("mb")
    by_page = {r.page: r for r in results if r.kind == "changedump"}
    assert set(by_page) == {0, 1}  # the later page is packed too
    assert by_page[0].outcome == "built" and by_page[0].missing == 1
    assert by_page[1].outcome == "built" and by_page[1].missing == 0
    rd = [r for r in results if r.kind == "resourcedump"][0]
    assert rd.outcome == "built" and rd.missing == 1
    assert lost["uri"] in caplog.text and "missing" in caplog.text

    listing = await client.get("/resourcesync/mb/changedump.xml")
    assert listing.status_code == 200
    names = []
    for e in entries(etree.fromstring(listing.content)):
        body = (await client.get(e["loc"].removeprefix("http://127.0.0.1:8000"))).content
        manifest, _ = check_package(body, "changedump-manifest")
        names += [m["loc"].rsplit("/", 1)[-1] for m in entries(manifest)]
    assert names == ["kept.txt", "later.txt"]
