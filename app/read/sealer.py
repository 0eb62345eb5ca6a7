"""A light periodic task that seals Change List pages older than `HEADWATER_SEAL_AFTER`, so
quiet collections get immutable pages (and Change Dumps) without waiting for a write."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from app.settings import Settings
from app.write.writer import seal_stale_pages

__all__ = ["run_sealer", "interval_for"]

log = logging.getLogger(__name__)


def interval_for(seal_after: timedelta) -> float:
    """Check a few times per sealing period, at most once a minute, at least once a second."""
    return min(60.0, max(1.0, seal_after.total_seconds() / 4))


async def run_sealer(pool: asyncpg.Pool, settings: Settings) -> None:
    """Forever: every `interval_for(seal_after)`, seal what is due. A failed round (the
    database briefly away) is logged and retried at the next tick."""
    every = interval_for(settings.seal_after)
    while True:
        await asyncio.sleep(every)
        try:
            async with pool.acquire(timeout=every) as conn:
                sealed = await seal_stale_pages(conn, page_size=settings.page_size,
                                                seal_after=settings.seal_after)
            if sealed:
                log.info("sealed change-list pages by age", extra={"collections": sealed})
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.warning("sealing stale change-list pages failed; retrying", exc_info=True)
