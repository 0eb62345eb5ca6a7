"""Being the one active notifier for a hub: a dedicated connection that holds the hub's
session advisory lock and LISTENs on the log's doorbell channel.

Never a pooled connection: asyncpg's pool reset runs `pg_advisory_unlock_all()` and
`UNLISTEN *` when a connection is released, which would silently drop both.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import asyncpg

from notifier.config import Connect

__all__ = ["CHANNEL", "Lease", "hub_lock_key", "lead"]

log = logging.getLogger(__name__)
CHANNEL = "headwater_changes"


def hub_lock_key(hub: str) -> int:
    """A stable signed 64-bit advisory lock key per hub URL, the same in every process."""
    digest = hashlib.sha256(f"headwater-notifier:{hub}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Lease:
    """The held lock: `conn` to work on, `wake` set by each NOTIFY, `lost` once the connection
    is gone (the lock with it)."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn
        self.wake = asyncio.Event()
        self.lost = asyncio.Event()

    def _on_notify(self, *_: object) -> None:
        self.wake.set()

    def _on_terminate(self, *_: object) -> None:
        self.lost.set()
        self.wake.set()  # so a waiting loop notices at once


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@asynccontextmanager
async def lead(connect: Connect, hub: str, stop: asyncio.Event, *, name: str | None = None,
               retry_every: float = 1.0) -> AsyncIterator[Lease | None]:
    """Connect, then wait until this process holds the hub's lock (or `stop` is set: yields
    None). Connection errors propagate; the caller reconnects with backoff. `name`: what the
    log lines call the hub."""
    name = name or hub
    key = hub_lock_key(hub)
    conn = await connect()
    lease = Lease(conn)
    try:
        conn.add_termination_listener(lease._on_terminate)
        waited = False
        while not stop.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                break
            if not waited:
                log.info("notifier for %s: another process holds it; standing by", name)
                waited = True
            await _wait(stop, retry_every)
        if stop.is_set():
            yield None
            return
        # LISTEN after the lock: the first drain reads from the durable cursor anyway
        await conn.add_listener(CHANNEL, lease._on_notify)
        log.info("notifier for %s: active", name)
        yield lease
    finally:
        # closing ends the session: the lock and the LISTEN go with it
        with suppress(Exception):
            await asyncio.wait_for(conn.close(), 5)
        if not conn.is_closed():
            conn.terminate()
