"""Finding and replacing the dump packages that hold given bytes or URIs.

A package's manifest names each file's sha-256 (its content key) and each entry's URI, so the
manifest copy kept beside every package (`{name}.manifest.xml`) tells, without opening the ZIP,
whether a package holds a purged resource. Affected builds are dropped (rows and files at
once), then rebuilt by the ordinary builder; the rebuilt packages have new bytes, so new
manifests and new ETags (their sha-256).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from app.db.locks import DUMP_LOCK
from app.dumps.builder import Builder, collection_folder
from app.lifecycle.guard import Q
from app.settings import Settings
from app.store.content import ContentStore
from sitemaps.format import esc

__all__ = ["Affected", "find_affected", "drop_affected", "rebuild"]

ROWS = 1_000


@dataclass
class Affected:
    builds: set[int] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)
    # collection name → whether one of its Resource Dumps was dropped
    collections: dict[str, bool] = field(default_factory=dict)


def _mentions(path: Path, needles: list[bytes], chunk: int = 1 << 20) -> bool:
    """Whether the file holds any needle, read a chunk at a time (a needle may straddle two
    chunks: each read keeps the tail of the one before)."""
    if not needles:
        return False
    overlap = max(len(n) for n in needles) - 1
    tail = b""
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                window = tail + block
                if any(n in window for n in needles):
                    return True
                tail = window[-overlap:] if overlap else b""
    except FileNotFoundError:
        pass
    return False


async def find_affected(conn: asyncpg.Connection, settings: Settings, keys: list[str],
                        uris: list[str]) -> Affected:
    needles = [f"sha-256:{k}".encode() for k in keys]
    needles += [f"<loc>{esc(u)}</loc>".encode() for u in uris]
    out = Affected()
    last = 0
    while True:
        rows = await conn.fetch(Q["all_packages"], last, ROWS)
        if not rows:
            return out
        for r in rows:
            folder = collection_folder(settings, r["collection_id"])
            manifest = folder / f"{r['name']}.manifest.xml"
            if await asyncio.to_thread(_mentions, manifest, needles):
                out.builds.add(r["build_id"])
                out.files += [manifest, folder / f"{r['name']}.zip"]
                resource = r["kind"] == "resourcedump"
                out.collections[r["collection"]] = \
                    out.collections.get(r["collection"], False) or resource
        last = rows[-1]["id"]


async def drop_affected(conn: asyncpg.Connection, affected: Affected) -> None:
    """Unlist the builds, then remove their files (the caller holds the builder locks)."""
    if affected.builds:
        await conn.execute(Q["delete_builds"], list(affected.builds))
    for path in affected.files:
        path.unlink(missing_ok=True)


async def rebuild(pool: asyncpg.Pool, settings: Settings, store: ContentStore,
                  affected: Affected) -> None:
    """Build what was dropped again: the Change Dump pages (they are missing now), and a fresh
    Resource Dump where one was dropped; then make the Change Dump's listing order dense."""
    builder = Builder(pool, settings, store)
    for name, resource in sorted(affected.collections.items()):
        await builder.build_collection(name, force=resource, resource_dump=resource)
        async with pool.acquire() as conn:
            cid = await conn.fetchval(Q["collection_by_name"], name)
            await conn.fetchval(Q["lock_dumps"], DUMP_LOCK, cid)
            try:
                async with conn.transaction():
                    await conn.execute(Q["renumber_changedump_negative"], cid)
                    await conn.execute(Q["renumber_changedump_positive"], cid)
            finally:
                await conn.fetchval(Q["unlock_dumps"], DUMP_LOCK, cid)
