"""Reading request bodies within a size limit, so an oversized body costs at most the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import Request

from app.http.problems import HTTPProblem

__all__ = ["read_limited", "stream_limited"]


def _too_large(limit: int) -> HTTPProblem:
    return HTTPProblem(413, "request body too large", f"the limit is {limit} bytes")


def check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPProblem(400, "invalid Content-Length")
        if int(declared) > limit:
            raise _too_large(limit)


async def _timed_chunks(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks, each awaited at most HEADWATER_BODY_READ_TIMEOUT: a client trickling
    its upload (slowloris) gets 408 instead of holding a worker and a temp file forever."""
    timeout = request.app.state.settings.body_read_timeout.total_seconds()
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise HTTPProblem(408, "request body too slow",
                              f"no body data received for {timeout:g} s",
                              headers={"Connection": "close"}) from None
        yield chunk


async def stream_limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    check_declared_length(request, limit)
    seen = 0
    async for chunk in _timed_chunks(request):
        seen += len(chunk)
        if seen > limit:
            raise _too_large(limit)
        yield chunk


async def read_limited(request: Request, limit: int, *, within: float | None = None) -> bytes:
    """The whole body, at most `limit` bytes (413). With `within`, the whole read must also end
    within that many seconds (408): a body trickled one byte per chunk timeout would otherwise
    hold its request for hours. Used for the small bodies that precede a slot (OAI-PMH forms,
    on-demand dump requests)."""
    if within is None:
        return b"".join([chunk async for chunk in stream_limited(request, limit)])
    try:
        async with asyncio.timeout(within):
            return b"".join([chunk async for chunk in stream_limited(request, limit)])
    except TimeoutError:
        raise HTTPProblem(408, "request body too slow",
                          f"the body was not received within {within:g} s",
                          headers={"Connection": "close"}) from None
