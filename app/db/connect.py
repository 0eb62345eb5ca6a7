"""Opening connections and pools with the codecs every part of the service expects."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

__all__ = ["Acquire", "BoundedPool", "PoolBusy", "connect", "create_pool", "init_connection"]


def _jsonb_encode(value: Any) -> bytes:
    return b"\x01" + orjson.dumps(value)  # binary jsonb: a version byte, then the JSON text


def _jsonb_decode(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb in and out as Python objects, via orjson. Binary format, so jsonb columns can be
    written with binary COPY (`copy_records_to_table`) as well as bound as parameters."""
    await conn.set_type_codec(
        "jsonb",
        encoder=_jsonb_encode,
        decoder=_jsonb_decode,
        schema="pg_catalog",
        format="binary",
    )


async def connect(dsn: str, **kwargs: Any) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, **kwargs)
    await init_connection(conn)
    return conn


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, command_timeout=300
    )
    assert pool is not None
    return pool


class PoolBusy(Exception):
    """No pooled connection came free within HEADWATER_POOL_TIMEOUT (answered 429, or 503 on
    `/oai`, with `Retry-After`: back-pressure, docs/rules.md §10)."""

    def __init__(self, timeout: float):
        super().__init__(f"no database connection free within {timeout:g} s")
        self.timeout = timeout


class Acquire:
    """`await pool.acquire()` and `async with pool.acquire()` alike, with only the wait for a
    connection turned into PoolBusy (a timeout inside the `async with` body stays itself)."""

    def __init__(self, pool: asyncpg.Pool, timeout: float):
        self._timeout = timeout
        self._ctx = pool.acquire(timeout=timeout)

    def __await__(self) -> Any:
        return self._get().__await__()

    async def _get(self) -> asyncpg.Connection:
        try:
            return await self._ctx
        except TimeoutError:
            raise PoolBusy(self._timeout) from None

    async def __aenter__(self) -> asyncpg.Connection:
        try:
            return await self._ctx.__aenter__()
        except TimeoutError:
            raise PoolBusy(self._timeout) from None

    async def __aexit__(self, *exc: Any) -> None:
        await self._ctx.__aexit__(*exc)


class BoundedPool:
    """An asyncpg pool whose every `acquire()` waits at most `timeout` seconds (unless the
    caller gives its own). Without it a request queues for a connection forever once slow
    clients or long jobs hold them all."""

    def __init__(self, pool: asyncpg.Pool, timeout: float):
        self.pool, self.timeout = pool, timeout

    def acquire(self, *, timeout: float | None = None) -> Acquire:
        return Acquire(self.pool, self.timeout if timeout is None else timeout)

    async def release(self, conn: asyncpg.Connection) -> None:
        await self.pool.release(conn)

    def __getattr__(self, name: str) -> Any:  # close(), get_size(), get_idle_size()…
        return getattr(self.pool, name)
