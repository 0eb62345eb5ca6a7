"""Running the notifier: one worker per configured hub, until asked to stop; and its state for
/readyz, /metrics and the status page, read from the database so every process reports the same.

Whoever runs it (the web process's background tasks, or the `headwater notifier` command) passes
a `NotifierConfig` and a way to open a dedicated connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import httpx

from notifier.config import Connect, NotifierConfig
from notifier.hub import HubClient
from notifier.hubs import quiet_http_logs
from notifier.queries import Q
from notifier.tailer import HubWorker
from sitemaps.format import w3c

__all__ = ["Notifier", "read_state"]

log = logging.getLogger("notifier")


class Notifier:
    """Every hub's worker, sharing one HTTP client; `run` returns once `stop` is set."""

    def __init__(self, config: NotifierConfig, connect: Connect, *,
                 http: httpx.AsyncClient | None = None):
        self.config, self.connect = config, connect
        self._http = http

    async def run(self, stop: asyncio.Event) -> None:
        quiet_http_logs()  # httpx would log each publish URL, credentials included
        http = self._http or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False,
            headers={"User-Agent": "headwater-notifier"})
        try:
            workers = [
                HubWorker(connect=self.connect, hub=hub.url, base_url=self.config.base_url,
                          stop=stop, tuning=self.config.tuning, name=hub.name,
                          client=HubClient(http, hub.url, self.config.mode,
                                           publish_url=hub.publish_url))
                for hub in self.config.hub_list()
            ]
            await asyncio.gather(*(w.run() for w in workers))
        finally:
            if self._http is None:
                await http.aclose()


async def read_state(conn: asyncpg.Connection, config: NotifierConfig,
                     runs: str = "inprocess") -> dict[str, Any]:
    """Per hub: lag in changes and seconds, last success, failures (never a reason for 503)."""
    if not config.enabled:
        return {"status": "off", "reason": "no HEADWATER_HUB_URL"}
    hubs: dict[str, Any] = {}
    names = {hub.url: hub.name for hub in config.hub_list()}  # shown by name: no credential
    for r in await conn.fetch(Q["state"], list(config.hubs)):
        pending = r["oldest_pending"]
        hubs[names[r["hub"]]] = {
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
    return {"status": "on", "mode": config.mode, "runs": runs, "hubs": hubs}
