"""`/content/{collection}/{path}`: upload, serve and delete bytes kept in the content store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg import Record
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from app.db.queries import load_queries
from app.http.auth import Writer
from app.http.bodies import stream_limited
from app.http.conditional import http_date, not_modified, strong_etag
from app.http.deps import Config, Store, db
from app.http.problems import HTTPProblem
from app.lifecycle.purge import purge_reason
from app.read.reader import Reader, ReaderDep
from app.settings import Settings
from app.store.content import TooLarge
from app.write.changeset import DESCRIPTION, Doc
from app.write.records import (
    InvalidBatch,
    bare_media_type,
    media_type_error,
    metadata_lists,
    parse_description,
)
from app.write.writer import write_batch
from sitemaps.names import BadPath, content_path, is_collection_name

router = APIRouter(tags=["content"])
_Q = load_queries("app.read", "sql/content.sql")
DESCRIPTION_HEADER = "headwater-description"

# Uploaded bytes are anyone's: served from this origin, an HTML or SVG upload must not run
# script or read this origin's pages. `sandbox` gives the document an opaque origin with
# scripts, forms and plugins off; `default-src 'none'` stops it loading anything; nosniff
# keeps a browser from reading other types as HTML.
CONTENT_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _upload_type(request: Request) -> str:
    """The upload's media type, checked like ingest's `type` (400 naming the header)."""
    value = request.headers.get("content-type")
    if value is None:
        return "application/octet-stream"
    why = media_type_error(value)
    if why is not None:
        raise HTTPProblem(400, "invalid Content-Type", f"Content-Type: {why}",
                          errors=[{"pointer": "/headers/content-type", "detail": why}])
    return bare_media_type(value) or "application/octet-stream"


def capability_list_url(settings: Settings, collection: str) -> str:
    return f"{settings.base_url}/resourcesync/{collection}/capabilitylist.xml"


def _published_uri(request: Request, settings: Settings, collection: str) -> str:
    """The URI a content path publishes, re-encoded once from the raw request path."""
    if not is_collection_name(collection):
        raise HTTPProblem(400, "invalid collection name",
                          "segments of [A-Za-z0-9_.-] joined by ':'")
    raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    marker = f"/content/{collection}/"
    at = raw.find(marker)
    if at < 0:
        raise HTTPProblem(400, "invalid content path")
    try:
        path = content_path(raw[at + len(marker):])
    except BadPath as exc:
        raise HTTPProblem(400, "invalid content path", str(exc)) from None
    return f"{settings.base_url}/content/{collection}/{path}"


def _description(request: Request) -> dict[str, Any]:
    """The Doc fields a `Headwater-Description` header gives, and `keep`: the description
    fields it leaves out, which a new version of the bytes keeps from the current record."""
    value = request.headers.get(DESCRIPTION_HEADER)
    if value is None:
        return {"keep": DESCRIPTION}
    try:
        found, given = parse_description(value)
    except InvalidBatch as exc:
        raise HTTPProblem(
            422, f"invalid Headwater-Description header: {exc.title}",
            "a JSON object with metadata, links and oai_identifier (pointers are into it)",
            errors=[{"pointer": e.pointer, "detail": e.detail} for e in exc.errors],
        ) from None
    return {
        "metadata": metadata_lists(found.metadata),
        "links": [link.model_dump(exclude_none=True) for link in found.links]
        if found.links else None,
        "oai_identifier": found.oai_identifier,
        "keep": DESCRIPTION - given,
    }


_DESCRIPTION_DOC = {"parameters": [{
    "name": "Headwater-Description", "in": "header", "required": False,
    "schema": {"type": "string"},
    "description": "JSON object with any of metadata, links, oai_identifier (as in an ingest "
                   "record): set with the upload; keys left out keep their current value",
}]}


@router.put("/content/{collection}/{path:path}", status_code=201,
            openapi_extra=_DESCRIPTION_DOC)
async def put_content(
    collection: str, path: str, request: Request, _: Writer, settings: Config, store: Store,
) -> JSONResponse:
    """Store the request body's bytes and publish them at this URI. A new version keeps the
    resource's description (metadata, links, oai_identifier); a `Headwater-Description`
    header (a JSON object with those keys) sets the ones it names."""
    uri = _published_uri(request, settings, collection)
    media_type = _upload_type(request)
    described = _description(request)  # both checked before a byte is read
    try:
        stored = await store.put_stream(
            stream_limited(request, settings.max_upload), max_bytes=settings.max_upload
        )
    except TooLarge as exc:
        raise HTTPProblem(413, "request body too large", str(exc)) from None
    doc = Doc(uri=uri, collection=collection, content_key=stored.key,
              fixity=stored.fixity._replace(type=media_type), **described)
    try:
        async with db(request) as conn:  # only once the body is in: never while it streams
            result = await write_batch(
                conn, [doc], page_size=settings.page_size, seal_after=settings.seal_after
            )
    except asyncpg.UniqueViolationError as exc:
        raise HTTPProblem(
            422, "conflicting description",
            "the oai_identifier is already used by another resource",
            errors=[{"pointer": "/oai_identifier", "detail": exc.detail or str(exc)}],
        ) from None
    body = {"uri": uri, "changed": bool(result.changed), "length": stored.fixity.length,
            "md5": stored.fixity.md5, "sha256": stored.fixity.sha256}
    status = 201 if "created" in result.kinds else 200
    return JSONResponse(body, status_code=status, headers={
        "ETag": strong_etag(stored.key), "Location": uri,
        "Link": f'<{capability_list_url(settings, collection)}>; rel="resourcesync"',
    })


async def _lookup(reader: Reader, uri: str) -> Record | None:
    """The resource's row, from a replica when there are some. A replica that does not know
    the URI, or knows it without these bytes, may be behind a write a client has just seen
    (on the primary or in a notification): the primary decides."""
    async with reader.snapshot() as snap:
        row = await snap.conn.fetchrow(_Q["resource_for_content"], uri)
        replica = snap.replica is not None
    if replica and (row is None or row["content_key"] is None or row["deleted"]):
        async with reader.snapshot(primary=True) as snap:
            row = await snap.conn.fetchrow(_Q["resource_for_content"], uri)
    return row


@router.api_route("/content/{collection}/{path:path}", methods=["GET", "HEAD"])
async def get_content(
    collection: str, path: str, request: Request, reader: ReaderDep, settings: Config,
    store: Store,
) -> Response:
    """The stored bytes, with strong ETag, Last-Modified, conditional GET and Range. With
    HEADWATER_ACCEL_REDIRECT, nginx sends the bytes from the shared content folder
    (`X-Accel-Redirect`, deploy/nginx/headwater.conf)."""
    uri = _published_uri(request, settings, collection)
    row = await _lookup(reader, uri)
    if row is None or row["content_key"] is None and not row["deleted"]:
        raise HTTPProblem(404, "not found", f"no stored content at {uri}")
    if row["deleted"]:
        async with reader.snapshot() as snap:  # a deleted URI: a rare, short look-up
            reason = await purge_reason(snap.conn, uri)
        raise HTTPProblem(410, "gone", f"{uri} was deleted" if reason is None
                          else f"{uri} was taken down: {reason}")
    link = f'<{capability_list_url(settings, row["collection"])}>; rel="resourcesync"'
    etag = strong_etag(row["content_key"])
    headers = {"ETag": etag, "Last-Modified": http_date(row["lastmod"]), "Link": link,
               "Cache-Control": settings.cache_control, **CONTENT_HEADERS}
    if not_modified(request.headers, etag, row["lastmod"]):
        return Response(status_code=304, headers=headers)
    key = row["content_key"]
    file = store.path_for(key)
    media_type = row["type"] or "application/octet-stream"
    if settings.accel_redirect:
        if not file.is_file():
            raise HTTPProblem(404, "not found", "the bytes are missing from the store")
        # the path inside the content folder, derived from the digest only (never the URL)
        headers["X-Accel-Redirect"] = f"{settings.accel_redirect}{key[:2]}/{key[2:4]}/{key}"
        return Response(status_code=200, headers=headers, media_type=media_type)
    return _send(request, file, media_type, headers)


_SMALL = 256 * 1024


def _send(request: Request, file: Path, media_type: str, headers: dict[str, str]) -> Response:
    """Small files whole in one read, on the event loop: a page-cache read of a few KiB costs
    less than the four thread-pool hops (stat, open, read, close) of `FileResponse`, which
    stays for large files and Range requests (docs/benchmarks.md, Load)."""
    try:
        size = os.stat(file).st_size
    except FileNotFoundError:
        raise HTTPProblem(404, "not found", "the bytes are missing from the store") from None
    if size > _SMALL or "range" in request.headers:
        return FileResponse(file, media_type=media_type, headers=headers)
    with open(file, "rb") as f:
        data = f.read()
    if request.method == "HEAD":
        return Response(status_code=200, media_type=media_type,
                        headers=headers | {"Content-Length": str(len(data)),
                                           "Accept-Ranges": "bytes"})
    return Response(data, media_type=media_type, headers=headers | {"Accept-Ranges": "bytes"})


@router.delete("/content/{collection}/{path:path}")
async def delete_content(
    collection: str, path: str, request: Request, _: Writer, settings: Config
) -> JSONResponse:
    """Mark the resource deleted and append a `deleted` change."""
    uri = _published_uri(request, settings, collection)
    async with db(request) as conn:
        row = await conn.fetchrow(_Q["resource_for_content"], uri)
        if row is None:
            raise HTTPProblem(404, "not found", f"nothing is published at {uri}")
        if row["deleted"]:
            raise HTTPProblem(410, "gone", f"{uri} was already deleted")
        await write_batch(
            conn, [Doc(uri=uri, collection=row["collection"], deleted=True)],
            page_size=settings.page_size, seal_after=settings.seal_after,
        )
    return JSONResponse({"uri": uri, "deleted": True})
