"""Liveness and readiness (docs/rules.md §10, §6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.db import migrate

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 once the database is reachable and migrated; 503 otherwise. The background tasks',
    the notifier's and the read replicas' state (lag) are reported in the body but never make
    this fail."""
    body: dict[str, Any] = {"status": "ok"}
    status = 200
    try:
        async with request.app.state.pool.acquire(timeout=5) as conn:
            waiting = await migrate.pending(conn)
        body["database"] = "ok"
        body["migrations"] = "current" if not waiting else [m.version for m in waiting]
        if waiting:
            status = 503
    except Exception as exc:  # any failure to reach the database means "not ready"
        body["database"] = f"unreachable: {type(exc).__name__}"
        status = 503
    reads = getattr(request.app.state, "reads", None)
    if reads is not None and reads.replicas:
        # reads fall back to the primary when a replica is down or behind: never a 503
        try:
            body["replicas"] = await reads.lag()
        except Exception as exc:  # the primary being down is reported above
            body["replicas"] = f"unknown: {type(exc).__name__}"
    tasks = getattr(request.app.state, "tasks", None)
    if tasks is not None:
        body["tasks"] = tasks.states()
    state_fn = getattr(request.app.state, "notifier_state", None)
    if state_fn is not None:
        body["notifier"] = await state_fn()
    if status != 200:
        body["status"] = "unavailable"
    return JSONResponse(body, status_code=status)
