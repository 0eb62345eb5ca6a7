"""The server's dump task: Change Dumps for newly sealed pages, Resource Dumps once a day, and
any collection an operator asks for (`POST /resourcesync/{collection}/resourcedump/build`).

One task per process, building one collection at a time. With several workers each runs this
loop; the per-collection advisory lock makes a second worker skip a collection being built,
and a finished build is seen as current by the next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import asyncpg

from app.db.queries import load_queries
from app.dumps.builder import Builder, DumpError
from app.settings import Settings
from app.store.content import ContentStore

__all__ = ["RESOURCE_DUMP_EVERY", "POLL", "DumpScheduler"]

log = logging.getLogger(__name__)
Q = load_queries("app.dumps", "sql/dumps.sql")

RESOURCE_DUMP_EVERY = timedelta(hours=24)
POLL = 60.0  # seconds between looks for newly sealed pages


class DumpScheduler:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, store: ContentStore,
                 dsn: str | None = None):
        self.pool, self.settings = pool, settings
        self.wanted: asyncio.Queue[str] = asyncio.Queue()
        # the builder's lock connection is its own (with `dsn`), so a build never holds one
        # of the request pool's connections for its duration
        self.builder = Builder(pool, settings, store, dsn=dsn)
        # when this process last found a collection's Resource Dump current: an unchanged
        # collection is due again only a day later, not at every poll
        self.checked: dict[str, float] = {}

    def request(self, collection: str) -> None:
        self.wanted.put_nowait(collection)

    async def _build(self, name: str, *, force: bool, resource_dump: bool = True) -> None:
        try:
            for r in await self.builder.build_collection(
                    name, force=force, wait=force, resource_dump=resource_dump):
                if r.kind == "resourcedump" and r.outcome in ("current", "empty", "withheld"):
                    self.checked[name] = time.monotonic()
                if r.outcome == "built":
                    log.info("dumps: %s %s: %d packages, %d bytes", r.collection, r.kind,
                             r.packages, r.bytes)
                if r.missing:
                    log.error("dumps: %s %s: %d file(s) left out, their bytes are missing "
                              "from the content store", r.collection, r.kind, r.missing)
        except DumpError as exc:
            log.error("dumps: %s: %s", name, exc)
        except Exception:
            log.exception("dumps: building %s failed", name)

    async def _due(self) -> tuple[list[str], list[str]]:
        """Collections with sealed pages to pack, and collections due a Resource Dump."""
        pool = self.pool
        page_size = self.settings.page_size
        every = RESOURCE_DUMP_EVERY.total_seconds()
        now = time.monotonic()
        async with pool.acquire() as conn:
            pages = [r["name"] for r in
                     await conn.fetch(Q["collections_with_unbuilt_pages"], page_size)]
            due = [r["name"] for r in
                   await conn.fetch(Q["collections_due_resourcedump"], RESOURCE_DUMP_EVERY)
                   if now - self.checked.get(r["name"], -every) >= every]
        return pages, due

    async def run(self) -> None:
        # the first scheduled pass comes a poll after start-up, not during it: a restart is
        # not a reason to compete with the requests the server is starting to answer
        last_pass = time.monotonic()
        while True:
            wait = max(0.0, POLL - (time.monotonic() - last_pass))
            try:
                name = await asyncio.wait_for(self.wanted.get(), wait)
            except TimeoutError:
                pass
            else:
                await self._build(name, force=True)
                continue
            last_pass = time.monotonic()
            try:
                pages, due = await self._due()
                for name in pages:  # a sealed page does not make the Resource Dump due
                    await self._build(name, force=False, resource_dump=False)
                for name in due:
                    await self._build(name, force=False)
            except Exception:
                log.exception("dumps: scheduled pass failed")
