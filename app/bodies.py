"""Reading request bodies within a size limit, so an oversized body costs at most the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from app.problems import HTTPProblem

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


async def stream_limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    check_declared_length(request, limit)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise _too_large(limit)
        yield chunk


async def read_limited(request: Request, limit: int) -> bytes:
    return b"".join([chunk async for chunk in stream_limited(request, limit)])
