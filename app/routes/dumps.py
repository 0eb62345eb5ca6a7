"""Resource Dump, Change Dump, their packages and manifests, on-demand dumps, and the build
trigger.

URLs, under `/resourcesync/{collection}/` (`docs/dumps.md`):
    resourcedump.xml                 the packages of the newest Resource Dump (or its index)
    resourcedump/{k}.xml             part k of a Resource Dump Index
    changedump.xml                   one package per sealed Change List page (or its index)
    changedump/{k}.xml               part k of a Change Dump Index
    dumps/{name}.zip                 a package: GET/HEAD, strong ETag, Range, conditional GET
    dumps/{name}.manifest.xml        the copy of the package's manifest.xml
    dump                             POST: on-demand ZIP of URIs or of a time window
    resourcedump/build               POST (token): rebuild the collection's dumps now
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.dumps import documents, ondemand, serving
from app.dumps import manifest as mf
from app.dumps.builder import collection_folder
from app.dumps.plan import PACKAGE_NAME
from app.dumps.zipping import zip_chunks
from app.http.auth import Writer
from app.http.bodies import read_limited
from app.http.conditional import http_date, not_modified, strong_etag
from app.http.problems import HTTPProblem
from app.read.reader import ReaderDep
from app.read.responses import IMMUTABLE, BigChunkFile, etag_token
from app.settings import Settings

router = APIRouter(tags=["dumps"])
_GET_HEAD = ["GET", "HEAD"]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


@router.api_route("/resourcesync/{collection}/resourcedump.xml", methods=_GET_HEAD)
async def resource_dump(collection: str, request: Request,
                        reader: ReaderDep) -> Response:
    """The packages of the newest Resource Dump, or its index above one page."""
    return await documents.resource_dump(reader, request, collection, None)


@router.api_route("/resourcesync/{collection}/resourcedump/{part}.xml", methods=_GET_HEAD)
async def resource_dump_part(collection: str, part: int, request: Request,
                             reader: ReaderDep) -> Response:
    return await documents.resource_dump(reader, request, collection, part)


@router.api_route("/resourcesync/{collection}/changedump.xml", methods=_GET_HEAD)
async def change_dump(collection: str, request: Request,
                      reader: ReaderDep) -> Response:
    """One or more packages per sealed Change List page, oldest first, or its index."""
    return await documents.change_dump(reader, request, collection, None)


@router.api_route("/resourcesync/{collection}/changedump/{part}.xml", methods=_GET_HEAD)
async def change_dump_part(collection: str, part: int, request: Request,
                           reader: ReaderDep) -> Response:
    return await documents.change_dump(reader, request, collection, part)


# ---------------------------------------------------------------- packages and manifests

async def _package_file(request: Request, collection: str, name: str, suffix: str
                        ) -> tuple[Any, Any]:
    if not PACKAGE_NAME.match(name):
        raise HTTPProblem(404, "not found", "no such package")
    async with request.app.state.pool.acquire() as conn:
        cid = await conn.fetchval(serving.Q["collection_id"],
                                  collection)
        row = None if cid is None else await conn.fetchrow(serving.Q["package"], cid, name)
    if row is None:
        raise HTTPProblem(404, "not found", f"no package {name!r} in {collection!r}")
    path = collection_folder(_settings(request), cid) / f"{name}{suffix}"
    if not path.is_file():
        raise HTTPProblem(404, "not found", "the package is no longer kept")
    return row, path


@router.api_route("/resourcesync/{collection}/dumps/{name}.zip", methods=_GET_HEAD)
async def package(collection: str, name: str, request: Request) -> Response:
    """A package: immutable, strong ETag = its sha-256, Range for resumable downloads."""
    row, path = await _package_file(request, collection, name, ".zip")
    etag = strong_etag(row["sha256"])
    headers = {"ETag": etag, "Last-Modified": http_date(row["created"]),
               "Cache-Control": IMMUTABLE}
    if not_modified(request.headers, etag, row["created"]):
        return Response(status_code=304, headers=headers)
    return BigChunkFile(path, media_type=mf.ZIP, headers=headers)


@router.api_route("/resourcesync/{collection}/dumps/{name}.manifest.xml", methods=_GET_HEAD)
async def package_manifest(collection: str, name: str, request: Request) -> Response:
    """The copy of a package's manifest.xml (the Resource Dump's `rel="contents"` link)."""
    row, path = await _package_file(request, collection, name, ".manifest.xml")
    etag = strong_etag(etag_token("manifest", row["sha256"]))
    headers = {"ETag": etag, "Last-Modified": http_date(row["created"]),
               "Cache-Control": IMMUTABLE}
    if not_modified(request.headers, etag, row["created"]):
        return Response(status_code=304, headers=headers)
    return BigChunkFile(path, media_type="application/xml", headers=headers)


# ---------------------------------------------------------------- on demand

class _SlotResponse(StreamingResponse):
    """Gives the build slot back however the response ends (done, failed, client gone)."""

    def __init__(self, content: Any, release: Any, **kwargs: Any):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _slots(request: Request) -> asyncio.Semaphore:
    slots = getattr(request.app.state, "dump_slots", None)
    if slots is None:
        slots = request.app.state.dump_slots = asyncio.Semaphore(
            _settings(request).dump_concurrency)
    return slots


_DATE_TIME = {"type": "string", "format": "date-time"}
_DUMP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "object", "additionalProperties": False, "required": ["uris"],
                         "properties": {"uris": {"type": "array", "minItems": 1,
                                                 "items": {"type": "string", "format": "uri"}}}},
                        {"type": "object", "additionalProperties": False, "required": ["from"],
                         "properties": {"from": _DATE_TIME, "until": _DATE_TIME}},
                    ]
                }
            }
        },
    }
}


@router.post("/resourcesync/{collection}/dump", openapi_extra=_DUMP_BODY,
             responses={200: {"content": {"application/zip": {}}}})
async def on_demand_dump(collection: str, request: Request) -> Response:
    """A ZIP streamed as it is written: `{"uris": [...]}` gives a Resource Dump Manifest,
    `{"from": "…", "until": "…"}` a Change Dump Manifest of the window (docs/rules.md §8).

    The whole body must arrive within HEADWATER_BODY_READ_TIMEOUT (408) before a dump slot is
    taken; the ZIP's first byte follows the database reads at once (no file is read first)."""
    settings = _settings(request)
    raw = await read_limited(request, settings.max_body,
                             within=settings.body_read_timeout.total_seconds())
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPProblem(400, "invalid JSON", str(exc)) from None
    req = ondemand.parse_request(body)
    slots = _slots(request)
    if slots.locked():
        raise HTTPProblem(429, "too many dumps in progress",
                          f"at most {settings.dump_concurrency} on-demand dumps at a time",
                          headers={"Retry-After": "10"})
    await slots.acquire()
    try:
        prepared = await ondemand.prepare(request.app.state.pool, settings,
                                          request.app.state.store, collection, req)
    except BaseException:
        slots.release()
        raise
    headers = {"Content-Disposition": f'attachment; filename="{collection}-dump.zip"',
               "Cache-Control": "no-store",
               "Headwater-Dump-Entries": str(prepared.entries)}
    return _SlotResponse(zip_chunks(prepared.members), slots.release, media_type=mf.ZIP,
                         headers=headers)


# ---------------------------------------------------------------- build trigger

@router.post("/resourcesync/{collection}/resourcedump/build", status_code=202)
async def build_now(collection: str, request: Request, _: Writer) -> JSONResponse:
    """Queue a rebuild of the collection's Resource Dump (and any unpacked sealed page)."""
    async with request.app.state.pool.acquire() as conn:
        exists = await conn.fetchval(serving.Q["collection_id"], collection)
    if exists is None:
        raise HTTPProblem(404, "not found", f"no collection named {collection!r}")
    request.app.state.dump_scheduler.request(collection)
    return JSONResponse({"collection": collection, "queued": True}, status_code=202)
