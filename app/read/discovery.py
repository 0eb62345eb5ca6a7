"""Discovery documents: the Source Description, robots.txt and the plain sitemap for search
engines (sitemaps.org only, no `rs:` elements) with its index and parts.

    /.well-known/resourcesync        Source Description: one Capability List per collection
    /robots.txt                      `Sitemap:` per collection's Resource List + /sitemap.xml
    /sitemap.xml                     plain sitemap, or its index above a page
    /sitemap/{collection}/{k}.xml    its parts, cut as Resource List parts are
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
from fastapi import Request, Response

from app.read import queries
from app.read.reader import Reader
from app.read.responses import document_response, etag_token
from app.read.snapshot import not_found, require_collection
from app.settings import Settings
from sitemaps import documents as docs
from sitemaps import paging, urls

__all__ = ["source_description", "robots_txt", "plain_sitemap", "plain_sitemap_part"]

_NAMES_BATCH = 1_000


async def _collection_names(conn: asyncpg.Connection) -> AsyncIterator[list[str]]:
    """Every collection name, in batches, by keyset on the name."""
    after = ""
    while True:
        rows = await conn.fetch(queries.Q["collections_after"], after, _NAMES_BATCH)
        names = [r["name"] for r in rows]
        if not names:
            return
        yield names
        after = names[-1]


def _per_collection(head: str, entry: Callable[[str], str], tail: str,
                    conn: asyncpg.Connection) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        yield head.encode()
        async for names in _collection_names(conn):
            yield "".join(entry(name) for name in names).encode()
        yield tail.encode()
    return body


async def source_description(reader: Reader, request: Request) -> Response:
    """One Capability List per collection, nested collections included; links OAI-PMH."""
    settings = reader.settings
    base = settings.base_url
    async with reader.snapshot() as snap:
        stamp = await snap.conn.fetchrow(queries.Q["collections_stamp"])
        token = etag_token("description", await reader.instance_id(snap), base,
                           stamp["max_id"], stamp["n"])
        head = docs.source_description_head(describedby=[f"{urls.oai(base)}?verb=Identify"])
        body = _per_collection(
            head, lambda name: docs.source_description_entry(urls.capability_list(base, name)),
            docs.URLSET_CLOSE, snap.conn)
        return await document_response(request, token=token, last_modified=stamp["newest"],
                                       body=body, close=snap.hand_over())


async def robots_txt(reader: Reader, request: Request) -> Response:
    """A `Sitemap:` line per collection's Resource List (or index), and the plain sitemap."""
    settings = reader.settings
    base = settings.base_url
    async with reader.snapshot() as snap:
        stamp = await snap.conn.fetchrow(queries.Q["collections_stamp"])
        token = etag_token("robots", await reader.instance_id(snap), base, stamp["max_id"],
                           stamp["n"])
        head = docs.robots_txt([f"{base}/sitemap.xml"])
        body = _per_collection(
            head, lambda name: f"Sitemap: {urls.resource_list(base, name)}\n", "", snap.conn)
        return await document_response(request, token=token, last_modified=stamp["newest"],
                                       body=body, close=snap.hand_over(),
                                       media_type="text/plain; charset=utf-8")


def _prefix(settings: Settings) -> str:
    # search consoles refuse URLs of other hosts: list only what this server publishes
    return settings.base_url + "/"


async def plain_sitemap(reader: Reader, request: Request) -> Response:
    """Every live resource under this server's base URL, sitemaps.org only."""
    settings = reader.settings
    base, n, budget = settings.base_url, settings.page_size, paging.BYTE_BUDGET
    async with reader.snapshot() as snap:
        head_row = await snap.conn.fetchrow(queries.Q["log_head"])
        stats, ids = await queries.part_stats(snap.conn, None, page_size=n,
                                              prefix=_prefix(settings))
        token = etag_token("sitemap", await reader.instance_id(snap), base,
                           head_row["position"], n, budget)
        if paging.fits_one_page(stats, n, budget):
            async def body() -> AsyncIterator[bytes]:
                yield docs.plain_urlset_head().encode()
                for s in stats:
                    cid, end = ids[s.collection]
                    async for chunk in queries.plain_chunks(
                            snap.conn, cid, s.part * n, min((s.part + 1) * n, end),
                            _prefix(settings)):
                        yield chunk
                yield docs.URLSET_CLOSE.encode()
        else:
            # each part carries the log position the index read (docs/rules.md §1.8)
            locs = [f"{base}/sitemap/{ref.collection}/{ref.name}?at={head_row['position']}"
                    for ref in paging.plan_parts(stats, budget)]

            async def body() -> AsyncIterator[bytes]:
                for text in docs.plain_index(locs):
                    yield text.encode()
        return await document_response(request, token=token,
                                       last_modified=head_row["datetime"], body=body,
                                       close=snap.hand_over())


async def plain_sitemap_part(reader: Reader, request: Request, collection: str,
                             name: str, position: int | None = None) -> Response:
    settings = reader.settings
    base, n, budget = settings.base_url, settings.page_size, paging.BYTE_BUDGET
    parsed = paging.parse_part_name(name)
    if parsed is None:
        raise not_found("no such sitemap part")
    part, sub = parsed
    async with reader.snapshot(at=position) as snap:
        coll = await require_collection(snap, collection)
        if part * n >= coll.member_seq:
            raise not_found("no such sitemap part")
        lo, hi = part * n, min((part + 1) * n, coll.member_seq)
        if sub is not None:
            row = await snap.conn.fetchrow(queries.Q["subpart_range"], coll.id, lo, hi, budget, sub)
            if row is None or row["lo"] is None:
                raise not_found("no such sitemap part")
            lo, hi = row["lo"], row["hi"]
        head_row = await snap.conn.fetchrow(queries.Q["log_head"])
        token = etag_token("sitemap-part", await reader.instance_id(snap), base, collection,
                           part, sub, head_row["position"], n, budget)

        async def body() -> AsyncIterator[bytes]:
            yield docs.plain_urlset_head().encode()
            async for chunk in queries.plain_chunks(snap.conn, coll.id, lo, hi, _prefix(settings)):
                yield chunk
            yield docs.URLSET_CLOSE.encode()

        return await document_response(request, token=token,
                                       last_modified=head_row["datetime"], body=body,
                                       close=snap.hand_over())
