"""Change Lists: a collection's changes in log order, page by page. Page k holds sequence
numbers [k*N, (k+1)*N) of the collection's change sequence; a sealed page never changes and is
served from files rendered once (`app.read.sealed_pages`).

    changelist.xml                         the only page, or the index above a page
    changelist/{k}.xml                     page k
    changelist-archive.xml                 every sealed page
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import Request, Response

from app.read import queries
from app.read.reader import Reader
from app.read.responses import (
    IMMUTABLE,
    document_response,
    etag_token,
    file_response,
    text_stream,
    urlset_stream,
)
from app.read.snapshot import not_found, require_collection
from sitemaps import documents as docs
from sitemaps import paging, urls

__all__ = ["change_list", "change_list_page", "change_list_archive"]


def _page_url(base: str, collection: str, page: int) -> str:
    return f"{base}/resourcesync/{collection}/changelist/{page}.xml"


async def change_list(reader: Reader, request: Request, collection: str) -> Response:
    """The collection's changes in log order: its only page while that page is open, else a
    Change List Index whose sealed pages carry `until` and whose open page does not.

    This URL never carries `until` (ResourceSync 1.1 §12.1: a document with `until` is never
    updated again): once its first page seals, by size or by age, it is served as the index,
    even of one page, and the sealed page lives on at its own URL."""
    settings = reader.settings
    base, n = settings.base_url, settings.page_size
    async with reader.snapshot() as snap:
        coll = await require_collection(snap, collection)
        position, _ = await queries.set_head(snap.conn, coll)
        pages = paging.change_pages(coll.change_seq, n)
        token = etag_token("changelist", await reader.instance_id(snap), base, collection,
                           coll.change_seq, n)
        up = urls.capability_list(base, collection)
        bounds = await queries.page_bounds(snap.conn, coll.id, list(range(pages)), n)
        if not paging.changelist_is_index(coll.change_seq, n):
            from_, last = bounds.get(0, (coll.created_at, coll.created_at))

            def body() -> AsyncIterator[bytes]:
                return urlset_stream(docs.changelist_head(from_=from_, until=None, up=up),
                                     [queries.change_chunks(snap.conn, coll.id, 0,
                                                            min(n, coll.change_seq))])
        else:
            # sealed pages keep one URL for good; the open page's carries the position the
            # index was read at (docs/rules.md §1.8)
            children = [
                docs.IndexChild(_page_url(base, collection, k), from_=bounds[k][0],
                                until=bounds[k][1])
                if paging.is_sealed(k, coll.change_seq, n) else
                docs.IndexChild(f"{_page_url(base, collection, k)}?at={position}",
                                from_=bounds[k][0])
                for k in range(pages)
            ]
            from_, last = bounds[0][0], bounds[pages - 1][1]

            def body() -> AsyncIterator[bytes]:
                return text_stream(list(docs.index_document("changelist", up=up, from_=from_,
                                                            children=children)))
        return await document_response(request, token=token, last_modified=last, body=body,
                                       close=snap.hand_over())


async def change_list_page(reader: Reader, request: Request, collection: str,
                           name: str, position: int | None = None) -> Response:
    """Page k of the collection's Change List. A sealed page is rendered once to a file (and
    a gzip copy) and served from it from then on; the open page is built per request.

    With replicas, `position` (on the open page's link) is the index's log position: the page
    is read at or after it. A link without one names a page sealed when it was published; a
    replica that has not yet sealed (or seen) that page leaves the answer to the primary."""
    settings = reader.settings
    base, n = settings.base_url, settings.page_size
    parsed = paging.parse_part_name(name)
    if parsed is None or parsed[1] is not None:
        raise not_found("no such Change List page")
    page = parsed[0]
    cache = reader.sealed
    known = cache.known(collection, page)
    if known is not None:
        token, last = known
        identity, gzipped = cache.paths(token)
        return file_response(request, token=token, last_modified=last, identity=identity,
                             gzipped=gzipped, cache_control=IMMUTABLE)
    primary = False
    if reader.replicated and position is None:
        async with reader.snapshot() as snap:
            found = await queries.collection(snap.conn, collection)
            primary = found is None or not paging.is_sealed(page, found.change_seq, n)
            if found is not None and not primary:  # whichever replica reads it: this state
                position = (await queries.set_head(snap.conn, found))[0]  # or a later one
    async with reader.snapshot(at=position, primary=primary) as snap:
        coll = await require_collection(snap, collection)
        if page >= paging.change_pages(coll.change_seq, n):
            raise not_found("no such Change List page")
        instance = await reader.instance_id(snap)
        from_, last = (await queries.page_bounds(snap.conn, coll.id, [page], n))[page]
        sealed = paging.is_sealed(page, coll.change_seq, n)
        head = docs.changelist_head(from_=from_, until=last if sealed else None,
                                    up=urls.capability_list(base, collection),
                                    index=urls.change_list(base, collection))

        def body() -> AsyncIterator[bytes]:
            return urlset_stream(head, [queries.change_chunks(
                snap.conn, coll.id, page * n, min((page + 1) * n, coll.change_seq))])

        if not sealed:
            token = etag_token("changelist-page", instance, base, collection, page, n,
                               coll.change_seq)
            return await document_response(request, token=token, last_modified=last,
                                           body=body, close=snap.hand_over())
        # sealed: rendered once to files (the snapshot closes as the block ends)
        token = etag_token("changelist-page", instance, base, collection, page, n)
        identity, gzipped = await cache.ensure(token, body)
    cache.learn(collection, page, token, last)
    return file_response(request, token=token, last_modified=last, identity=identity,
                         gzipped=gzipped, cache_control=IMMUTABLE)


async def change_list_archive(reader: Reader, request: Request, collection: str) -> Response:
    """Every sealed Change List page with its `from`/`until` (ResourceSync Archives)."""
    settings = reader.settings
    base, n = settings.base_url, settings.page_size
    async with reader.snapshot() as snap:
        coll = await require_collection(snap, collection)
        sealed = paging.sealed_pages(coll.change_seq, n)
        if sealed == 0:
            raise not_found(f"collection {collection!r} has no sealed Change List page yet")
        bounds = await queries.page_bounds(snap.conn, coll.id, list(range(sealed)), n)
        token = etag_token("changelist-archive", await reader.instance_id(snap), base,
                           collection, sealed, n)
        parts = [docs.archive_head("changelist-archive",
                                   up=urls.capability_list(base, collection))]
        parts += [docs.archive_entry(_page_url(base, collection, k), from_=bounds[k][0],
                                     until=bounds[k][1]) for k in range(sealed)]
        parts.append(docs.URLSET_CLOSE)
        last: datetime = bounds[sealed - 1][1]
    return await document_response(request, token=token, last_modified=last,
                                   body=lambda: text_stream(parts))
