"""What the Resource Dump and Change Dump list, read out of `dump_packages`.

Both documents are keyset walks over a dense number (the part within a Resource Dump build,
the per-collection seq of Change Dump packages), so a part of an index costs the same at any
depth and never loads the whole list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.db.queries import load_queries
from app.dumps import manifest as mf

__all__ = ["package_url", "manifest_url", "ResourceDumpState", "ChangeDumpState",
           "resourcedump_state", "changedump_state", "resourcedump_entries",
           "changedump_entries", "CHUNK"]

Q = load_queries("app.dumps", "sql/dumps.sql")
CHUNK = 5_000


def package_url(base: str, collection: str, name: str) -> str:
    return f"{base}/resourcesync/{collection}/dumps/{name}.zip"


def manifest_url(base: str, collection: str, name: str) -> str:
    return f"{base}/resourcesync/{collection}/dumps/{name}.manifest.xml"


@dataclass(frozen=True)
class ResourceDumpState:
    build_id: int
    at: datetime
    completed: datetime
    packages: int


@dataclass(frozen=True)
class ChangeDumpState:
    packages: int
    newest: datetime
    first_from: datetime


async def resourcedump_state(conn: asyncpg.Connection, cid: int) -> ResourceDumpState | None:
    """The newest completed Resource Dump, when it holds at least one package."""
    row = await conn.fetchrow(Q["latest_resourcedump"], cid)
    if row is None or not row["packages"]:
        return None
    return ResourceDumpState(row["id"], row["at"], row["completed"], row["packages"])


async def changedump_state(conn: asyncpg.Connection, cid: int) -> ChangeDumpState | None:
    row = await conn.fetchrow(Q["changedump_state"], cid)
    if row is None or not row["packages"]:
        return None
    return ChangeDumpState(row["packages"], row["newest"], row["first_from"])


def _entry(base: str, collection: str, r: asyncpg.Record) -> str:
    return mf.package_entry(mf.PackageEntry(
        loc=package_url(base, collection, r["name"]),
        manifest=manifest_url(base, collection, r["name"]),
        length=r["length"], sha256=r["sha256"], created=r["created"], at=r["at"],
        from_=r["from_time"], until=r["until_time"],
    ))


async def resourcedump_entries(conn: asyncpg.Connection, base: str, collection: str,
                               build_id: int, lo: int, hi: int) -> AsyncIterator[bytes]:
    for start in range(lo, hi, CHUNK):
        rows = await conn.fetch(Q["build_packages"], build_id, start, min(start + CHUNK, hi))
        if rows:
            yield "".join(_entry(base, collection, r) for r in rows).encode()


async def changedump_entries(conn: asyncpg.Connection, base: str, collection: str, cid: int,
                             lo: int, hi: int) -> AsyncIterator[bytes]:
    for start in range(lo, hi, CHUNK):
        rows = await conn.fetch(Q["changedump_packages"], cid, start, min(start + CHUNK, hi))
        if rows:
            yield "".join(_entry(base, collection, r) for r in rows).encode()
