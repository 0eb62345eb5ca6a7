"""`/admin/…`: operator actions behind a write token (docs/operations.md).

    POST /admin/purge    {"uris": [...], "reason": "..."}  takedown: bytes gone, GET answers 410
    POST /admin/retire   {"collection": "...", "reason": "..."}  a `deleted` change for each
    POST /admin/gc       one garbage collection pass now; the bytes and files freed
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.http.auth import Writer
from app.http.bodies import read_limited
from app.http.deps import Config, Store
from app.http.problems import HTTPProblem
from app.lifecycle.gc import collect
from app.lifecycle.purge import MAX_URIS, PurgeError, purge
from app.lifecycle.retire import RetireError, retire
from sitemaps.names import is_collection_name

router = APIRouter(prefix="/admin", tags=["operations"])
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _invalid(pointer: str, detail: str) -> HTTPProblem:
    return HTTPProblem(422, "invalid request", detail,
                       errors=[{"pointer": pointer, "detail": detail}])


async def _body(request: Request, max_body: int) -> dict[str, Any]:
    raw = await read_limited(request, max_body)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPProblem(400, "invalid JSON", str(exc)) from None
    if not isinstance(body, dict):
        raise _invalid("", "the body is a JSON object")
    return body


def _clean(value: object, limit: int) -> bool:
    """A non-empty string PostgreSQL can store (no NUL) and a person can read (no controls)."""
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= limit \
        and not _CONTROL.search(value)


def _reason(body: dict[str, Any]) -> str:
    reason = body.get("reason")
    if not _clean(reason, 2_000):
        raise _invalid("/reason", "'reason' is a non-empty string of at most 2,000 characters, "
                       "without control characters")
    return str(reason).strip()


def _token_name(request: Request) -> str:
    return getattr(request.state, "token_name", "") or "unnamed"


@router.post("/purge")
async def purge_route(request: Request, _: Writer, settings: Config,
                      store: Store) -> JSONResponse:
    """Take resources down: a `deleted` change, their bytes out of the store and of every dump
    package, `410 Gone` with the reason from then on."""
    body = await _body(request, settings.max_body)
    uris = body.get("uris")
    if not isinstance(uris, list) or not uris or len(uris) > MAX_URIS \
            or not all(_clean(u, 8_192) for u in uris):
        raise _invalid("/uris", f"'uris' is a list of 1 to {MAX_URIS} URIs")
    reason = _reason(body)
    try:
        report = await purge(request.app.state.pool, settings, store, uris, reason=reason,
                             token_name=_token_name(request))
    except PurgeError as exc:
        raise HTTPProblem(404, "not found", str(exc)) from None
    return JSONResponse({"uris": report.uris, "deleted": report.deleted,
                         "files_removed": report.files_removed,
                         "bytes_removed": report.bytes_removed,
                         "kept_shared": report.kept_shared,
                         "packages_rebuilt": report.packages_rebuilt,
                         "rebuild_failed": not report.rebuilt})


@router.post("/retire")
async def retire_route(request: Request, _: Writer, settings: Config) -> JSONResponse:
    """Retire a collection (descendants included): a `deleted` change for each resource."""
    body = await _body(request, settings.max_body)
    name = body.get("collection")
    if not isinstance(name, str) or not is_collection_name(name):
        raise _invalid("/collection", "'collection' is a collection name")
    reason = _reason(body)
    async with request.app.state.pool.acquire() as conn:
        try:
            report = await retire(conn, settings, name, reason=reason,
                                  token_name=_token_name(request))
        except RetireError as exc:
            raise HTTPProblem(404, "not found", str(exc)) from None
    # the Resource Dump goes empty now rather than at the next daily build
    scheduler = getattr(request.app.state, "dump_scheduler", None)
    if scheduler is not None and report.deleted:
        scheduler.request(name)
    return JSONResponse({"collection": report.collection, "collections": report.collections,
                         "deleted": report.deleted, "retired": True})


@router.post("/gc")
async def gc_route(request: Request, _: Writer, settings: Config, store: Store) -> JSONResponse:
    """One garbage collection pass of the content store, now."""
    async with request.app.state.pool.acquire() as conn:
        report = await collect(conn, store, grace=settings.gc_grace.total_seconds())
    return JSONResponse({"scanned": report.scanned, "files_freed": report.files_freed,
                         "bytes_freed": report.bytes_freed,
                         "partials_freed": report.partials_freed})
