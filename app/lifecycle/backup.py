"""Backup and restore: the database and the content store, consistent with each other.

`backup` takes the store lock shared (no purge or garbage collection removes a file until it
is done), opens one REPEATABLE READ snapshot, exports it and has `pg_dump --snapshot` dump the
database as of that snapshot, while the same snapshot lists every content key a row names and
those files are copied: every byte a row of the dump refers to is in the backup. Writes go on
meanwhile; what they add after the snapshot is simply not in it (store files are immutable and
content-addressed, so a file copied late is still the right bytes). The dump packages the
snapshot lists are copied when still on disk. `backup.json`, written last, names the log
position the backup holds; a folder without it is not a backup.

`restore` refuses a database or a data folder that already holds anything, runs `pg_restore`,
copies the files back, drops the dump builds whose packages were not in the backup (the
scheduler builds them again) and migrates. The notifier's cursors are rows of the database,
so a restored notifier resumes after the last change its hub accepted before the backup.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from app.db.connect import connect
from app.lifecycle.guard import Q, store_locked
from app.lifecycle.pgtools import find_tool
from app.settings import Settings
from app.store.content import ContentStore
from app.store.files import atomic_file, write_atomic

__all__ = ["BackupError", "BackupInfo", "Progress", "backup", "restore", "read_info"]

FORMAT = 1
INFO = "backup.json"
DATABASE = "database.dump"


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why."""


class Progress(Protocol):
    def start(self, description: str, total: int | None) -> None: ...
    def advance(self, nbytes: int) -> None: ...


class _Quiet:
    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass


@dataclass(frozen=True)
class BackupInfo:
    position: int
    datetime: str | None
    created: str
    files: int
    bytes: int
    packages: int


def read_info(folder: Path) -> BackupInfo:
    path = folder / INFO
    if not path.is_file():
        raise BackupError(f"{folder} holds no complete backup ({INFO} is missing)")
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown backup format {data.get('format')!r}")
    return BackupInfo(data["position"], data["datetime"], data["created"], data["files"],
                      data["bytes"], data["packages"])


async def _run(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {(err or out).decode()[-2000:]}")


def _copy(src: Path, dst: Path) -> int:
    """Copied whole or not at all, and durable (a backup is worth nothing half on disk)."""
    with open(src, "rb") as f, atomic_file(dst) as out:
        shutil.copyfileobj(f, out, 1024 * 1024)
    return dst.stat().st_size


async def backup(settings: Settings, dsn: str, target: Path,
                 progress: Progress | None = None) -> BackupInfo:
    progress = progress or _Quiet()
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    target.mkdir(parents=True, exist_ok=True)
    store, backed = ContentStore(settings.content_dir), ContentStore(target / "content")
    conn = await connect(dsn)
    try:
        major = await conn.fetchval(Q["server_version"]) // 10_000
        pg_dump = find_tool("pg_dump", major)
        async with store_locked(conn, shared=True):
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                snapshot = await conn.fetchval(Q["export_snapshot"])
                head = await conn.fetchrow(Q["backup_head"])
                progress.start("database", None)
                await _run(str(pg_dump), "--format=custom", f"--snapshot={snapshot}",
                           "--no-owner", "--no-privileges", f"--file={target / DATABASE}",
                           f"--dbname={dsn}")
                progress.start("content store", None)
                files = nbytes = 0
                async for row in conn.cursor(Q["referenced_keys"], prefetch=1_000):
                    key = row["content_key"]
                    src = store.path_for(key)
                    if not src.is_file():
                        raise BackupError(f"the bytes {key} a row names are missing from "
                                          "the store")
                    size = await asyncio.to_thread(_copy, src, backed.path_for(key))
                    files, nbytes = files + 1, nbytes + size
                    progress.advance(size)
                progress.start("dump packages", None)
                packages = 0
                for r in await conn.fetch(Q["backup_packages"]):
                    for suffix in (".zip", ".manifest.xml"):
                        rel = Path("dumps") / str(r["collection_id"]) / f"{r['name']}{suffix}"
                        src = settings.data_dir / rel
                        if src.is_file():
                            progress.advance(await asyncio.to_thread(_copy, src, target / rel))
                    packages += 1
    finally:
        await conn.close()
    info = BackupInfo(head["position"],
                      head["datetime"].isoformat() if head["datetime"] else None,
                      datetime.now(UTC).isoformat(), files, nbytes, packages)
    write_atomic(target / INFO, json.dumps({"format": FORMAT, **info.__dict__},
                                           indent=2).encode())
    return info


def _copy_tree(src: Path, dst: Path, progress: Progress) -> int:
    n = 0
    if not src.is_dir():
        return 0
    for folder, _, names in os.walk(src):
        for name in names:
            path = Path(folder) / name
            progress.advance(_copy(path, dst / path.relative_to(src)))
            n += 1
    return n


async def restore(settings: Settings, dsn: str, source: Path,
                  progress: Progress | None = None) -> BackupInfo:
    progress = progress or _Quiet()
    info = read_info(source)
    content = settings.content_dir
    if content.is_dir() and any(p.is_file() for p in content.rglob("*")):
        raise BackupError(f"{content} already holds content: restore into a fresh data folder")
    conn = await connect(dsn)
    try:
        if await conn.fetchval(Q["schema_present"]):
            raise BackupError("the database already holds a Headwater schema: restore into "
                              "an empty database")
        major = await conn.fetchval(Q["server_version"]) // 10_000
        pg_restore = find_tool("pg_restore", major)
        progress.start("database", None)
        await _run(str(pg_restore), "--no-owner", "--no-privileges", "--exit-on-error",
                   f"--dbname={dsn}", str(source / DATABASE))
        progress.start("content store", info.bytes)
        await asyncio.to_thread(_copy_tree, source / "content", content, progress)
        progress.start("dump packages", None)
        dumps = settings.data_dir / "dumps"
        await asyncio.to_thread(_copy_tree, source / "dumps", dumps, progress)
        missing = [r["id"] for r in await conn.fetch(Q["builds_with_packages"])
                   if not all((dumps / str(r["collection_id"]) / f"{n}.zip").is_file()
                              for n in r["names"])]
        if missing:
            await conn.execute(Q["delete_builds"], missing)
    finally:
        await conn.close()
    return info
