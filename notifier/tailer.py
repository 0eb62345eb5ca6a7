"""The loop that delivers the change log to one hub, in order, at least once.

Holding the hub's lease (`leader.lead`), it reads the log by keyset from its durable cursor,
waits up to the batch window for a partial batch to fill, sends one notification per affected
channel, retries a failed send with capped, jittered backoff (honouring `Retry-After`) until the
hub accepts it, and only then moves the cursor and the channels' `until`s, in one transaction.
Nothing is ever skipped: the backlog is the log itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import datetime

import asyncpg

from notifier.backoff import next_delay, retry_delay
from notifier.config import Connect, Tuning
from notifier.hub import HubClient, Outcome
from notifier.hubs import redact
from notifier.leader import Lease, lead
from notifier.payload import Change, first_from, group_by_channel, notification
from notifier.queries import Q
from sitemaps import urls

__all__ = ["HubWorker", "wait_any"]

log = logging.getLogger("notifier")


class _Interrupted(Exception):
    """Stop was asked for while a batch was unacknowledged: leave the cursor where it is."""


async def wait_any(events: Iterable[asyncio.Event], timeout: float) -> None:
    """Until any event is set or `timeout` seconds pass."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters, return_exceptions=True)


class HubWorker:
    """Delivers every change to one hub; any number may run, one per hub is active."""

    def __init__(self, *, connect: Connect, hub: str, client: HubClient, base_url: str,
                 stop: asyncio.Event, tuning: Tuning = Tuning(),
                 rand: Callable[[], float] = random.random, name: str | None = None):
        self.connect, self.hub, self.client, self.base = connect, hub, client, base_url
        self.name = name or redact(hub)  # what logs show: never a credential
        self.stop, self.tuning, self.rand = stop, tuning, rand
        self.websub = client.mode == "websub"
        self.active = False  # this process holds the hub's lock

    async def run(self) -> None:
        """Until `stop`: take the lease, tail; on a lost database, reconnect and resume from
        the durable cursor."""
        failures = 0
        while not self.stop.is_set():
            try:
                async with lead(self.connect, self.hub, self.stop, name=self.name,
                                retry_every=self.tuning.lock_retry) as lease:
                    if lease is None:
                        return
                    self.active, failures = True, 0
                    await self._tail(lease)
            except _Interrupted:
                return
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                failures += 1
                log.warning("notifier for %s: database unavailable (%s: %s); reconnecting",
                            self.name, type(exc).__name__, exc)
            except Exception:
                failures += 1
                log.exception("notifier for %s: unexpected error; restarting from the cursor",
                              self.name)
            finally:
                self.active = False
            delay = next_delay(failures, base=0.2, cap=self.tuning.reconnect_cap, rand=self.rand)
            await wait_any([self.stop], delay)

    async def _tail(self, lease: Lease) -> None:
        conn = lease.conn
        # Commits need not wait for the WAL flush: a PostgreSQL crash can only lose a suffix
        # of them, which moves the cursor back (a resend, still at least once) and keeps the
        # in-flight batch marker consistent with it.
        await conn.execute("SET synchronous_commit = off")
        await conn.execute(Q["ensure_cursor"], self.hub)
        row = await conn.fetchrow(Q["cursor"], self.hub)
        cursor: int = row["position"]
        if row["pending_position"] and row["pending_position"] > cursor:
            # a batch was in flight when the last holder stopped: send exactly it again
            await self._deliver(lease, await self._fetch(conn, cursor,
                                                         row["pending_position"] - cursor))
            cursor = row["pending_position"]
        while not self.stop.is_set():
            if lease.lost.is_set():
                raise ConnectionError("the notifier's database connection was lost")
            lease.wake.clear()  # a NOTIFY from here on means "read again"
            rows = await self._fetch(conn, cursor)
            if not rows:
                await wait_any([lease.wake, self.stop], self.tuning.poll)
                continue
            if len(rows) < self.tuning.batch and self.tuning.window > 0:
                # let a partial batch fill for one window: under steady writes this turns
                # many tiny batches (each costing HTTP requests and a commit) into a few
                # larger ones, which is what keeps the tail latency down on a busy machine
                await wait_any([self.stop], self.tuning.window)
                rows = await self._fetch(conn, cursor)
            await self._deliver(lease, rows)
            cursor = rows[-1].position

    async def _fetch(self, conn: asyncpg.Connection, cursor: int,
                     limit: int | None = None) -> list[Change]:
        records = await conn.fetch(Q["changes_after"], cursor, limit or self.tuning.batch)
        return [Change.from_row(r) for r in records]

    async def _deliver(self, lease: Lease, rows: list[Change]) -> None:
        """Send the batch, one notification per channel (channels at once: they are
        independent), retrying the refused ones until accepted; then move the cursor and the
        channels' `until`s in one statement."""
        conn = lease.conn
        groups = group_by_channel(rows)
        last = rows[-1].position
        # durable before the first send: a crash mid-batch resends this very batch
        starts = {r["name"]: r for r in await conn.fetch(Q["begin_batch"], self.hub,
                                                         list(groups), last)}
        until = rows[-1].datetime  # >= every entry, < the next change's datetime
        pending = {name: self._body(name, entries, starts[name], until)
                   for name, entries in groups.items()}
        attempt = 0
        while pending:
            names = list(pending)
            outcomes = await asyncio.gather(*(
                self.client.publish(urls.notification_topic(self.base, n), pending[n])
                for n in names))
            failed = [(n, o) for n, o in zip(names, outcomes, strict=True) if not o.ok]
            for name, outcome in zip(names, outcomes, strict=True):
                if outcome.ok:
                    del pending[name]
            if not failed:
                break
            attempt += 1
            for name, outcome in failed:
                await self._failed(conn, outcome, attempt, name, len(groups[name]))
            retry_after = max((o.retry_after or 0.0 for _, o in failed), default=0.0) or None
            delay = retry_delay(attempt, retry_after, base=self.tuning.retry_base,
                                cap=self.tuning.retry_cap, rand=self.rand)
            await wait_any([self.stop, lease.lost], delay)
            if self.stop.is_set():
                raise _Interrupted
            if lease.lost.is_set():
                raise ConnectionError("the notifier's database connection was lost")
        await conn.execute(Q["advance"], self.hub, last, [starts[n]["id"] for n in groups],
                           until)

    def _body(self, name: str, entries: list[Change], start: asyncpg.Record,
              until: datetime) -> bytes:
        if self.websub:
            return b""  # a light ping: the hub fetches the topic
        return notification(
            up=urls.capability_list(self.base, name),
            from_=start["until"] or first_from(start["created_at"], entries[0].datetime),
            until=until, entries=entries)

    async def _failed(self, conn: asyncpg.Connection, outcome: Outcome, attempt: int,
                      channel: str, count: int) -> None:
        if outcome.permanent:
            # loud: this needs a person (wrong hub URL, a hub refusing our payload); the batch
            # is kept and retried at the capped rate, never skipped
            log.error("notifier for %s: hub REFUSED %d change(s) on channel %s (%s); this will "
                      "not succeed by retrying as is; retrying anyway, nothing is skipped "
                      "(attempt %d)", self.name, count, channel, outcome.detail, attempt)
        else:
            log.warning("notifier for %s: delivery failed on channel %s (%s); retry %d",
                        self.name, channel, outcome.detail, attempt)
        await conn.execute(Q["record_failure"], self.hub, int(outcome.permanent),
                           outcome.detail[:500])
