"""Back-pressure: bounded concurrency per worker, answered with 429 (`/oai`: 503) and
`Retry-After`.

Two budgets, both per worker process (each uvicorn worker has its own):
- every request in flight (`HEADWATER_MAX_INFLIGHT`), so a flood queues in the kernel's backlog
  instead of growing this process's memory without bound;
- expensive routes — documents generated from the database (Resource/Change List pages, indexes,
  OAI-PMH lists, sitemaps, the websub notification topic) and dump builds — each group with its
  own semaphore (`HEADWATER_DOCUMENT_CONCURRENCY`, `HEADWATER_DUMP_CONCURRENCY`).

A document served from a file already on disk (a sealed Change List page, a cached Resource
List part) gives its slot back before the file is sent (`release_slot`): the slot bounds work
on the database and CPU, not bytes copied from the page cache, so a crowd of destinations
reading cached documents is never refused for want of one.

A request waits up to `HEADWATER_BUSY_WAIT` for a slot (smoothing short bursts), then gets a 429
problem (docs/rules.md §10); `/oai` gets 503 with `Retry-After` and a plain-text body instead, the
flow control OAI-PMH 2.0 §3.1.2.2 defines for harvesters (docs/oai-pmh.md). A slot is held until the
response's last byte is handed to the server, so a streamed page counts for as long as it streams.

A client that stops reading holds its slot (and, for a streamed document, a database connection
with an open snapshot): each body chunk must be taken by the client within
`HEADWATER_SEND_TIMEOUT`, else the connection is dropped and the slot freed. That is a minimum
transfer rate of one chunk per timeout, far below any real destination.

A full disk (ENOSPC, EDQUOT, EFBIG) while storing an upload is answered 507 with a problem body;
the store has already removed its temporary file and no row was written.

A pure ASGI middleware, so streamed responses pass through untouched.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.problems import HTTPProblem, problem_response
from app.settings import Settings

__all__ = ["BackPressure", "Budgets", "ClientTooSlow", "RequestGuard", "classify",
           "install_limits", "DISK_FULL_ERRNOS", "SLOT_KEY", "release_slot"]

log = logging.getLogger(__name__)

SLOT_KEY = "headwater.release_slot"

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

# Paths (after the base path) whose responses are generated from the database at some cost.
# Dump builds are POSTs; built packages (`dumps/*.zip`) are files, served like content.
# On-demand dumps and POST /oai read their body first and take their slot in the route.
_DUMP_BUILD = re.compile(r"^/resourcesync/[^/]+/resourcedump/build$")
_ON_DEMAND_DUMP = re.compile(r"^/resourcesync/[^/]+/dump$")
# The websub topic (`notifications.xml`) is a document: it builds up to a page plus the window
# of changes in memory, so it shares the document budget rather than run unbounded.
_DOCUMENT = re.compile(
    r"^/(resourcesync/[^/]+/(?!dumps/.*\.zip$).+"
    r"|sitemap\.xml$|sitemap/.+|oai$)"
)


def classify(method: str, path: str) -> str | None:
    """The budget a request draws on besides the in-flight one: 'dump', 'document' or None.
    `POST /oai` and on-demand dumps (`POST …/dump`) draw on none here: their routes read the
    body first, then take a slot, so a client trickling its body never holds one."""
    if method == "POST" and _DUMP_BUILD.match(path):
        return "dump"
    if method == "POST" and (path == "/oai" or _ON_DEMAND_DUMP.match(path)):
        return None
    if method in ("GET", "HEAD", "POST") and _DOCUMENT.match(path):
        return "document"
    return None


def _label_refusal(scope: Scope, budget: str) -> None:
    """Routing has not run for a refused request: name the budget in the metrics' route label
    (`busy:document`, `busy:dump`, `busy:requests`) rather than leave it `unmatched`."""
    scope["route"] = SimpleNamespace(path_format=f"busy:{budget}")


def release_slot(scope: Scope) -> None:
    """Give back the request's document or dump slot now (no-op without one)."""
    release = scope.get(SLOT_KEY)
    if release is not None:
        release()


class ClientTooSlow(Exception):
    """The client took no response bytes for HEADWATER_SEND_TIMEOUT: drop the connection."""


@dataclass
class _Budgets:
    inflight: asyncio.Semaphore
    groups: dict[str, asyncio.Semaphore] = field(default_factory=dict)


async def _acquire(sem: asyncio.Semaphore, wait: float) -> bool:
    if not sem.locked():
        await sem.acquire()
        return True
    try:
        await asyncio.wait_for(sem.acquire(), wait)
    except TimeoutError:
        return False
    return True


