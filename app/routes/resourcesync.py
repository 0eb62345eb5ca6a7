"""Per-collection ResourceSync documents: Capability List, Resource List (or its index and
parts), Change List (or its index and pages), and the Change List Archive.

URLs (`docs/resourcesync.md`), under `/resourcesync/{collection}/`:
    capabilitylist.xml
    resourcelist.xml                       one <urlset>, or the index when above a page
    resourcelist/{descendant}/{k}.xml      part k of a collection: ord in [k*N, (k+1)*N)
    resourcelist/{descendant}/{k}-{j}.xml  byte-cut sub-part j of an oversized part
    changelist.xml                         the open page 0, or the index once page 0 seals
    changelist/{k}.xml                     page k: seq in [k*N, (k+1)*N)
    changelist-archive.xml                 every sealed page
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime

import asyncpg
from fastapi import APIRouter, Request, Response

from app.read import capabilities
from app.read import queries as ddb
from app.read.capabilities import CapEntry
from app.read.responses import IMMUTABLE, document_response, etag_token, file_response
from app.read.sealed_pages import SealedPages
from app.read.sealer import sealer
from app.read.snapshot import instance_id, not_found, require_collection, snapshot
from app.routes import discovery
from app.settings import Settings
from sitemaps import documents as docs
from sitemaps import paging, urls
from sitemaps.paging import PartRef

# the sealer runs inside the app's lifespan (FastAPI merges router lifespans on include)
router = APIRouter(tags=["resourcesync"], lifespan=sealer)
router.include_router(discovery.router)

_GET_HEAD = ["GET", "HEAD"]


def _part_url(base: str, collection: str, ref: PartRef) -> str:
    return f"{base}/resourcesync/{collection}/resourcelist/{ref.collection}/{ref.name}"


def _page_url(base: str, collection: str, page: int) -> str:
    return f"{base}/resourcesync/{collection}/changelist/{page}.xml"


async def _strings(parts: Iterable[str]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part.encode()


# ---------------------------------------------------------------- Capability List

@router.api_route("/resourcesync/{collection}/capabilitylist.xml", methods=_GET_HEAD)
async def capability_list(collection: str, request: Request) -> Response:
    """Every capability the collection offers, from every registered provider."""
    settings: Settings = request.app.state.settings
    snap = await snapshot(request)
    try:
        coll = await require_collection(snap, collection)
        _, newest = await ddb.set_head(snap.conn, coll)
        entries = await capabilities.entries_for(snap.conn, settings, collection)
    finally:
        await snap.close()
    body = docs.capability_list(
        up=urls.source_description(settings.base_url),
        entries=[(e.loc, e.capability, e.links) for e in entries],
    ).encode()
    # small and assembled from several providers: its own bytes are the cheapest ETag basis
    token = etag_token("capabilitylist", body)

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    return await document_response(request, token=token, last_modified=newest, body=chunks)


async def _resourcelist_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                                ) -> list[CapEntry]:
    return [CapEntry(urls.resource_list(settings.base_url, collection), "resourcelist")]


async def _changelist_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                              ) -> list[CapEntry]:
    return [CapEntry(urls.change_list(settings.base_url, collection), "changelist")]


async def _archive_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                           ) -> list[CapEntry]:
    coll = await ddb.collection(conn, collection)
    if coll is None or paging.sealed_pages(coll.change_seq, settings.page_size) == 0:
        return []  # listed once it holds a sealed page (CONTRACT §4)
    return [CapEntry(urls.changelist_archive(settings.base_url, collection),
                     "changelist-archive")]


capabilities.register(_resourcelist_entries)
capabilities.register(_changelist_entries)
capabilities.register(_archive_entries)


# ---------------------------------------------------------------- Resource List

@router.api_route("/resourcesync/{collection}/resourcelist.xml", methods=_GET_HEAD)
async def resource_list(collection: str, request: Request) -> Response:
    """The collection's live resources (descendants included): one `<urlset>` when they fit
    one page, else a Resource List Index of stable part URIs."""
    settings: Settings = request.app.state.settings
    base, n, budget = settings.base_url, settings.page_size, paging.BYTE_BUDGET
    snap = await snapshot(request)
    try:
        coll = await require_collection(snap, collection)
        position, at = await ddb.set_head(snap.conn, coll)
        members = [r["id"] for r in await snap.conn.fetch(ddb.Q["descendants"], collection)]
        stats, ids = await ddb.part_stats(snap.conn, members)
        token = etag_token("resourcelist", await instance_id(request, snap), base, collection,
                           position, n, budget)
        up = urls.capability_list(base, collection)
        if paging.fits_one_page(stats, n, budget):
            def body() -> AsyncIterator[bytes]:
                return _urlset(docs.resourcelist_head(at=at, up=up), [
                    ddb.resource_chunks(snap.conn, ids[s.collection][0], s.part * n,
                                        min((s.part + 1) * n, ids[s.collection][1]))
                    for s in stats])
        else:
            children = [docs.IndexChild(_part_url(base, collection, ref), at=at)
                        for ref in paging.plan_parts(stats, budget)]

            def body() -> AsyncIterator[bytes]:
                return _strings(list(docs.index_document("resourcelist", up=up, at=at,
                                                         children=children)))
        return await document_response(request, token=token, last_modified=at, body=body,
                                       close=snap.close)
    except BaseException:
        await snap.close()
        raise


async def _urlset(head: str, ranges: list[AsyncIterator[bytes]],
                  tail: str = docs.URLSET_CLOSE) -> AsyncIterator[bytes]:
    yield head.encode()
    for chunks in ranges:
        async for chunk in chunks:
            yield chunk
    yield tail.encode()


@router.api_route("/resourcesync/{collection}/resourcelist/{part_collection}/{name}",
                  methods=_GET_HEAD)
async def resource_list_part(collection: str, part_collection: str, name: str,
                             request: Request) -> Response:
    """Part k of `part_collection` (the collection itself or a descendant) in the collection's
    Resource List Index: a keyset range of ordinals, at most one page, within 50 MB."""
    settings: Settings = request.app.state.settings
    base, n, budget = settings.base_url, settings.page_size, paging.BYTE_BUDGET
    parsed = paging.parse_part_name(name)
    if parsed is None or not (part_collection == collection
                              or part_collection.startswith(collection + ":")):
        raise not_found("no such Resource List part")
    part, sub = parsed
    snap = await snapshot(request)
    try:
        coll = await require_collection(snap, collection)
        member = await require_collection(snap, part_collection)
        if part * n >= member.member_seq:
            raise not_found("no such Resource List part")
        position, at = await ddb.set_head(snap.conn, coll)
        lo, hi = part * n, min((part + 1) * n, member.member_seq)
        if sub is not None:
            row = await snap.conn.fetchrow(ddb.Q["subpart_range"], member.id, lo, hi, budget,
                                           sub)
            if row is None or row["lo"] is None:
                raise not_found("no such Resource List part")
            lo, hi = row["lo"], row["hi"]
        token = etag_token("resourcelist-part", await instance_id(request, snap), base,
                           collection, part_collection, part, sub, position, n, budget)
        head = docs.resourcelist_head(at=at, up=urls.capability_list(base, collection),
                                      index=urls.resource_list(base, collection))

        def body() -> AsyncIterator[bytes]:
            return _urlset(head, [ddb.resource_chunks(snap.conn, member.id, lo, hi)])

        return await document_response(request, token=token, last_modified=at, body=body,
                                       close=snap.close)
    except BaseException:
        await snap.close()
        raise


# ---------------------------------------------------------------- Change List

@router.api_route("/resourcesync/{collection}/changelist.xml", methods=_GET_HEAD)
async def change_list(collection: str, request: Request) -> Response:
    """The collection's changes in log order: its only page while that page is open, else a
    Change List Index whose sealed pages carry `until` and whose open page does not.

    This URL never carries `until` (ResourceSync 1.1 §12.1: a document with `until` is never
    updated again): once its first page seals, by size or by age, it is served as the index,
    even of one page, and the sealed page lives on at its own URL."""
    settings: Settings = request.app.state.settings
    base, n = settings.base_url, settings.page_size
    snap = await snapshot(request)
    try:
        coll = await require_collection(snap, collection)
        pages = paging.change_pages(coll.change_seq, n)
        token = etag_token("changelist", await instance_id(request, snap), base, collection,
                           coll.change_seq, n)
        up = urls.capability_list(base, collection)
        bounds = await ddb.page_bounds(snap.conn, coll.id, list(range(pages)), n)
        if not paging.changelist_is_index(coll.change_seq, n):
            from_, last = bounds.get(0, (coll.created_at, coll.created_at))

            def body() -> AsyncIterator[bytes]:
                return _urlset(docs.changelist_head(from_=from_, until=None, up=up),
                               [ddb.change_chunks(snap.conn, coll.id, 0,
                                                  min(n, coll.change_seq))])
        else:
            children = [
                docs.IndexChild(_page_url(base, collection, k), from_=bounds[k][0],
                                until=bounds[k][1] if paging.is_sealed(k, coll.change_seq, n)
                                else None)
                for k in range(pages)
            ]
            from_, last = bounds[0][0], bounds[pages - 1][1]

            def body() -> AsyncIterator[bytes]:
                return _strings(list(docs.index_document("changelist", up=up, from_=from_,
                                                         children=children)))
        return await document_response(request, token=token, last_modified=last, body=body,
                                       close=snap.close)
    except BaseException:
        await snap.close()
        raise


def _sealed_pages(request: Request) -> SealedPages:
    found = getattr(request.app.state, "sealed_pages", None)
    if found is None:
        found = SealedPages(request.app.state.settings.data_dir / "cache" / "changelist")
        request.app.state.sealed_pages = found
    return found


@router.api_route("/resourcesync/{collection}/changelist/{name}", methods=_GET_HEAD)
async def change_list_page(collection: str, name: str, request: Request) -> Response:
    """Page k of the collection's Change List. A sealed page is rendered once to a file (and
    a gzip copy) and served from it from then on; the open page is built per request."""
    settings: Settings = request.app.state.settings
    base, n = settings.base_url, settings.page_size
    parsed = paging.parse_part_name(name)
    if parsed is None or parsed[1] is not None:
        raise not_found("no such Change List page")
    page = parsed[0]
    cache = _sealed_pages(request)
    known = cache.known(collection, page)
    if known is not None:
        token, last = known
        identity, gzipped = cache.paths(token)
        return file_response(request, token=token, last_modified=last, identity=identity,
                             gzipped=gzipped, cache_control=IMMUTABLE)
    snap = await snapshot(request)
    try:
        coll = await require_collection(snap, collection)
        if page >= paging.change_pages(coll.change_seq, n):
            raise not_found("no such Change List page")
        instance = await instance_id(request, snap)
        from_, last = (await ddb.page_bounds(snap.conn, coll.id, [page], n))[page]
        sealed = paging.is_sealed(page, coll.change_seq, n)
        head = docs.changelist_head(from_=from_, until=last if sealed else None,
                                    up=urls.capability_list(base, collection),
                                    index=urls.change_list(base, collection))

        def body() -> AsyncIterator[bytes]:
            return _urlset(head, [ddb.change_chunks(snap.conn, coll.id, page * n,
                                                    min((page + 1) * n, coll.change_seq))])

        if sealed:
            token = etag_token("changelist-page", instance, base, collection, page, n)
            if cache.ready(token):
                await snap.close()
                identity, gzipped = cache.paths(token)
            else:
                try:
                    identity, gzipped = await cache.ensure(token, body)
                finally:
                    await snap.close()
            cache.learn(collection, page, token, last)
            return file_response(request, token=token, last_modified=last,
                                 identity=identity, gzipped=gzipped, cache_control=IMMUTABLE)
        token = etag_token("changelist-page", instance, base, collection, page, n,
                           coll.change_seq)
        return await document_response(request, token=token, last_modified=last, body=body,
                                       close=snap.close)
    except BaseException:
        await snap.close()
        raise


@router.api_route("/resourcesync/{collection}/changelist-archive.xml", methods=_GET_HEAD)
async def change_list_archive(collection: str, request: Request) -> Response:
    """Every sealed Change List page with its `from`/`until` (ResourceSync Archives)."""
    settings: Settings = request.app.state.settings
    base, n = settings.base_url, settings.page_size
    snap = await snapshot(request)
    try:
        coll = await require_collection(snap, collection)
        sealed = paging.sealed_pages(coll.change_seq, n)
        if sealed == 0:
            raise not_found(f"collection {collection!r} has no sealed Change List page yet")
        bounds = await ddb.page_bounds(snap.conn, coll.id, list(range(sealed)), n)
        token = etag_token("changelist-archive", await instance_id(request, snap), base,
                           collection, sealed, n)
        parts = [docs.archive_head("changelist-archive",
                                   up=urls.capability_list(base, collection))]
        parts += [docs.archive_entry(_page_url(base, collection, k), from_=bounds[k][0],
                                     until=bounds[k][1]) for k in range(sealed)]
        parts.append(docs.URLSET_CLOSE)
        last: datetime = bounds[sealed - 1][1]
    finally:
        await snap.close()
    return await document_response(request, token=token, last_modified=last,
                                   body=lambda: _strings(parts))
