"""On-demand dumps: a ZIP of chosen URIs, or of a time window's changes, streamed back as it is
written, never built on disk.

The request is bounded before a byte is sent: at most `MAX_FILES` entries and
`dump_max_bytes` of content (docs/rules.md §8), so the rows behind one response (at most 50,000)
are held in memory while the ZIP streams. Nothing is read before the first byte: lengths come
from the files' sizes (`stat`), and each file's CRC-32 is computed as it streams and written
after it (a ZIP data descriptor), so `manifest.xml`, first in the ZIP, is sent at once. Files
are read one chunk at a time as the client takes them: when it goes, Starlette cancels the
stream on `http.disconnect` and no further file is read.
"""

from __future__ import annotations

import asyncio
import os
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from app.db.queries import load_queries
from app.dumps import manifest as mf
from app.dumps.plan import MemberNames, change_path, resource_path
from app.dumps.zipping import Member
from app.http.problems import HTTPProblem
from app.settings import Settings
from app.store.content import ContentStore
from sitemaps import urls
from sitemaps.fixity import Fixity

__all__ = ["MAX_FILES", "UrisRequest", "WindowRequest", "parse_request", "Prepared", "prepare"]

Q = load_queries("app.dumps", "sql/dumps.sql")
MAX_FILES = 50_000


@dataclass(frozen=True)
class UrisRequest:
    uris: list[str]


@dataclass(frozen=True)
class WindowRequest:
    from_: datetime
    until: datetime | None


def _invalid(pointer: str, detail: str) -> HTTPProblem:
    return HTTPProblem(422, "invalid dump request", detail,
                       errors=[{"pointer": pointer, "detail": detail}])


def _too_large(detail: str) -> HTTPProblem:
    return HTTPProblem(413, "dump too large", detail)


def _datetime(value: Any, pointer: str) -> datetime:
    if not isinstance(value, str):
        raise _invalid(pointer, "expected an RFC 3339 date-time string")
    try:
        when = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise _invalid(pointer, f"{value!r} is not an RFC 3339 date-time") from None
    if when.tzinfo is None:
        raise _invalid(pointer, "a date-time needs a time zone (Z or ±hh:mm)")
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable instant
        raise _invalid(pointer, f"{value!r} is out of range") from None


def parse_request(body: Any) -> UrisRequest | WindowRequest:
    """`{"uris": [...]}` or `{"from": "…", "until": "…"?}`; anything else is a 422."""
    if not isinstance(body, dict):
        raise _invalid("", "expected a JSON object with 'uris', or 'from' and 'until'")
    unknown = set(body) - {"uris", "from", "until"}
    if unknown:
        key = sorted(unknown)[0]
        raise _invalid(f"/{key}", f"unknown key {key!r}")
    if "uris" in body:
        if "from" in body or "until" in body:
            raise _invalid("", "give either 'uris' or a 'from'/'until' window, not both")
        uris = body["uris"]
        if not isinstance(uris, list) or not uris:
            raise _invalid("/uris", "expected a non-empty list of URIs")
        if len(uris) > MAX_FILES:
            raise _too_large(f"at most {MAX_FILES} URIs per request")
        for i, uri in enumerate(uris):
            if not isinstance(uri, str) or not uri:
                raise _invalid(f"/uris/{i}", "expected a URI string")
        return UrisRequest(list(dict.fromkeys(uris)))  # each file once, in the order asked
    if "from" not in body:
        raise _invalid("/from", "'uris' or 'from' is required")
    from_ = _datetime(body["from"], "/from")
    until = _datetime(body["until"], "/until") if body.get("until") is not None else None
    if until is not None and until < from_:
        raise _invalid("/until", "'until' is before 'from'")
    return WindowRequest(from_, until)


@dataclass(frozen=True)
class Prepared:
    members: list[Member]  # manifest.xml first
    entries: int
    content_bytes: int


@dataclass(frozen=True)
class _Row:
    loc: str
    lastmod: datetime | None
    type: str | None
    path: str | None
    key: str | None
    change: str | None = None
    datetime: datetime | None = None
    rid: int | None = None  # the resource's id: its fallback member name is /other/{rid}


def _sizes(rows: list[_Row], store: ContentStore, limit: int) -> list[int | None]:
    """Each row's file size (None: no bytes here), from `stat` alone: no file is read before
    the response starts. Refuses a request whose files add up beyond `limit`."""
    sizes: list[int | None] = []
    total = 0
    for r in rows:
        size = None
        if r.key is not None:
            try:
                size = os.stat(store.path_for(r.key)).st_size
            except FileNotFoundError:
                pass
            else:
                total += size
                if total > limit:
                    raise _too_large(
                        f"the content is larger than the limit of {limit} bytes "
                        "(HEADWATER_DUMP_MAX_BYTES); ask for fewer URIs or a shorter window")
        sizes.append(size)
    return sizes


async def _seq_bound(conn: asyncpg.Connection, cid: int, end: int, position: int | None) -> int:
    """The first seq of the set whose change is at or after log `position` (a bisection over
    the set's primary key: seqs grow with positions; `end` when there is none)."""
    if position is None:
        return end
    lo, hi = 0, end
    while lo < hi:
        mid = (lo + hi) // 2
        row = await conn.fetchrow(Q["seq_at_or_after"], cid, mid)
        if row is None or row["position"] >= position:
            hi = mid
        else:
            lo = row["seq"] + 1
    return lo


