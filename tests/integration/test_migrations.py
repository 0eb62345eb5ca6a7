"""Versioned migrations: applied in order on an empty database, recorded, a no-op the second
time, the page size stored once and a different one refused — by the library and by
`headwater db upgrade`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.db import migrate
from app.db.connect import connect

HEADWATER = str(Path(sys.executable).parent / "headwater")

# What a schema is made of, to compare before and after a second upgrade.
_SCHEMA = """
SELECT string_agg(format('%s.%s %s', table_name, column_name, data_type), ',' ORDER BY 1)
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal
"""


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    """A database with nothing in it, not even the migrations table."""
    name = f"hw_empty_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        admin = await asyncpg.connect(pg_server)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield urlunsplit(urlsplit(pg_server)._replace(path="/" + name))
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_upgrade_applies_each_migration_once_in_order(empty_database: str) -> None:
    conn = await connect(empty_database)
    try:
        assert [m.version for m in await migrate.pending(conn)] == [
            m.version for m in migrate.available()]
        applied = await migrate.upgrade(conn, page_size=777)
        versions = [m.version for m in migrate.available()]
        assert [m.version for m in applied] == versions == sorted(versions)
        recorded = await conn.fetch(
            "SELECT version, name FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in recorded] == [
            (m.version, m.name) for m in migrate.available()]
        # later migrations could read the page size while they ran (0002 cuts parts with it)
        assert await conn.fetchval("SELECT value FROM meta WHERE key = 'page_size'") == "777"
        before = [r[0] for r in await conn.fetch(_SCHEMA)]

        assert await migrate.upgrade(conn, page_size=777) == []
        assert await migrate.pending(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(versions)
        assert [r[0] for r in await conn.fetch(_SCHEMA)] == before
    finally:
        await conn.close()


async def test_another_page_size_is_refused_before_anything_changes(empty_database: str) -> None:
    conn = await connect(empty_database)
    try:
        await migrate.upgrade(conn, page_size=500)
        last = migrate.available()[-1].version
        await conn.execute("DELETE FROM schema_migrations WHERE version = $1", last)
        with pytest.raises(migrate.PageSizeMismatch, match="HEADWATER_PAGE_SIZE"):
            await migrate.upgrade(conn, page_size=50_000)
        # refused up front: the pending migration was not applied under the wrong size
        assert last not in {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        assert await conn.fetchval("SELECT value FROM meta WHERE key = 'page_size'") == "500"
    finally:
        await conn.close()


async def test_concurrent_upgrades_apply_once(empty_database: str) -> None:
    """Several workers start at once: the migration lock lets one apply while others wait."""
    conns = [await connect(empty_database) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate.upgrade(c, page_size=50) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, len(migrate.available())]
    finally:
        for c in conns:
            await c.close()


def _cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    environ.update({"DATABASE_URL": database_url, **env})
    return subprocess.run([HEADWATER, *args], env=environ, capture_output=True, text=True,
                          timeout=120)


def test_db_upgrade_command(empty_database: str, tmp_path: Path) -> None:
    first = _cli(empty_database, "db", "upgrade", HEADWATER_DATA_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    names = [f"{m.version}_{m.name}" for m in migrate.available()]
    assert first.stdout.strip() == "applied: " + ", ".join(names)

    again = _cli(empty_database, "db", "upgrade", HEADWATER_DATA_DIR=str(tmp_path))
    assert again.returncode == 0 and again.stdout.strip() == "database is current"

    other = _cli(empty_database, "db", "upgrade", HEADWATER_DATA_DIR=str(tmp_path),
                 HEADWATER_PAGE_SIZE="1000")
    assert other.returncode == 2
    assert "HEADWATER_PAGE_SIZE" in other.stderr and "50000" in other.stderr


async def test_every_migration_applies_on_this_server(empty_database: str) -> None:
    """The suite runs on the embedded PostgreSQL 18 and, in .ci/run, on PostgreSQL 15: no
    migration may use a function newer than the oldest supported server (array_reverse is 18+)."""
    conn = await connect(empty_database)
    try:
        num, _ = await migrate.server_version(conn)
        assert num >= migrate.MIN_SERVER_VERSION * 10_000
        await migrate.upgrade(conn, page_size=100)
        arrays = [[], ["a"], ["a", "b"], ["cz", "webarchiv", "www"], list("abcdefghij")]
        for value in arrays:
            got = await conn.fetchval("SELECT headwater_array_reverse($1::text[])", value)
            assert got == value[::-1]
        if num >= 180000:  # the portable helper equals the built-in it replaces
            for value in arrays:
                assert await conn.fetchval(
                    "SELECT headwater_array_reverse($1::text[]) = array_reverse($1::text[])",
                    value)
    finally:
        await conn.close()


def test_an_older_server_is_refused_in_one_line(
        empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below PostgreSQL 14 the start stops with one line naming the version found, before any
    migration runs."""
    from typer.testing import CliRunner

    from app.cli import cli

    async def old_server(conn: asyncpg.Connection) -> tuple[int, str]:
        return 130016, "13.16"

    monkeypatch.setattr(migrate, "server_version", old_server)
    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.setenv("HEADWATER_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == ["PostgreSQL 13.16 is not supported: Headwater needs PostgreSQL 14 or later"]

    async def tables() -> int:
        conn = await asyncpg.connect(empty_database)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await conn.close()

    assert asyncio.run(tables()) == 0  # nothing was created


def test_supported_versions() -> None:
    migrate.check_server_version(140000, "14.0")
    migrate.check_server_version(180001, "18.1")
    with pytest.raises(migrate.UnsupportedServer, match=r"^PostgreSQL 13\.9 is not supported"):
        migrate.check_server_version(130009, "13.9")
