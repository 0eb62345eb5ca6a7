"""RFC 9457 problem details: one exception type, one handler, one media type.

    HTTPProblem            raised by routes and dependencies
      status, title, detail, errors (JSON Pointer + detail), headers

The handler also renders FastAPI's own validation errors and Starlette's HTTP errors as
problems, so every 4xx a client sees has the same machine-readable shape.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db.connect import PoolBusy

__all__ = ["HTTPProblem", "problem_response", "install_handlers"]

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)


class HTTPProblem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        type_: str = "about:blank",
    ):
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers, self.type = errors, headers, type_


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        return problem_response(
            exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers,
            type_=exc.type, instance=request.url.path,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]}
            for e in exc.errors()
        ]
        return problem_response(422, "invalid request", errors=errors, instance=request.url.path)

    @app.exception_handler(PoolBusy)
    async def _pool_busy(request: Request, exc: PoolBusy) -> JSONResponse:
        # back-pressure (docs/rules.md §10): 429, except OAI-PMH's 503 (OAI-PMH 2.0 §3.1.2.2)
        oai = request.url.path.endswith("/oai")
        return problem_response(
            503 if oai else 429, "too many requests",
            "every database connection is busy; retry later",
            headers={"Retry-After": str(max(1, math.ceil(exc.timeout)))},
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # still a problem body, never a traceback; the error is logged with its stack
        unavailable = isinstance(exc, OSError | asyncpg.PostgresConnectionError |
                                 asyncpg.InterfaceError | asyncpg.CannotConnectNowError)
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500, "database unavailable" if unavailable else "internal error",
            "the request was not completed; retry later" if unavailable else None,
            instance=request.url.path,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None),
            instance=request.url.path,
        )
