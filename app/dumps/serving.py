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

__all__ = ["package_url", "manifest_url", "ResourceDumpState", "ChangeDumpState", "Withheld",
           "withheld",
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
    start: int = 0  # listing seq of its first package: after the last page lacking bytes


@dataclass(frozen=True)
class Withheld:
    """What keeps a collection's dumps from being offered: resources (Resource Dump) and
    created/updated changes (Change Dump) whose bytes Headwater does not hold."""

    resourcedump: int
    changedump: int

    def reason(self, kind: str) -> str | None:
        if kind == "resourcedump":
            return (f"{self.resourcedump} resources of this collection are hosted elsewhere and "
                    "have no bytes here, so a Resource Dump could not hold them; bring the "
                    "bytes in (headwater ingest --blobs)") if self.resourcedump else None
        return (f"{self.changedump} created or updated changes in this collection's sealed "
                "Change List pages are of resources hosted elsewhere, without bytes here, so a "
                "Change Dump could not hold them: it starts after the last such page, and no "
                "later page is packed yet (headwater ingest --blobs brings bytes in)"
                ) if self.changedump else None


async def withheld(conn: asyncpg.Connection, cid: int) -> Withheld:
    row = await conn.fetchrow(Q["withheld"], cid)
    return Withheld(int(row["resourcedump"] or 0), int(row["changedump"] or 0))


async def resourcedump_state(conn: asyncpg.Connection, cid: int) -> ResourceDumpState | None:
    """The newest completed Resource Dump, when it holds at least one package and every live
    resource of the collection (a build that could not hold them all packs nothing)."""
    row = await conn.fetchrow(Q["latest_resourcedump"], cid)
    if row is None or not row["packages"] or row["hosted_elsewhere"]:
        return None
    return ResourceDumpState(row["id"], row["at"], row["completed"], row["packages"])


async def changedump_state(conn: asyncpg.Connection, cid: int) -> ChangeDumpState | None:
    """The Change Dump, when it holds a package. It holds the bytes of every change in its
    interval: a page whose build could not hold them all has no package, and the Change Dump
    starts after the last such page (its `from` is the next packed page's)."""
    start = 0
    cut = await conn.fetchval(Q["changedump_cut"], cid)
    if cut is not None:
        start = await conn.fetchval(Q["changedump_start"], cid, cut)
        if start is None:
            return None
    row = await conn.fetchrow(Q["changedump_state"], cid, start)
    if row is None or not row["packages"]:
        return None
    return ChangeDumpState(row["packages"], row["newest"], row["first_from"], start)


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
