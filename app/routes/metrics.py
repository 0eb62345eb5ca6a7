"""`/metrics`: Prometheus exposition, with log and notifier gauges refreshed at scrape time."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.db.queries import load_queries
from app.metrics import (
    LOG_POSITION,
    NOTIFIER_FAILURES,
    NOTIFIER_LAG,
    NOTIFIER_LAG_SECONDS,
    REPLICA_LAG_POSITIONS,
    REPLICA_LAG_SECONDS,
    render_metrics,
)

router = APIRouter(tags=["operations"])
_Q = load_queries("app.status", "sql/status.sql")


async def refresh_gauges(request: Request) -> None:
    async with request.app.state.pool.acquire() as conn:
        head = await conn.fetchrow(_Q["log_head"])
    LOG_POSITION.set(head["position"])
    reads = getattr(request.app.state, "reads", None)
    for entry in await reads.lag() if reads is not None else []:
        if "lag_seconds" in entry:
            REPLICA_LAG_SECONDS.labels(entry["replica"]).set(entry["lag_seconds"])
            REPLICA_LAG_POSITIONS.labels(entry["replica"]).set(entry["lag_positions"])
    state_fn = getattr(request.app.state, "notifier_state", None)
    if state_fn is None:
        return
    state = await state_fn()
    for hub, info in (state.get("hubs") or {}).items() if isinstance(state, dict) else []:
        if not isinstance(info, dict):
            continue
        if isinstance(info.get("lag_positions"), int | float):
            NOTIFIER_LAG.labels(hub).set(info["lag_positions"])
        if isinstance(info.get("lag_seconds"), int | float):
            NOTIFIER_LAG_SECONDS.labels(hub).set(info["lag_seconds"])
        if isinstance(info.get("consecutive_failures"), int | float):
            NOTIFIER_FAILURES.labels(hub).set(info["consecutive_failures"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Requests by route and status, latency histograms, ingest counts, change-log position,
    notifier lag, read replica lag and dump build durations, in the Prometheus text format."""
    await refresh_gauges(request)
    return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)