async def _window_rows(conn: asyncpg.Connection, cid: int, change_seq: int,
                       req: WindowRequest, prefix: str) -> tuple[list[_Row], datetime]:
    until = req.until or await conn.fetchval(Q["set_head"], cid) or req.from_
    p_lo = await conn.fetchval(Q["first_position_from"], req.from_)
    p_hi = await conn.fetchval(Q["first_position_after"], until)
    lo = await _seq_bound(conn, cid, change_seq, p_lo)
    hi = await _seq_bound(conn, cid, change_seq, p_hi)
    if hi - lo > MAX_FILES:
        n = await conn.fetchval(Q["count_seq_range"], cid, lo, hi, MAX_FILES + 1)
        if n > MAX_FILES:
            raise _too_large(f"the window holds more than {MAX_FILES} changes")
    rows: list[_Row] = []
    missing = 0
    for start in range(lo, hi, 5_000):
        for r in await conn.fetch(Q["set_changes_range"], cid, start, min(start + 5_000, hi)):
            if r["change"] == "deleted":
                rows.append(_Row(r["uri"], None, None, None, None, r["change"], r["datetime"]))
            elif r["content_key"] is not None:
                rows.append(_Row(r["uri"], r["lastmod"], r["type"],
                                 change_path(r["uri"], r["position"]), r["content_key"],
                                 r["change"], r["datetime"]))
            elif r["purged"]:  # taken down: listed, its bytes in no package by design
                rows.append(_Row(r["uri"], r["lastmod"], r["type"], None, None, r["change"],
                                 r["datetime"]))
            else:
                missing += 1
    if missing:
        # a Change Dump Manifest holds the bytes of every change in its interval (§13.2)
        raise HTTPProblem(409, "dump incomplete", (
            f"{missing} created or updated changes in this window are of resources hosted "
            "elsewhere, whose bytes this server does not have; choose a window without them "
            "or bring the bytes in (headwater ingest --blobs)"))
    return rows, until


async def prepare(pool: asyncpg.Pool, settings: Settings, store: ContentStore,
                  collection: str, req: UrisRequest | WindowRequest) -> Prepared:
    """Read the rows in one snapshot, measure the files, and lay out the ZIP's members."""
    from app.read.snapshot import open_snapshot

    prefix = urls.content_prefix(settings.base_url)
    up = urls.capability_list(settings.base_url, collection)
    snap = await open_snapshot(pool)
    try:
        conn = snap.conn
        coll = await conn.fetchrow(Q["collection"], collection)
        if coll is None:
            raise HTTPProblem(404, "not found", f"no collection named {collection!r}")
        cid = coll["id"]
        if isinstance(req, UrisRequest):
            ids = [r["id"] for r in await conn.fetch(Q["descendant_ids"], collection)]
            found = await conn.fetch(Q["resources_by_uri"], req.uris, ids)
            rows = [_Row(r["uri"], r["lastmod"], r["type"],
                         resource_path(r["uri"], prefix, r["id"]), r["content_key"],
                         rid=r["id"])
                    for r in found]
            at = await conn.fetchval(Q["set_head"], cid) or datetime.now(UTC)
            head = mf.resourcedump_manifest_head(at=at, up=up)
        else:
            rows, until = await _window_rows(conn, cid, coll["change_seq"], req, prefix)
            head = mf.changedump_manifest_head(from_=req.from_, until=until, up=up)
    finally:
        await snap.close()

    sizes = await asyncio.to_thread(_sizes, rows, store, settings.dump_max_bytes)
    parts, members, total = [head], [], 0
    names = MemberNames()
    for r, size in zip(rows, sizes, strict=True):
        if r.key is not None and size is None:
            continue  # bytes missing from the store: say nothing about them
        path = r.path
        if r.change is None and path is not None:
            path = names.claim(path, f"/other/{r.rid}")
        if r.change is None:
            assert size is not None and path and r.key
            parts.append(mf.resource_manifest_entry(mf.FileEntry(
                r.loc, r.lastmod, path, Fixity(size, r.type, sha256=r.key))))
        else:
            parts.append(mf.change_manifest_entry(mf.ChangeEntry(
                r.loc, r.change, r.datetime,  # type: ignore[arg-type]
                lastmod=r.lastmod, path=path if size is not None else None,
                fixity=(Fixity(size, r.type, sha256=r.key) if size is not None
                        else Fixity(type=r.type)))))
        if size is not None and path is not None and r.key is not None:
            members.append(Member(path[1:], store.path_for(r.key), size, None, r.lastmod))
            total += size
    if total > settings.dump_max_bytes:
        raise _too_large(f"the content is larger than {settings.dump_max_bytes} bytes")
    parts.append(mf.URLSET_CLOSE)
    if len(parts) == 2:
        raise HTTPProblem(404, "nothing to dump", "no stored resource or change matches the "
                          "request in this collection (resources hosted elsewhere have no bytes)")
    manifest = "".join(parts).encode()
    head_member = Member("manifest.xml", manifest, len(manifest), zlib.crc32(manifest),
                         datetime.now(UTC))
    return Prepared([head_member, *members], len(parts) - 2, total)

