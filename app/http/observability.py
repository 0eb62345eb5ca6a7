"""Request ids, access logs and Prometheus metrics for every HTTP request.

A pure ASGI middleware (not BaseHTTPMiddleware) so streamed responses pass through untouched
and the cost per request is a few attribute reads.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
import uuid
from typing import Any

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ObservabilityMiddleware", "REQUESTS", "LATENCY", "LOG_POSITION", "NOTIFIER_LAG",
    "DUMP_BUILD_SECONDS", "INGESTED", "request_id", "RequestIdFilter", "render_metrics",
]

log = logging.getLogger("headwater.access")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

REQUESTS = Counter("headwater_http_requests_total", "HTTP requests by route and status",
                   ["method", "route", "status"])
LATENCY = Histogram(
    "headwater_http_request_duration_seconds", "Time to the last byte of the response, by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INGESTED = Counter("headwater_ingest_documents_total", "Documents received by the write path",
                   ["outcome"])
LOG_POSITION = Gauge("headwater_change_log_position", "Newest position of the change log",
                     multiprocess_mode="max")
NOTIFIER_LAG = Gauge("headwater_notifier_lag_positions", "Changes not yet acknowledged, per hub",
                     ["hub"], multiprocess_mode="max")
NOTIFIER_LAG_SECONDS = Gauge("headwater_notifier_lag_seconds",
                             "Age of the oldest unacknowledged change, per hub", ["hub"],
                             multiprocess_mode="max")
NOTIFIER_FAILURES = Gauge("headwater_notifier_consecutive_failures",
                          "Consecutive failed deliveries, per hub", ["hub"],
                          multiprocess_mode="max")
DUMP_BUILD_SECONDS = Histogram("headwater_dump_build_seconds",
                               "Time to build a dump (every package of one build)",
                               ["kind"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600))


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every log record (JSON logs carry it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_of(scope)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            log.info("request", extra={
                "method": method, "path": scope["path"], "route": route, "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            })
            request_id.reset(token)


def render_metrics() -> bytes:
    """The exposition text: across all workers when running in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(DEFAULT_REGISTRY)
