"""The dump builder: Resource Dumps and Change Dumps of a collection, written as ZIP packages
into `data_dir/dumps/{collection id}/`.

A Resource Dump reads its rows in one REPEATABLE READ snapshot, so every package reflects the
same `at` (the datetime of the collection's newest change); the rows are spooled to a temporary
file and the snapshot ends before any file is read, so its life is bounded by the row count
(seconds at a million rows), not by the hours of reading bytes. A Change Dump packs each sealed
Change List page once; a page never changes again (its `set_changes` and `changes` rows are
append-only), so its rows are read in keyset batches, each a statement of its own, with no
snapshot held, and neither does its package ever change.

Bytes missing from the content store do not stop a build: the entry is left out of its package
(like a resource hosted elsewhere), the build reports it (`BuildResult.missing`, an ERROR log
line naming the URI and key), and every other file and page is packed.

The builder's lock and bookkeeping use one connection of their own (not the request pool's
when `dsn` is given); a pool connection is borrowed only for each short read.

Per package, two passes over a bounded keyset range: the first measures each file (length,
CRC-32) and writes its manifest entry to a temporary file; the second streams the files
into the ZIP after `manifest.xml`. Memory stays at about one chunk of rows plus one read
buffer, whatever the package or dump size. Packages are renamed into place whole, and listed
only by the transaction that completes their build, so a builder killed half way leaves
nothing visible; the next build (which holds the collection's lock) sweeps what it left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

import asyncpg
import orjson

from app.db.locks import DUMP_LOCK
from app.db.queries import load_queries
from app.dumps import manifest as mf
from app.dumps.plan import (
    Budget,
    MemberNames,
    change_package_name,
    change_path,
    resource_package_name,
    resource_path,
)
from app.dumps.zipping import Measured, Member, measure, write_atomically, zip_chunks
from app.metrics import DUMP_BUILD_SECONDS
from app.read.queries import page_bounds
from app.settings import Settings
from app.store.content import ContentStore
from app.store.files import durable_rename
from sitemaps import urls
from sitemaps.fixity import Fixity

__all__ = ["DumpError", "Progress", "BuildResult", "Builder", "dumps_root",
           "collection_folder"]

log = logging.getLogger(__name__)
Q = load_queries("app.dumps", "sql/dumps.sql")

KEEP_RESOURCE_DUMPS = 2  # the newest and the one before, for downloads still running
ROWS = 1_000  # rows per keyset fetch
MEASURE_BYTES = 16 * 1024 * 1024  # bytes measured per worker-thread hop
MISSING = Measured(-1, 0)  # `_measure`'s answer for bytes the store does not have


class DumpError(Exception):
    """A dump cannot be built as asked (missing bytes in the store, unknown collection)."""


class Progress(Protocol):
    def start(self, description: str, total: int | None) -> None: ...
    def advance(self, nbytes: int) -> None: ...


class _Quiet:
    def start(self, description: str, total: int | None) -> None:
        log.info("dumps: %s", description)

    def advance(self, nbytes: int) -> None:
        pass


@dataclass(frozen=True)
class BuildResult:
    collection: str
    kind: str
    outcome: str  # built | current | busy | empty | withheld
    packages: int = 0
    bytes: int = 0
    page: int | None = None
    # built: files left out, their bytes gone from the store; withheld: entries whose bytes
    # Headwater does not hold (hosted elsewhere)
    missing: int = 0


def dumps_root(settings: Settings) -> Path:
    return settings.data_dir / "dumps"


def collection_folder(settings: Settings, collection_id: int) -> Path:
    # by id: a collection name may hold a '..' segment, an id never does
    return dumps_root(settings) / str(collection_id)


@dataclass
class _Item:
    loc: str
    lastmod: datetime | None
    type: str | None
    path: str | None  # manifest path, None for a deletion (no bytes)
    key: str | None
    change: str | None = None
    datetime: datetime | None = None
    rid: int | None = None  # a resource's id: its fallback member name is /other/{rid}


@dataclass(frozen=True)
class _Built:
    name: str
    part: int
    length: int
    sha256: str
    files: int
    entries: int
    manifest_length: int
    from_: datetime | None
    until: datetime | None


class _Package:
    """The package being filled: manifest entries and member list in temporary files."""

    def __init__(self, tmp: Path, part: int, from_: datetime | None):
        self.part, self.from_, self.last = part, from_, from_
        stem = uuid.uuid4().hex
        self.body_path, self.members_path = tmp / f"{stem}.body", tmp / f"{stem}.members"
        self.body: IO[str] = open(self.body_path, "w", encoding="utf-8")
        self.members: IO[str] = open(self.members_path, "w", encoding="utf-8")
        self.files = self.entries = 0

    def add(self, item: _Item, m: Measured | None, entry: str) -> None:
        self.body.write(entry)
        self.entries += 1
        if item.datetime is not None:
            self.last = item.datetime
        if item.path is not None and m is not None:
            stamp = item.lastmod.timestamp() if item.lastmod else 0
            self.members.write(f"{item.path[1:]}\t{item.key}\t{m.length}\t{m.crc32}\t{stamp}\n")
            self.files += 1

    def close(self) -> None:
        self.body.close()
        self.members.close()

    def discard(self) -> None:
        self.close()
        self.body_path.unlink(missing_ok=True)
        self.members_path.unlink(missing_ok=True)


def _member_list(path: Path, store: ContentStore) -> Iterator[Member]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, key, length, crc, stamp = line.rstrip("\n").split("\t")
            modified = datetime.fromtimestamp(float(stamp), UTC) if float(stamp) else None
            yield Member(name, store.path_for(key), int(length), int(crc), modified)


def _spool_line(r: asyncpg.Record, path: str) -> bytes:
    return orjson.dumps([r["uri"], r["lastmod"].isoformat() if r["lastmod"] else None,
                         r["type"], path, r["content_key"], r["id"]]) + b"\n"


def _spooled(path: Path) -> Iterator[list[_Item]]:
    with open(path, "rb") as f:
        batch: list[_Item] = []
        for line in f:
            loc, lastmod, type_, member, key, rid = orjson.loads(line)
            batch.append(_Item(loc, datetime.fromisoformat(lastmod) if lastmod else None,
                               type_, member, key, rid=rid))
            if len(batch) >= ROWS:
                yield batch
                batch = []
        if batch:
            yield batch


class Builder:
    """Builds the dumps of collections; one instance per process is enough."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, store: ContentStore,
                 progress: Progress | None = None, *, dsn: str | None = None):
        self.pool, self.settings, self.store = pool, settings, store
        self.progress = progress or _Quiet()
        self.prefix = urls.content_prefix(settings.base_url)
        self.dsn = dsn  # the lock's own connection; None: borrow one from the pool
        self.missing = 0  # files of the current build left out (bytes not in the store)

    @asynccontextmanager
    async def _own_connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self.dsn is None:
            async with self.pool.acquire() as conn:
                yield conn
            return
        from app.db.connect import connect

        conn = await connect(self.dsn)
        try:
            yield conn
        finally:
            await conn.close()

    # ------------------------------------------------------------------ entry points

    async def build_collection(self, name: str, *, force: bool = False, wait: bool = True,
                               resource_dump: bool = True) -> list[BuildResult]:
        """The Change Dump of every sealed page not yet packed, then (unless `resource_dump` is
        False) the Resource Dump, rebuilt when the collection changed since the last one or
        when `force`. Without `wait`, a collection another builder holds is skipped."""
        async with self._own_connection() as rw:
            coll = await rw.fetchrow(Q["collection"], name)
            if coll is None:
                raise DumpError(f"no collection named {name!r}")
            cid = coll["id"]
            if wait:
                await rw.fetchval(Q["lock_collection"], DUMP_LOCK, cid)
            elif not await rw.fetchval(Q["try_lock_collection"], DUMP_LOCK, cid):
                return [BuildResult(name, "resourcedump", "busy")]
            try:
                await self._sweep(rw, cid, running=0)
                results = await self._change_dumps(rw, name, cid)
                if resource_dump:
                    results.append(await self._resource_dump(rw, name, cid, force=force))
                return results
            finally:
                await rw.fetchval(Q["unlock_collection"], DUMP_LOCK, cid)

    async def build_all(self, *, force: bool = False) -> list[BuildResult]:
        async with self.pool.acquire() as conn:
            names = [r["name"] for r in await conn.fetch(Q["collection_names"])]
        out: list[BuildResult] = []
        for name in names:
            out.extend(await self.build_collection(name, force=force))
        return out

    # ------------------------------------------------------------------ housekeeping

    async def _sweep(self, rw: asyncpg.Connection, cid: int, running: int) -> None:
        """Drop builds that died and old resource dumps, then every file no row names.
        The caller holds the collection lock, so no other builder is writing here."""
        dead = [r["id"] for r in await rw.fetch(Q["dead_builds"], cid, KEEP_RESOURCE_DUMPS,
                                                 running)]
        if dead:
            await rw.execute(Q["delete_builds"], dead)
        keep = {r["name"] for r in await rw.fetch(Q["package_names"], cid)}
        folder = collection_folder(self.settings, cid)
        await asyncio.to_thread(_sweep_folder, folder, keep)

    # ------------------------------------------------------------------ resource dump

    async def _resource_dump(self, rw: asyncpg.Connection, name: str, cid: int, *,
                             force: bool) -> BuildResult:
        folder = collection_folder(self.settings, cid)
        tmp = folder / "tmp"
        await asyncio.to_thread(tmp.mkdir, parents=True, exist_ok=True)
        spool = tmp / f"{uuid.uuid4().hex}.rows"
        try:
            # the snapshot lives only while the rows are spooled: no file is read inside it
            async with self.pool.acquire() as conn, \
                    conn.transaction(isolation="repeatable_read", readonly=True):
                at = await conn.fetchval(Q["set_head"], cid)
                latest = await rw.fetchrow(Q["latest_resourcedump"], cid)
                if at is None:
                    return BuildResult(name, "resourcedump", "empty")
                if latest is not None and latest["at"] == at and not force:
                    return BuildResult(name, "resourcedump", "current", latest["packages"])
                ids = [r["id"] for r in await conn.fetch(Q["descendant_ids"], name)]
                # a Resource Dump holds every resource of its Resource List or is not made
                withheld = await conn.fetchval(Q["hosted_elsewhere_resources"], ids)
                if not withheld:
                    total = await conn.fetchval(Q["local_bytes"], ids)
                    await self._spool_resources(conn, ids, spool)
            build_id = await rw.fetchval(Q["insert_build"], cid, "resourcedump", at,
                                         None, None, None)
            if withheld:
                await rw.execute(Q["record_withheld"], build_id, withheld)
                await self._sweep(rw, cid, running=build_id)
                log.warning("dumps: no resource dump of %s: %d resources have no bytes here",
                            name, withheld)
                return BuildResult(name, "resourcedump", "withheld", missing=withheld)
            self.progress.start(f"{name}: resource dump", total)
            up = urls.capability_list(self.settings.base_url, name)
            head = mf.resourcedump_manifest_head(at=at, up=up)
            self.missing = 0
            with DUMP_BUILD_SECONDS.labels("resourcedump").time():
                built = await self._pack(
                    cid, _aiter(_spooled(spool)), lambda f, u: head,
                    lambda part: resource_package_name(build_id, part), from_=None, until=None,
                )
        finally:
            spool.unlink(missing_ok=True)
        async with rw.transaction():
            for b in built:
                await rw.execute(Q["insert_package"], build_id, cid, "resourcedump", b.part,
                                 b.part, b.name, at, None, None, b.length, b.sha256, b.files,
                                 b.entries, b.manifest_length)
            await rw.execute(Q["complete_build"], build_id)
        await self._sweep(rw, cid, running=build_id)
        outcome = "built" if built else "empty"
        return BuildResult(name, "resourcedump", outcome, len(built),
                           sum(b.length for b in built), missing=self.missing)

    async def _spool_resources(self, conn: asyncpg.Connection, ids: list[int],
                               spool: Path) -> None:
        """Every live, locally stored resource of the collections, in (collection, ord) order,
        to a file: one server-side cursor inside the caller's snapshot (rows stream `ROWS` at
        a time; about 3 times faster than a keyset query per batch, so the snapshot is shorter)."""
        batch: list[bytes] = []
        with open(spool, "wb") as out:
            async for r in conn.cursor(Q["local_resources_all"], ids, prefetch=ROWS):
                batch.append(_spool_line(r, resource_path(r["uri"], self.prefix, r["id"])))
                if len(batch) >= ROWS:
                    out.write(b"".join(batch))
                    batch = []
            out.write(b"".join(batch))

    # ------------------------------------------------------------------ change dumps

    async def _change_dumps(self, rw: asyncpg.Connection, name: str, cid: int
                            ) -> list[BuildResult]:
        n = self.settings.page_size
        coll = await rw.fetchrow(Q["collection"], name)
        sealed = coll["change_seq"] // n
        done = {r["page"] for r in await rw.fetch(Q["built_pages"], cid)}
        out = []
        up = urls.capability_list(self.settings.base_url, name)
        for page in range(sealed):
            if page in done:
                continue
            # a sealed page never changes: short reads, no snapshot held while packing
            async with self.pool.acquire() as conn:
                bounds = await page_bounds(conn, cid, [page], n)
                # a Change Dump holds the bytes of every change in its interval or is not made
                withheld = await conn.fetchval(Q["hosted_elsewhere_changes"], cid, page * n,
                                               (page + 1) * n)
            from_, until = bounds[page]
            build_id = await rw.fetchval(Q["insert_build"], cid, "changedump", None, page,
                                         from_, until)
            if withheld:
                await rw.execute(Q["record_withheld"], build_id, withheld)
                log.warning("dumps: no change dump of %s page %d: %d changes have no "
                            "bytes here", name, page, withheld)
                out.append(BuildResult(name, "changedump", "withheld", page=page,
                                       missing=withheld))
                continue
            self.progress.start(f"{name}: change dump of page {page}", None)
            self.missing = 0
            with DUMP_BUILD_SECONDS.labels("changedump").time():
                built = await self._pack(
                    cid, self._change_items(cid, page * n, (page + 1) * n),
                    # a sealed page always has both bounds
                    lambda f, u: mf.changedump_manifest_head(
                        from_=f, until=u, up=up),  # type: ignore[arg-type]
                    lambda part, p=page: change_package_name(p, part),  # type: ignore[misc]
                    from_=from_, until=until,
                )
            async with rw.transaction():
                base = await rw.fetchval(Q["next_changedump_seq"], cid)
                for b in built:
                    await rw.execute(Q["insert_package"], build_id, cid, "changedump", b.part,
                                     base + b.part, b.name, None, b.from_, b.until, b.length,
                                     b.sha256, b.files, b.entries, b.manifest_length)
                await rw.execute(Q["complete_build"], build_id)
            out.append(BuildResult(name, "changedump", "built", len(built),
                                   sum(b.length for b in built), page, self.missing))
        return out

    async def _change_items(self, cid: int, lo: int, hi: int) -> AsyncIterator[list[_Item]]:
        for start in range(lo, hi, ROWS):
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(Q["set_changes_range"], cid, start,
                                        min(start + ROWS, hi))
            items = []
            for r in rows:
                if r["change"] == "deleted":
                    items.append(_Item(r["uri"], None, None, None, None, r["change"],
                                       r["datetime"]))
                elif r["content_key"] is not None:
                    items.append(_Item(r["uri"], r["lastmod"], r["type"],
                                       change_path(r["uri"], r["position"]), r["content_key"],
                                       r["change"], r["datetime"]))
                elif r["purged"]:  # taken down: listed, its bytes in no package by design
                    items.append(_Item(r["uri"], r["lastmod"], r["type"], None, None,
                                       r["change"], r["datetime"]))
                else:  # counted before packing (hosted_elsewhere_changes): never packed
                    raise DumpError(f"change {r['position']} of {r['uri']} has no bytes")
            if items:
                yield items

    # ------------------------------------------------------------------ packing

    def _measure(self, items: list[_Item], start: int) -> list[Measured | None]:
        """Measure items from `start` on, stopping after about MEASURE_BYTES: small steps, so
        measuring the next package overlaps with writing the previous one."""
        out: list[Measured | None] = []
        done = 0
        for item in items[start:]:
            if done >= MEASURE_BYTES:
                break
            if item.key is None:
                out.append(None)
                continue
            m = measure(self.store.path_for(item.key))
            out.append(m if m is not None else MISSING)
            if m is not None:
                done += m.length
        return out

    def _report_missing(self, item: _Item) -> None:
        # the store lost these bytes: leave the entry out (as for a resource hosted
        # elsewhere) rather than stop this dump, and every later one, on it
        self.missing += 1
        log.error("dumps: the bytes of %s (sha-256 %s) are missing from the content store; "
                  "left out of the dump", item.loc, item.key)

    def _entry(self, item: _Item, m: Measured | None) -> str:
        if item.change is None:
            assert m is not None and item.path is not None and item.key is not None
            return mf.resource_manifest_entry(mf.FileEntry(
                item.loc, item.lastmod, item.path, Fixity(m.length, item.type, sha256=item.key)))
        return mf.change_manifest_entry(mf.ChangeEntry(
            item.loc, item.change, item.datetime,  # type: ignore[arg-type]
            lastmod=item.lastmod, path=item.path,
            fixity=Fixity(m.length, item.type, sha256=item.key) if m else Fixity(type=item.type)))

    async def _pack(self, cid: int, chunks: AsyncIterator[list[_Item]],
                    head: Callable[[datetime | None, datetime | None], str],
                    name_for: Callable[[int], str], *, from_: datetime | None,
                    until: datetime | None) -> list[_Built]:
        """Cut the items into bounded packages and write each; return them in order."""
        folder = collection_folder(self.settings, cid)
        tmp = folder / "tmp"
        await asyncio.to_thread(tmp.mkdir, parents=True, exist_ok=True)
        budget = Budget(self.settings.package_max_bytes, self.settings.package_max_files)
        built: list[_Built] = []
        pkg = _Package(tmp, 0, from_)
        names = MemberNames()
        # one package is written (on a worker thread) while the next one's files are measured
        # (on another): the two passes overlap on two cores
        writing: asyncio.Task[_Built] | None = None
        try:
            async for items in chunks:
                at = 0
                while at < len(items):
                    measured = await asyncio.to_thread(self._measure, items, at)
                    for item, m in zip(items[at:at + len(measured)], measured, strict=True):
                        if m is MISSING:
                            self._report_missing(item)
                            continue
                        if item.rid is not None and item.path is not None:
                            # `…/a` and `…/a/b` cannot both be members of one ZIP
                            item.path = names.claim(item.path, f"/other/{item.rid}")
                        entry = self._entry(item, m)
                        size, path = (m.length, item.path) if m else (None, None)
                        if not budget.admit(size, path, len(entry.encode())):
                            if writing is not None:
                                built.append(await writing)
                            writing = asyncio.create_task(
                                self._finish(pkg, folder, head, name_for, None))
                            pkg = _Package(tmp, pkg.part + 1, pkg.last)
                            names = MemberNames()
                            if item.rid is not None and item.path is not None:
                                names.claim(item.path, item.path)
                            budget.reset()
                            budget.admit(size, path, len(entry.encode()))
                        pkg.add(item, m, entry)
                    at += len(measured)
            if writing is not None:
                built.append(await writing)
                writing = None
            if pkg.entries:
                built.append(await self._finish(pkg, folder, head, name_for, until))
            else:
                pkg.discard()
        except BaseException:
            if writing is not None:
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)
            pkg.discard()
            raise
        return built

    async def _finish(self, pkg: _Package, folder: Path,
                      head: Callable[[datetime | None, datetime | None], str],
                      name_for: Callable[[int], str], until: datetime | None) -> _Built:
        pkg.close()
        until = until or pkg.last
        name = name_for(pkg.part)
        text_head = head(pkg.from_, until)
        length, sha = await asyncio.to_thread(
            self._write_package, pkg, folder, name, text_head)
        manifest_length = (folder / f"{name}.manifest.xml").stat().st_size
        return _Built(name, pkg.part, length, sha, pkg.files, pkg.entries, manifest_length,
                      pkg.from_, until if pkg.from_ is not None else None)

    def _write_package(self, pkg: _Package, folder: Path, name: str, head: str
                       ) -> tuple[int, str]:
        tmp = folder / "tmp"
        manifest_tmp = tmp / f"{uuid.uuid4().hex}.manifest"
        try:
            with open(manifest_tmp, "w", encoding="utf-8") as out, \
                    open(pkg.body_path, encoding="utf-8") as body:
                out.write(head)
                shutil.copyfileobj(body, out, 1024 * 1024)
                out.write(mf.URLSET_CLOSE)
                out.flush()
                os.fsync(out.fileno())
            m = measure(manifest_tmp)
            assert m is not None
            members = [Member("manifest.xml", manifest_tmp, m.length, m.crc32,
                              datetime.now(UTC))]

            def all_members() -> Iterator[Member]:
                yield from members
                yield from _member_list(pkg.members_path, self.store)

            result = write_atomically(zip_chunks(all_members()), folder / f"{name}.zip", tmp,
                                      self.progress.advance)
            # the contents copy the Resource Dump links to: the same bytes as in the ZIP
            durable_rename(manifest_tmp, folder / f"{name}.manifest.xml")
            return result
        finally:
            manifest_tmp.unlink(missing_ok=True)
            pkg.body_path.unlink(missing_ok=True)
            pkg.members_path.unlink(missing_ok=True)


async def _aiter(items: Iterator[list[_Item]]) -> AsyncIterator[list[_Item]]:
    for batch in items:  # small reads of a local file: not worth a thread hop each
        yield batch


def _sweep_folder(folder: Path, keep: set[str]) -> None:
    if not folder.is_dir():
        return
    shutil.rmtree(folder / "tmp", ignore_errors=True)
    for entry in folder.iterdir():
        if entry.is_file():
            stem = entry.name.removesuffix(".zip").removesuffix(".manifest.xml")
            if stem not in keep:
                entry.unlink(missing_ok=True)
