"""A light periodic task that seals Change List pages older than `HEADWATER_SEAL_AFTER`, so
quiet collections get immutable pages (and Change Dumps) without waiting for a write."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from fastapi import FastAPI

from app.write.writer import seal_stale_pages

__all__ = ["sealer", "interval_for"]

log = logging.getLogger(__name__)


def interval_for(seal_after: timedelta) -> float:
    """Check a few times per sealing period, at most once a minute, at least once a second."""
    return min(60.0, max(1.0, seal_after.total_seconds() / 4))


async def _run(app: FastAPI) -> None:
    settings = app.state.settings
    every = interval_for(settings.seal_after)
    while True:
        await asyncio.sleep(every)
        try:
            async with app.state.pool.acquire() as conn:
                sealed = await seal_stale_pages(conn, page_size=settings.page_size,
                                                seal_after=settings.seal_after)
            if sealed:
                log.info("sealed change-list pages by age", extra={"collections": sealed})
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed round is retried at the next tick
            log.exception("sealing stale change-list pages failed")


@asynccontextmanager
async def sealer(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_run(app), name="headwater-sealer")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