class Budgets:
    """The worker's semaphores, shared by the middleware and the routes that take a slot
    themselves once their body is read (`app.state.budgets`)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.wait = settings.busy_wait.total_seconds()
        self.retry_after = str(max(1, math.ceil(self.wait * 2)))
        self._made: _Budgets | None = None

    def get(self) -> _Budgets:
        # created on first use, inside the worker's event loop
        if self._made is None:
            self._made = _Budgets(
                asyncio.Semaphore(self.settings.max_inflight),
                {"document": asyncio.Semaphore(self.settings.document_concurrency),
                 "dump": asyncio.Semaphore(self.settings.dump_concurrency)},
            )
        return self._made

    @asynccontextmanager
    async def slot(self, group: str, *, status: int = 429) -> AsyncIterator[None]:
        """Hold one slot of `group` for the block, or refuse with `status` + Retry-After."""
        sem = self.get().groups[group]
        if not await _acquire(sem, self.wait):
            raise HTTPProblem(status, "too many requests",
                              f"too many {group} requests in progress; retry later",
                              headers={"Retry-After": self.retry_after})
        try:
            yield
        finally:
            sem.release()


class BackPressure:
    def __init__(self, app: ASGIApp, settings: Settings, budgets: Budgets | None = None):
        self.app = app
        self.settings = settings
        self.base_path = settings.base_path
        self.budgets = budgets or Budgets(settings)
        self.wait = self.budgets.wait
        self.retry_after = self.budgets.retry_after
        self.send_timeout = settings.send_timeout.total_seconds()

    def _get_budgets(self) -> _Budgets:
        return self.budgets.get()

    async def _acquire(self, sem: asyncio.Semaphore) -> bool:
        return await _acquire(sem, self.wait)

    async def _busy(self, scope: Scope, receive: Receive, send: Send, budget: str,
                    path: str) -> None:
        _label_refusal(scope, budget)
        what = {"dump": "dump builds", "document": "document requests"}.get(budget, "requests")
        if path == "/oai":  # OAI-PMH flow control: harvesters know 503 + Retry-After
            busy = PlainTextResponse(
                f"too many {what} in progress; retry after {self.retry_after} s\n", 503,
                headers={"Retry-After": self.retry_after})
            await busy(scope, receive, send)
            return
        response = problem_response(
            429, "too many requests", f"too many {what} in progress; retry later",
            headers={"Retry-After": self.retry_after}, instance=scope.get("path"),
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path):]
        if path in ("/healthz", "/readyz", "/metrics"):  # probes never queue behind traffic
            await self.app(scope, receive, send)
            return
        budgets = self._get_budgets()
        send = self._timed_send(send)
        if not await self._acquire(budgets.inflight):
            await self._busy(scope, receive, send, "requests", path)
            return
        try:
            group = classify(scope["method"], path)
            if group is None:
                await self.app(scope, receive, send)
                return
            sem = budgets.groups[group]
            if not await self._acquire(sem):
                await self._busy(scope, receive, send, group, path)
                return
            released = False

            def release() -> None:
                nonlocal released
                if not released:
                    released = True
                    sem.release()

            # a route that ends up sending a file already on disk gives its slot back early
            scope[SLOT_KEY] = release
            try:
                await self.app(scope, receive, send)
            finally:
                release()
        except ClientTooSlow:
            # returning without completing the response makes the server close the connection
            log.warning("dropped a client that stopped reading", extra={"path": scope["path"]})
        finally:
            budgets.inflight.release()

    def _timed_send(self, send: Send) -> Send:
        timeout = self.send_timeout

        async def timed(message: Message) -> None:
            # the server's send waits while the socket buffer is full: bound that wait
            try:
                async with asyncio.timeout(timeout):
                    await send(message)
            except TimeoutError:
                raise ClientTooSlow() from None

        return timed


_CONTROL_IN_PATH = re.compile("[\x00-\x1f\x7f\ufffe\uffff]")


def _head_size(scope: Scope) -> int:
    """Bytes of the request head: the request line (its target included: a 100 kB query string
    counts like a 100 kB header) and every header line."""
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
    line = len(scope["method"]) + target + 12  # "GET <target>?<query> HTTP/1.1\r\n"
    return line + sum(len(k) + len(v) + 4 for k, v in scope["headers"])


class RequestGuard:
    """Refuse, before any route runs:
    - a decoded path carrying NUL or another control character (`%00`, `%0a`…), U+FFFE or
      U+FFFF (`%EF%BF%BF`, which XML 1.0 forbids) with 400: no
      route has a use for them, PostgreSQL text cannot hold NUL, and refusing them here keeps
      them out of every query, log line and published document;
    - a request head (request line and headers) larger than HEADWATER_MAX_HEADER_SIZE with
      431. uvicorn's h11 parser enforces that limit while reading; its default httptools
      parser does not, so the head has been read once by now, but it goes no further
      (bounded per connection by HEADWATER_LIMIT_CONCURRENCY)."""

    def __init__(self, app: ASGIApp, max_header_size: int):
        self.app = app
        self.max_header_size = max_header_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = None
            if _CONTROL_IN_PATH.search(scope["path"]):
                refusal = problem_response(400, "invalid path",
                                           "control characters are not allowed in a path")
            elif _head_size(scope) > self.max_header_size:
                refusal = problem_response(
                    431, "request header fields too large",
                    f"the request head is limited to {self.max_header_size} bytes",
                    headers={"Connection": "close"})
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _disk_full(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        log.error("content store full: %s", exc.strerror)
        return problem_response(
            507, "insufficient storage", "the content store is full; nothing was stored",
            headers={"Retry-After": "60"}, instance=request.url.path,
        )
    raise exc  # any other OSError is a server error, reported as such


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Register the request guard, the back-pressure middleware and the full-disk handler."""
    budgets = app.state.budgets = Budgets(settings)
    app.add_middleware(BackPressure, settings=settings, budgets=budgets)
    app.add_middleware(RequestGuard, max_header_size=settings.max_header_size)
    app.add_exception_handler(OSError, _disk_full)
