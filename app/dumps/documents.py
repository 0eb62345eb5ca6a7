"""The dump documents: the Resource Dump and the Change Dump of a collection (or their indexes
and parts), read from the packages the builder recorded, and their Capability List entries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from fastapi import Request, Response

from app.dumps import manifest as mf
from app.dumps import serving
from app.http.problems import HTTPProblem
from app.read.capabilities import CapEntry
from app.read.reader import Reader
from app.read.responses import document_response, etag_token
from app.read.snapshot import require_collection
from app.settings import Settings
from sitemaps import urls

__all__ = ["capability_entries", "resource_dump", "change_dump"]


async def capability_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                             ) -> list[CapEntry]:
    """`resourcedump` and `changedump`, each once it holds a package and covers everything it
    promises (docs/dumps.md, "Dumps cover what they promise")."""
    cid = await conn.fetchval(serving.Q["collection_id"], collection)
    if cid is None:
        return []
    out = []
    if await serving.resourcedump_state(conn, cid) is not None:
        out.append(CapEntry(urls.resource_dump(settings.base_url, collection), "resourcedump"))
    if await serving.changedump_state(conn, cid) is not None:
        out.append(CapEntry(urls.change_dump(settings.base_url, collection), "changedump"))
    return out


def _parts(n: int, page_size: int) -> int:
    return -(-n // page_size)


async def resource_dump(reader: Reader, request: Request, collection: str,
                        part: int | None) -> Response:
    settings = reader.settings
    base, n = settings.base_url, settings.page_size
    async with reader.snapshot() as snap:
        coll = await require_collection(snap, collection)
        state = await serving.resourcedump_state(snap.conn, coll.id)
        if state is None:
            why = (await serving.withheld(snap.conn, coll.id)).reason("resourcedump")
            raise HTTPProblem(404, "not found", why or f"{collection!r} has no Resource Dump yet")
        up = urls.capability_list(base, collection)
        top = urls.resource_dump(base, collection)
        parts = _parts(state.packages, n)
        if part is not None and not (parts > 1 and 0 <= part < parts):
            raise HTTPProblem(404, "not found", f"no part {part} of this Resource Dump")
        token = etag_token("resourcedump", state.build_id, state.packages, part)

        async def body() -> AsyncIterator[bytes]:
            if part is None and parts > 1:
                children = [f"{base}/resourcesync/{collection}/resourcedump/{k}.xml"
                            for k in range(parts)]
                yield mf.dump_index("resourcedump", up=up, children=children, at=state.at).encode()
                return
            lo, hi = (0, n) if part is None else (part * n, (part + 1) * n)
            yield mf.resourcedump_head(at=state.at, completed=state.completed, up=up,
                                       index=top if part is not None else None).encode()
            async for chunk in serving.resourcedump_entries(snap.conn, base, collection,
                                                            state.build_id, lo, hi):
                yield chunk
            yield mf.URLSET_CLOSE.encode()

        return await document_response(request, token=token, last_modified=state.completed,
                                       body=body, close=snap.hand_over())


async def change_dump(reader: Reader, request: Request, collection: str,
                      part: int | None) -> Response:
    settings = reader.settings
    base, n = settings.base_url, settings.page_size
    async with reader.snapshot() as snap:
        coll = await require_collection(snap, collection)
        state = await serving.changedump_state(snap.conn, coll.id)
        if state is None:
            why = (await serving.withheld(snap.conn, coll.id)).reason("changedump")
            raise HTTPProblem(404, "not found", why or f"{collection!r} has no Change Dump yet")
        parts = _parts(state.packages, n)
        if part is not None and not (parts > 1 and 0 <= part < parts):
            raise HTTPProblem(404, "not found", f"no part {part} of this Change Dump")
        part_from = state.first_from
        if part:
            part_from = await snap.conn.fetchval(serving.Q["changedump_part_from"], coll.id,
                                                 state.start + part * n)
        up = urls.capability_list(base, collection)
        top = urls.change_dump(base, collection)
        token = etag_token("changedump", state.start, state.packages, state.newest, part)

        async def body() -> AsyncIterator[bytes]:
            if part is None and parts > 1:
                children = [f"{base}/resourcesync/{collection}/changedump/{k}.xml"
                            for k in range(parts)]
                yield mf.dump_index("changedump", up=up, children=children,
                                    from_=state.first_from).encode()
                return
            lo, hi = (0, n) if part is None else (part * n, (part + 1) * n)
            yield mf.changedump_head(from_=part_from, up=up,
                                     index=top if part is not None else None).encode()
            async for chunk in serving.changedump_entries(snap.conn, base, collection, coll.id,
                                                          state.start + lo, state.start + hi):
                yield chunk
            yield mf.URLSET_CLOSE.encode()

        return await document_response(request, token=token, last_modified=state.newest,
                                       body=body, close=snap.hand_over())
