"""The server's dump task: Change Dumps for newly sealed pages, Resource Dumps once a day, and
any collection an operator asks for (`POST /resourcesync/{collection}/resourcedump/build`).

One task per process, building one collection at a time. With several workers each runs this
loop; the per-collection advisory lock makes a second worker skip a collection being built,
and a finished build is seen as current by the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from app.db.queries import load_queries
from app.dumps.builder import Builder, DumpError

__all__ = ["RESOURCE_DUMP_EVERY", "POLL", "DumpScheduler", "dump_scheduler"]

log = logging.getLogger(__name__)
Q = load_queries("app", "sql/dumps.sql")

RESOURCE_DUMP_EVERY = timedelta(hours=24)
POLL = 60.0  # seconds between looks for newly sealed pages


class DumpScheduler:
    def __init__(self, app: FastAPI):
        self.app = app
        self.wanted: asyncio.Queue[str] = asyncio.Queue()
        self.builder = Builder(app.state.pool, app.state.settings, app.state.store)

    def request(self, collection: str) -> None:
        self.wanted.put_nowait(collection)

    async def _build(self, name: str, *, force: bool) -> None:
        try:
            for r in await self.builder.build_collection(name, force=force, wait=force):
                if r.outcome == "built":
                    log.info("dumps: %s %s: %d packages, %d bytes", r.collection, r.kind,
                             r.packages, r.bytes)
        except DumpError as exc:
            log.error("dumps: %s: %s", name, exc)
        except Exception:
            log.exception("dumps: building %s failed", name)

    async def _due(self) -> list[str]:
        pool = self.app.state.pool
        page_size = self.app.state.settings.page_size
        async with pool.acquire() as conn:
            names = [r["name"] for r in
                     await conn.fetch(Q["collections_with_unbuilt_pages"], page_size)]
            names += [r["name"] for r in
                      await conn.fetch(Q["collections_due_resourcedump"], RESOURCE_DUMP_EVERY)]
        return list(dict.fromkeys(names))

    async def run(self) -> None:
        while True:
            try:
                for name in await self._due():
                    await self._build(name, force=False)
            except Exception:
                log.exception("dumps: scheduled pass failed")
            try:
                name = await asyncio.wait_for(self.wanted.get(), POLL)
            except TimeoutError:
                continue
            await self._build(name, force=True)


@asynccontextmanager
async def dump_scheduler(app: FastAPI) -> AsyncIterator[None]:
    scheduler = DumpScheduler(app)
    app.state.dump_scheduler = scheduler
    task = asyncio.create_task(scheduler.run(), name="dump-scheduler")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
