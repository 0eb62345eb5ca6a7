"""Opening connections and pools with the codecs every part of the service expects."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

__all__ = ["connect", "create_pool", "init_connection"]


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
