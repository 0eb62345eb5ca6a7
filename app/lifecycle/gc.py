"""Garbage collection of the content store: files no row names any more go, after a grace
period.

Bytes are written to the store before the row that names them commits (docs/reliability.md),
so a file no row names may be an upload still in flight. A file is a candidate only when it has
not been written for the grace period (`HEADWATER_GC_GRACE`), and an upload of bytes already
in the store replaces the file (fresh mtime) before its row is written
(`app/store/content.py`). Removal renames the file aside first and checks its age again: an
upload that replaced it in between is put back, never lost. Dump packages hold copies of the
bytes they pack, and a build only reads keys its snapshot's rows name, which stay named (only
a purge, which holds every builder lock, forgets keys): so a name in a row is all that
protects a file. Leftover `*.part` files of killed uploads go after the same grace period.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg

from app.lifecycle.guard import Q, store_locked
from app.settings import Settings
from app.store.content import ContentStore

__all__ = ["GcReport", "collect", "run_collector", "candidates", "remove_if_old"]

log = logging.getLogger(__name__)
BATCH = 10_000  # keys per COPY into the candidates table, and per removal hop


@dataclass(frozen=True)
class GcReport:
    scanned: int
    files_freed: int
    bytes_freed: int
    partials_freed: int


def candidates(store: ContentStore, cutoff: float) -> Iterator[list[str]]:
    """Keys of store files last written before `cutoff`, in batches (flat memory)."""
    batch: list[str] = []
    if not store.root.is_dir():
        return
    for top in sorted(os.scandir(store.root), key=lambda e: e.name):
        if len(top.name) != 2 or not top.is_dir():
            continue
        for mid in os.scandir(top.path):
            if not mid.is_dir():
                continue
            for entry in os.scandir(mid.path):
                try:
                    if entry.is_file() and entry.stat().st_mtime < cutoff:
                        batch.append(entry.name)
                except FileNotFoundError:
                    continue
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
    if batch:
        yield batch


def remove_if_old(store: ContentStore, key: str, cutoff: float) -> int | None:
    """Rename aside, check the age again, delete; return the bytes freed (None: kept)."""
    try:
        path = store.path_for(key)
    except ValueError:
        return None  # not a store file
    aside = store.tmp / f"gc-{uuid.uuid4().hex}.{key}"
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    st = aside.stat()
    if st.st_mtime >= cutoff:
        # an upload of these bytes wrote the file since the candidate list was made
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # the upload put its own copy back: same bytes
        aside.unlink()
        return None
    aside.unlink()
    return st.st_size


def _remove_all(store: ContentStore, keys: list[str], cutoff: float) -> tuple[int, int]:
    files = nbytes = 0
    for key in keys:
        freed = remove_if_old(store, key, cutoff)
        if freed is not None:
            files, nbytes = files + 1, nbytes + freed
    return files, nbytes


def _remove_partials(store: ContentStore, cutoff: float) -> int:
    """Old `*.part` files of killed uploads; and files a removal set aside but did not finish
    with (a crash between the rename and the check): put back when their place is empty (the
    next pass judges them again), else dropped (the place holds the same bytes)."""
    n = 0
    for aside in store.tmp.glob("gc-*") if store.tmp.is_dir() else []:
        key = aside.name.rpartition(".")[2]
        try:
            os.link(aside, store.path_for(key))
        except (FileExistsError, ValueError):
            pass
        except FileNotFoundError:
            continue
        aside.unlink(missing_ok=True)
    for leftover in store.tmp.glob("*.part") if store.tmp.is_dir() else []:
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                n += 1
        except FileNotFoundError:
            continue
    return n


async def collect(conn: asyncpg.Connection, store: ContentStore, *, grace: float) -> GcReport:
    """One pass: remove store files no row names, last written more than `grace` s ago."""
    cutoff = time.time() - grace
    scanned = files = nbytes = 0
    store.tmp.mkdir(parents=True, exist_ok=True)
    async with store_locked(conn):
        # every candidate into one temporary table, then one anti-join against the rows: a
        # single pass over the change log however many files the store holds, and memory that
        # stays at one batch of keys
        found = candidates(store, cutoff)
        async with conn.transaction():
            await conn.execute(Q["create_gc_candidates"])
            while (keys := await asyncio.to_thread(next, found, None)) is not None:
                scanned += len(keys)
                await conn.copy_records_to_table("gc_candidates", records=[(k,) for k in keys],
                                                 columns=["key"])
            await conn.execute(Q["analyze_gc_candidates"])
            dead: list[str] = []
            async for row in conn.cursor(Q["unreferenced_candidates"], prefetch=BATCH):
                dead.append(row["key"])
                if len(dead) >= BATCH:
                    f, b = await asyncio.to_thread(_remove_all, store, dead, cutoff)
                    files, nbytes, dead = files + f, nbytes + b, []
            f, b = await asyncio.to_thread(_remove_all, store, dead, cutoff)
            files, nbytes = files + f, nbytes + b
        partials = await asyncio.to_thread(_remove_partials, store, cutoff)
    return GcReport(scanned, files, nbytes, partials)


async def run_collector(pool: asyncpg.Pool, settings: Settings, store: ContentStore) -> None:
    """The periodic pass (a supervised task): one collection every HEADWATER_GC_EVERY."""
    every = settings.gc_every.total_seconds()
    while True:
        await asyncio.sleep(every)
        async with pool.acquire() as conn:
            report = await collect(conn, store, grace=settings.gc_grace.total_seconds())
        log.info("gc: %d files, %d bytes freed (%d scanned, %d partial uploads)",
                 report.files_freed, report.bytes_freed, report.scanned, report.partials_freed)
