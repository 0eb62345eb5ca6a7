"""What every document route shares: the snapshot-per-request pattern and the ETag basis."""

from __future__ import annotations

from fastapi import Request

from app.http.problems import HTTPProblem
from app.read import queries as ddb

__all__ = ["instance_id", "snapshot", "require_collection", "not_found"]


def not_found(what: str) -> HTTPProblem:
    return HTTPProblem(404, "not found", what)


async def instance_id(request: Request, snap: ddb.Snapshot) -> str:
    """This database's identity, read once per process: ETags and cache files carry it, so two
    databases behind one base URL never share validators."""
    found = getattr(request.app.state, "instance_id", None)
    if found is None:
        found = await snap.conn.fetchval(ddb.Q["instance_id"]) or "none"
        request.app.state.instance_id = found
    return found


async def snapshot(request: Request) -> ddb.Snapshot:
    return await ddb.open_snapshot(request.app.state.pool)


async def require_collection(snap: ddb.Snapshot, name: str) -> ddb.Collection:
    found = await ddb.collection(snap.conn, name)
    if found is None:
        raise not_found(f"no collection named {name!r}")
    return found
