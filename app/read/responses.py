"""Serving documents: validators, conditional GET, HEAD, gzip and streaming.

Every document answers GET and HEAD with `application/xml`, a strong ETag computed from what
determines its bytes (never by hashing a large body), Last-Modified, and 304 when the client is
current. Identity and gzip are two representations with their own ETags (`Vary:
Accept-Encoding`). Open documents are compressed as they stream, at a low level; sealed pages are
served from files compressed once (`app.read.sealed_pages`).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from app.http.conditional import http_date, not_modified, strong_etag
from app.http.limits import release_slot
from sitemaps.format import URLSET_CLOSE

__all__ = ["XML", "etag_token", "accepts_gzip", "document_response", "file_response",
           "NO_CACHE", "IMMUTABLE", "BigChunkFile", "urlset_stream", "text_stream",
           "is_current"]

XML = "application/xml"
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
_GZIP_LEVEL = 1  # open documents are compressed per request: cheap beats small


def etag_token(*parts: object) -> str:
    """A short stable token from the values that determine a document's bytes."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def accepts_gzip(request: Request) -> bool:
    for item in request.headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip"):
            q = params.strip().removeprefix("q=").strip()
            try:
                return not q or float(q) > 0
            except ValueError:
                return True
    return False


def _validators(request: Request, token: str, last_modified: datetime | None,
                cache_control: str) -> tuple[dict[str, str], bool, bool]:
    gz = accepts_gzip(request)
    etag = strong_etag(token + ("-gz" if gz else ""))
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    # a client may hold either representation's tag
    current = (not_modified(request.headers, etag, last_modified)
               or not_modified(request.headers, strong_etag(token + ("" if gz else "-gz")), None))
    return headers, gz, current


def is_current(request: Request, token: str, last_modified: datetime | None) -> bool:
    """Whether the client already holds this document (a 304 without reading the body)."""
    return _validators(request, token, last_modified, NO_CACHE)[2]


async def _gzip(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    z = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)
    async for chunk in chunks:
        out = z.compress(chunk)
        if out:
            yield out
    yield z.flush()


async def document_response(
    request: Request,
    *,
    token: str,
    last_modified: datetime | None,
    body: Callable[[], AsyncIterator[bytes]],
    close: Callable[[], Awaitable[None]] | None = None,
    media_type: str = XML,
    cache_control: str | None = None,
) -> Response:
    """A streamed document. `body()` is only called for a GET that needs it; `close` runs
    once the body is done (or at once for HEAD and 304) to release what the body reads from."""
    if cache_control is None:  # what may change: no-cache, or HEADWATER_CACHE_MAX_AGE
        cache_control = request.app.state.settings.cache_control
    headers, gz, current = _validators(request, token, last_modified, cache_control)
    if current or request.method == "HEAD":
        if close is not None:
            await close()
        if current:
            return Response(status_code=304, headers=headers)
        if gz:
            headers["Content-Encoding"] = "gzip"
        # a HEAD answers GET's headers: streamed, so no Content-Length
        return StreamingResponse(_empty(), media_type=media_type, headers=headers)

    chunks = body()
    if gz:
        headers["Content-Encoding"] = "gzip"
        chunks = _gzip(chunks)
    return _Streamed(chunks, close, media_type=media_type, headers=headers)


async def urlset_stream(head: str, ranges: list[AsyncIterator[bytes]],
                        tail: str = URLSET_CLOSE) -> AsyncIterator[bytes]:
    """A document's head, its entries range after range as they are read, then its tail."""
    yield head.encode()
    for chunks in ranges:
        async for chunk in chunks:
            yield chunk
    yield tail.encode()


async def text_stream(parts: Iterable[str]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part.encode()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


class _Streamed(StreamingResponse):
    """Runs `close` however the response ends: done, failed, or the client went away before
    the body even started (a generator never started never runs its `finally`)."""

    def __init__(self, content: AsyncIterator[bytes],
                 close: Callable[[], Awaitable[None]] | None, **kwargs: Any):
        super().__init__(content, **kwargs)
        self._close = close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._close is not None:
                await self._close()


class BigChunkFile(FileResponse):
    chunk_size = 1024 * 1024  # fewer event-loop round trips for a 10 MB page


def file_response(request: Request, *, token: str, last_modified: datetime | None,
                  identity: Path, gzipped: Path, cache_control: str = IMMUTABLE) -> Response:
    """A document kept as files: the identity bytes or their gzip copy, never re-compressed."""
    headers, gz, current = _validators(request, token, last_modified, cache_control)
    release_slot(request.scope)  # bytes already on disk: no document slot needed to send them
    if current:
        return Response(status_code=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    return BigChunkFile(gzipped if gz else identity, media_type=XML, headers=headers)
