"""Versioned SQL migrations: `app/db/migrations/NNNN_what.sql`, applied in order, each in its own
transaction, recorded in `schema_migrations`. Several processes may start at once: a session
advisory lock lets one migrate while the others wait.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import asyncpg

from app.db.locks import MIGRATIONS_LOCK

__all__ = ["MIN_SERVER_VERSION", "Migration", "PageSizeMismatch", "StartRefused",
           "UnsupportedServer", "available", "check_server_version", "pending", "upgrade"]

log = logging.getLogger(__name__)
# The oldest PostgreSQL whose features the migrations and queries use (transition tables,
# stored generated columns, `gen_random_uuid` are all older; nothing newer than 14 is needed).
MIN_SERVER_VERSION = 14


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str


class StartRefused(Exception):
    """A reason the service must not start on this database; the message is one line."""


class UnsupportedServer(StartRefused):
    """The server is older than MIN_SERVER_VERSION."""


class PageSizeMismatch(StartRefused):
    """The database was created with another page size; sealed pages are never re-cut."""


def available() -> list[Migration]:
    folder = resources.files("app.db").joinpath("migrations")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return found


async def _applied(conn: asyncpg.Connection) -> set[str]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    return {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending(conn: asyncpg.Connection) -> list[Migration]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return available()
    done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m for m in available() if m.version not in done]


def check_server_version(version_num: int, version: str) -> None:
    """Refuse a server older than MIN_SERVER_VERSION (`server_version_num`, e.g. 130012)."""
    if version_num < MIN_SERVER_VERSION * 10_000:
        raise UnsupportedServer(
            f"PostgreSQL {version} is not supported: Headwater needs PostgreSQL "
            f"{MIN_SERVER_VERSION} or later")


async def server_version(conn: asyncpg.Connection) -> tuple[int, str]:
    row = await conn.fetchrow("SELECT current_setting('server_version_num')::int AS num,"
                              " current_setting('server_version') AS version")
    return row["num"], row["version"]


async def upgrade(conn: asyncpg.Connection, *, page_size: int) -> list[Migration]:
    """Apply what is pending; store the page size on first run and refuse another one later.
    A server older than MIN_SERVER_VERSION is refused before anything is read or written."""
    check_server_version(*await server_version(conn))
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK)
    try:
        done = await _applied(conn)
        if await conn.fetchval("SELECT to_regclass('meta') IS NOT NULL"):
            await check_page_size(conn, page_size)  # refuse before changing anything
        applied = []
        for migration in available():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
                # later migrations may read meta.page_size (to cut parts): store it as soon
                # as the table exists, in the transaction that created it
                await _store_page_size(conn, page_size)
            log.info("applied migration %s_%s", migration.version, migration.name)
            applied.append(migration)
        await check_page_size(conn, page_size)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK)


async def _store_page_size(conn: asyncpg.Connection, page_size: int) -> None:
    if await conn.fetchval("SELECT to_regclass('meta') IS NOT NULL"):
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES ('page_size', $1) ON CONFLICT (key) DO NOTHING",
            str(page_size),
        )


async def check_page_size(conn: asyncpg.Connection, page_size: int) -> None:
    stored = await conn.fetchval(
        "INSERT INTO meta (key, value) VALUES ('page_size', $1) "
        "ON CONFLICT (key) DO UPDATE SET key = meta.key RETURNING value",
        str(page_size),
    )
    if int(stored) != page_size:
        raise PageSizeMismatch(
            f"HEADWATER_PAGE_SIZE is {page_size} but this database was created with "
            f"{stored}: sealed pages are never re-cut, so set HEADWATER_PAGE_SIZE={stored}"
        )
