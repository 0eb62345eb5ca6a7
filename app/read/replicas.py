"""Where public reads go: streaming replicas (HEADWATER_READ_DATABASE_URL), with the primary
(DATABASE_URL) behind them (docs/scaling.md).

A document is read in one snapshot of one server. A read that follows a link or token carrying
a log position (`?at=` on index children, the `position` of an OAI-PMH resumption token) is never
answered from an older state (docs/rules.md §1.8): a replica whose replayed log is behind that
position is asked again every 50 ms for up to HEADWATER_REPLICA_WAIT, then the primary answers.
A replica that cannot be reached is skipped for a few seconds; with none left, the primary
answers. A replica replays the primary's commits in commit order, so what it shows is a state
the primary had: the ordering invariant (§1.1) holds there as it does on the primary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from app.db.connect import create_pool
from app.db.queries import load_queries
from app.read.snapshot import Snapshot, open_snapshot

__all__ = ["Replica", "ReadPools", "replica_label"]

log = logging.getLogger(__name__)
Q = load_queries("app.read", "sql/replicas.sql")
_POLL = 0.05
_DOWN_FOR = 5.0  # seconds an unreachable replica is left alone
_UNREACHABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresError,
                asyncpg.InterfaceError)


def replica_label(url: str) -> str:
    """host:port/database: enough to tell replicas apart, never a password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


@dataclass
class Replica:
    label: str
    pool: asyncpg.Pool
    down_until: float = field(default=0.0)


class ReadPools:
    """The primary's pool and one pool per replica; `snapshot()` picks where a read goes."""

    def __init__(self, primary: asyncpg.Pool, replicas: list[Replica], wait: float):
        self.primary = primary
        self.replicas = replicas
        self.wait = wait
        self._next = 0

    @classmethod
    async def open(cls, primary: asyncpg.Pool, urls: list[str], wait: float) -> ReadPools:
        # min_size=0: a replica that is down at start does not stop the service
        replicas = [Replica(replica_label(u), await create_pool(u, min_size=0)) for u in urls]
        return cls(primary, replicas, wait)

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.pool.close()

    def _rotation(self) -> list[Replica]:
        now = time.monotonic()
        up = [r for r in self.replicas if r.down_until <= now]
        if not up:
            return []
        self._next = (self._next + 1) % len(up)
        return up[self._next:] + up[:self._next]

    async def _on_replica(self, replica: Replica, at: int | None,
                          deadline: float) -> Snapshot | None:
        """A snapshot of `replica` at or after log position `at`; None once the wait is over."""
        while True:
            snap = await open_snapshot(replica.pool)
            if at is None:
                return snap
            try:
                position = await snap.conn.fetchval(Q["replayed_position"])
            except BaseException:
                await snap.close()
                raise
            if position is not None and position >= at:
                return snap
            await snap.close()
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(_POLL)

    async def open_snapshot(self, *, at: int | None = None, primary: bool = False) -> Snapshot:
        if primary or not self.replicas:
            return await open_snapshot(self.primary)
        deadline = time.monotonic() + self.wait
        for replica in self._rotation():
            try:
                snap = await self._on_replica(replica, at, deadline)
            except _UNREACHABLE as exc:
                log.warning("replica %s unreachable (%s): reading elsewhere", replica.label,
                            type(exc).__name__)
                replica.down_until = time.monotonic() + _DOWN_FOR
                continue
            if snap is not None:
                snap.replica = replica.label
                return snap
            break  # behind `at` for the whole wait: the primary has it
        return await open_snapshot(self.primary)

    @asynccontextmanager
    async def snapshot(self, *, at: int | None = None,
                       primary: bool = False) -> AsyncIterator[Snapshot]:
        snap = await self.open_snapshot(at=at, primary=primary)
        try:
            yield snap
        finally:
            if not snap.handed_over:
                await snap.close()

    @asynccontextmanager
    async def connection(self, *, at: int | None = None) -> AsyncIterator[asyncpg.Connection]:
        """A plain connection (no snapshot) with the same routing, for OAI-PMH."""
        if not self.replicas:
            async with self.primary.acquire() as conn:
                yield conn
            return
        snap = await self.open_snapshot(at=at)
        # the read-only transaction only served the position check: end it, keep the conn
        await snap.end_transaction()
        try:
            yield snap.conn
        finally:
            await snap.close()

    async def lag(self) -> list[dict[str, Any]]:
        """Per replica: how far its replay is behind the primary, in log positions, seconds
        and WAL bytes received but not replayed."""
        if not self.replicas:
            return []
        async with self.primary.acquire(timeout=5) as conn:
            head = await conn.fetchval(Q["replayed_position"])
        out = []
        for replica in self.replicas:
            entry: dict[str, Any] = {"replica": replica.label}
            try:
                async with replica.pool.acquire(timeout=5) as conn:
                    row = await conn.fetchrow(Q["replica_lag"])
                entry |= {"status": "ok" if row["in_recovery"] else "not a standby",
                          "lag_positions": max(0, (head or 0) - (row["position"] or 0)),
                          "lag_seconds": float(row["lag_seconds"] or 0.0),
                          "replay_backlog_bytes": int(row["backlog_bytes"] or 0),
                          "replay_paused": bool(row["paused"])}
            except (*_UNREACHABLE, OSError) as exc:
                entry |= {"status": f"unreachable: {type(exc).__name__}"}
            out.append(entry)
        return out
