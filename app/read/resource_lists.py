"""Resource Lists: the whole list of a collection (its live resources, descendants included)
as one `<urlset>`, or a Resource List Index of stable part URIs and the parts themselves.

    resourcelist.xml                       the list, or its index above a page
    resourcelist/{member}/{k}.xml          part k of a member collection's ordinals
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO

from fastapi import Request, Response

from app.http.limits import release_slot
from app.read import queries
from app.read.part_cache import file_chunks, part_key
from app.read.reader import Reader
from app.read.responses import (
    document_response,
    etag_token,
    is_current,
    text_stream,
    urlset_stream,
)
from app.read.snapshot import not_found, require_collection
from sitemaps import documents as docs
from sitemaps import paging, urls
from sitemaps.paging import PartRef

__all__ = ["resource_list", "resource_list_part"]


def _part_url(base: str, collection: str, ref: PartRef) -> str:
    return f"{base}/resourcesync/{collection}/resourcelist/{ref.collection}/{ref.name}"


async def resource_list(reader: Reader, request: Request, collection: str) -> Response:
    """The collection's live resources (descendants included): one `<urlset>` when they fit
    one page, else a Resource List Index of stable part URIs."""
    settings = reader.settings
    base, n, budget = settings.base_url, settings.page_size, paging.BYTE_BUDGET
    async with reader.snapshot() as snap:
        coll = await require_collection(snap, collection)
        position, at = await queries.set_head(snap.conn, coll)
        members = [r["id"] for r in await snap.conn.fetch(queries.Q["descendants"], collection)]
        stats, ids = await queries.part_stats(snap.conn, members)
        token = etag_token("resourcelist", await reader.instance_id(snap), base, collection,
                           position, n, budget)
        up = urls.capability_list(base, collection)
        if paging.fits_one_page(stats, n, budget):
            def body() -> AsyncIterator[bytes]:
                return urlset_stream(docs.resourcelist_head(at=at, up=up), [
                    queries.resource_chunks(snap.conn, ids[s.collection][0], s.part * n,
                                            min((s.part + 1) * n, ids[s.collection][1]))
                    for s in stats])
        else:
            # each part URL carries the position the index was read at (docs/rules.md §1.8)
            children = [docs.IndexChild(f"{_part_url(base, collection, ref)}?at={position}",
                                        at=at)
                        for ref in paging.plan_parts(stats, budget)]

            def body() -> AsyncIterator[bytes]:
                return text_stream(list(docs.index_document("resourcelist", up=up, at=at,
                                                         children=children)))
        return await document_response(request, token=token, last_modified=at, body=body,
                                       close=snap.hand_over())


async def resource_list_part(reader: Reader, request: Request, collection: str,
                             part_collection: str, name: str,
                             position: int | None = None) -> Response:
    """Part k of `part_collection` (the collection itself or a descendant) in the collection's
    Resource List Index: a keyset range of ordinals, at most one page, within 50 MB. Read at
    or after log `position` (the index's, carried in the part URL)."""
    settings = reader.settings
    base, n, budget = settings.base_url, settings.page_size, paging.BYTE_BUDGET
    parsed = paging.parse_part_name(name)
    if parsed is None or not (part_collection == collection
                              or part_collection.startswith(collection + ":")):
        raise not_found("no such Resource List part")
    part, sub = parsed
    async with reader.snapshot(at=position) as snap:
        coll = await require_collection(snap, collection)
        member = await require_collection(snap, part_collection)
        if part * n >= member.member_seq:
            raise not_found("no such Resource List part")
        position, at = await queries.set_head(snap.conn, coll)
        lo, hi = part * n, min((part + 1) * n, member.member_seq)
        if sub is not None:
            row = await snap.conn.fetchrow(queries.Q["subpart_range"], member.id, lo, hi,
                                           budget, sub)
            if row is None or row["lo"] is None:
                raise not_found("no such Resource List part")
            lo, hi = row["lo"], row["hi"]
        token = etag_token("resourcelist-part", await reader.instance_id(snap), base,
                           collection, part_collection, part, sub, position, n, budget)
        head = docs.resourcelist_head(at=at, up=urls.capability_list(base, collection),
                                      index=urls.resource_list(base, collection))

        if reader.parts is None:
            def body() -> AsyncIterator[bytes]:
                return urlset_stream(head, [queries.resource_chunks(snap.conn, member.id, lo,
                                                                    hi)])

            return await document_response(request, token=token, last_modified=at, body=body,
                                           close=snap.hand_over())
        # the entries as a file named by the part's version read in this snapshot: the
        # connection goes back to the pool before a byte is sent
        version = await snap.conn.fetchval(queries.Q["part_version"], member.id, part) or 0
        folder, name = part_key(await reader.instance_id(snap), member.id, part, sub, version,
                                n, budget)
        entries = None
        if request.method == "GET" and not is_current(request, token, at):
            entries = await reader.parts.ensure(
                folder, name, lambda: queries.resource_chunks(snap.conn, member.id, lo, hi))
    opened = entries
    release_slot(request.scope)  # the snapshot is closed: what is left is sending a file

    def cached() -> AsyncIterator[bytes]:
        assert opened is not None
        return urlset_stream(head, [file_chunks(opened)])

    return await document_response(request, token=token, last_modified=at, body=cached,
                                   close=_closer(opened))


def _closer(f: BinaryIO | None) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        if f is not None:
            f.close()  # a file never read (HEAD, 304, a client gone early) is closed here
    return close
