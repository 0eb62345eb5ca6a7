"""Running the notifier: one worker per configured hub, in the web process (a lifespan hook)
or standalone (`headwater notifier`, `python -m notifier`); and its state for /readyz,
/metrics and the status page, read from the database so every process reports the same.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from app.settings import Settings
from notifier.hub import HubClient
from notifier.tailer import HubWorker, Q, Tuning
from sitemaps.format import w3c

__all__ = ["Notifier", "tuning_from", "read_state", "lifespan_hook", "run_standalone"]

log = logging.getLogger("notifier")


def tuning_from(settings: Settings) -> Tuning:
    return Tuning(batch=settings.notify_batch,
                  window=settings.notify_window.total_seconds(),
                  poll=settings.notify_poll.total_seconds())


class Notifier:
    """Every hub's worker, sharing one HTTP client; `run` returns once `stop` is set."""

    def __init__(self, settings: Settings, dsn: str, *, tuning: Tuning | None = None,
                 http: httpx.AsyncClient | None = None):
        self.settings, self.dsn = settings, dsn
        self.tuning = tuning or tuning_from(settings)
        self._http = http

    async def run(self, stop: asyncio.Event) -> None:
        http = self._http or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False,
            headers={"User-Agent": "headwater-notifier"})
        try:
            workers = [
                HubWorker(dsn=self.dsn, hub=hub, base_url=self.settings.base_url, stop=stop,
                          client=HubClient(http, hub, self.settings.hub_mode),
                          tuning=self.tuning)
                for hub in self.settings.hub_url
            ]
            await asyncio.gather(*(w.run() for w in workers))
        finally:
            if self._http is None:
                await http.aclose()


async def read_state(conn: asyncpg.Connection, settings: Settings) -> dict[str, Any]:
    """Per hub: lag in changes and seconds, last success, failures (never a reason for 503)."""
    if not settings.hub_url:
        return {"status": "off", "reason": "no HEADWATER_HUB_URL"}
    hubs: dict[str, Any] = {}
    for r in await conn.fetch(Q["state"], settings.hub_url):
        pending = r["oldest_pending"]
        hubs[r["hub"]] = {
            "position": r["position"],
            "lag_positions": max(0, r["head"] - r["position"]),
            "lag_seconds": round(max(0.0, (r["now"] - pending).total_seconds()), 3)
            if pending else 0.0,
            "last_success": w3c(r["last_success"]) if r["last_success"] else None,
            "last_failure": w3c(r["last_failure"]) if r["last_failure"] else None,
            "consecutive_failures": r["consecutive_failures"],
            "permanent_failures": r["permanent_failures"],
            "last_error": r["last_error"],
        }
    return {"status": "on", "mode": settings.hub_mode, "runs": settings.notifier, "hubs": hubs}


@asynccontextmanager
async def lifespan_hook(app: FastAPI) -> AsyncIterator[None]:
    """In the web process: report state always; notify when hubs are configured and
    HEADWATER_NOTIFIER=inprocess (several workers: the hub's lock picks one)."""
    settings: Settings = app.state.settings

    async def state() -> dict[str, Any]:
        try:
            async with app.state.pool.acquire(timeout=5) as conn:
                return await read_state(conn, settings)
        except Exception as exc:  # the database being down is /readyz's business, not ours
            return {"status": "unknown", "error": type(exc).__name__}

    app.state.notifier_state = state
    if not settings.hub_url:
        log.info("notifier off: no HEADWATER_HUB_URL")
        yield
        return
    if settings.notifier != "inprocess":
        log.info("notifier external: run `headwater notifier` beside the web process")
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(Notifier(settings, app.state.dsn).run(stop), name="notifier")
    log.info("notifier on: %s mode, hubs %s", settings.hub_mode, ", ".join(settings.hub_url))
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task


async def run_standalone(settings: Settings, dsn: str) -> int:
    """`headwater notifier`: migrate, then notify until SIGINT/SIGTERM; 0 on a clean stop."""
    from app.db import migrate
    from app.db.connect import connect

    if not settings.hub_url:
        log.warning("notifier off: no HEADWATER_HUB_URL")
        return 0
    conn = await connect(dsn)
    try:
        await migrate.upgrade(conn, page_size=settings.page_size)
    finally:
        await conn.close()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("notifier on: %s mode, hubs %s", settings.hub_mode, ", ".join(settings.hub_url))
    await Notifier(settings, dsn).run(stop)
    log.info("notifier stopped")
    return 0
