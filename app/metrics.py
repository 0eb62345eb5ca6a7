"""Every Prometheus instrument the service exposes, and their exposition text.

Defined in one module so the write path, the dump builder, the background tasks and the HTTP
layer count into the same registry without importing one another.
"""

from __future__ import annotations

import os
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

__all__ = [
    "REQUESTS", "LATENCY", "INGESTED", "LOG_POSITION", "NOTIFIER_LAG", "NOTIFIER_LAG_SECONDS",
    "NOTIFIER_FAILURES", "REPLICA_LAG_SECONDS", "REPLICA_LAG_POSITIONS",
    "DUMP_BUILD_SECONDS", "TASK_UP", "TASK_RESTARTS", "render_metrics",
]

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
REPLICA_LAG_SECONDS = Gauge("headwater_replica_lag_seconds",
                            "Age of the newest replayed commit while WAL waits to be replayed "
                            "(0 when caught up), per read replica", ["replica"],
                            multiprocess_mode="max")
REPLICA_LAG_POSITIONS = Gauge("headwater_replica_lag_positions",
                              "Change log positions the primary has and the replica has not "
                              "yet replayed, per read replica", ["replica"],
                              multiprocess_mode="max")
DUMP_BUILD_SECONDS = Histogram("headwater_dump_build_seconds",
                               "Time to build a dump (every package of one build)",
                               ["kind"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600))
TASK_UP = Gauge("headwater_background_task_up",
                "1 while a background task (notifier, dumps, sealer) runs, per worker",
                ["task"], multiprocess_mode="min")
TASK_RESTARTS = Counter("headwater_background_task_restarts_total",
                        "Background tasks restarted after they died", ["task"])


def render_metrics() -> bytes:
    """The exposition text: across all workers when running in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(DEFAULT_REGISTRY)
