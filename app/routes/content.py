"""`/content/{collection}/{path}`: upload, serve and delete bytes kept in the content store."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from app.db.queries import load_queries
from app.http.auth import Writer
from app.http.bodies import stream_limited
from app.http.conditional import http_date, not_modified, strong_etag
from app.http.deps import Config, Conn, Store
from app.http.problems import HTTPProblem
from app.lifecycle.purge import purge_reason
from app.settings import Settings
from app.store.content import TooLarge
from app.write.changeset import Doc
from app.write.records import bare_media_type
from app.write.writer import write_batch
from sitemaps.names import BadPath, content_path, is_collection_name

router = APIRouter(tags=["content"])
_Q = load_queries("app.read", "sql/content.sql")


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


@router.put("/content/{collection}/{path:path}", status_code=201)
async def put_content(
    collection: str, path: str, request: Request, _: Writer, conn: Conn, settings: Config,
    store: Store,
) -> JSONResponse:
    """Store the request body's bytes and publish them at this URI."""
    uri = _published_uri(request, settings, collection)
    try:
        stored = await store.put_stream(
            stream_limited(request, settings.max_upload), max_bytes=settings.max_upload
        )
    except TooLarge as exc:
        raise HTTPProblem(413, "request body too large", str(exc)) from None
    doc = Doc(
        uri=uri, collection=collection, content_key=stored.key, length=stored.length,
        type=bare_media_type(request.headers.get("content-type")) or "application/octet-stream",
        md5=stored.md5, sha1=stored.sha1, sha256=stored.sha256,
    )
    result = await write_batch(
        conn, [doc], page_size=settings.page_size, seal_after=settings.seal_after
    )
    body = {"uri": uri, "changed": bool(result.changed), "length": stored.length,
            "md5": stored.md5, "sha256": stored.sha256}
    status = 201 if "created" in result.kinds else 200
    return JSONResponse(body, status_code=status, headers={
        "ETag": strong_etag(stored.key), "Location": uri,
        "Link": f'<{capability_list_url(settings, collection)}>; rel="resourcesync"',
    })


@router.api_route("/content/{collection}/{path:path}", methods=["GET", "HEAD"])
async def get_content(
    collection: str, path: str, request: Request, conn: Conn, settings: Config, store: Store
) -> Response:
    """The stored bytes, with strong ETag, Last-Modified, conditional GET and Range."""
    uri = _published_uri(request, settings, collection)
    row = await conn.fetchrow(_Q["resource_for_content"], uri)
    if row is None or row["content_key"] is None and not row["deleted"]:
        raise HTTPProblem(404, "not found", f"no stored content at {uri}")
    if row["deleted"]:
        reason = await purge_reason(conn, uri)
        raise HTTPProblem(410, "gone", f"{uri} was deleted" if reason is None
                          else f"{uri} was taken down: {reason}")
    link = f'<{capability_list_url(settings, row["collection"])}>; rel="resourcesync"'
    etag = strong_etag(row["content_key"])
    headers = {"ETag": etag, "Last-Modified": http_date(row["lastmod"]), "Link": link,
               "Cache-Control": "no-cache"}
    if not_modified(request.headers, etag, row["lastmod"]):
        return Response(status_code=304, headers=headers)
    file = store.path_for(row["content_key"])
    if not file.is_file():
        raise HTTPProblem(404, "not found", "the bytes are missing from the store")
    return FileResponse(file, media_type=row["type"] or "application/octet-stream",
                        headers=headers)


@router.delete("/content/{collection}/{path:path}")
async def delete_content(
    collection: str, path: str, request: Request, _: Writer, conn: Conn, settings: Config
) -> JSONResponse:
    """Mark the resource deleted and append a `deleted` change."""
    uri = _published_uri(request, settings, collection)
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
