"""`/`: the status page — collections, discovery links, change rate, notifier and dumps.

Server-rendered (Jinja2), no script, a strict Content-Security-Policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.db.queries import load_queries
from app.http.problems import HTTPProblem
from app.status.chart import hourly_bars
from sitemaps import urls
from sitemaps.format import w3c

router = APIRouter(tags=["operations"])
_Q = load_queries("app.status", "sql/status.sql")
_LQ = load_queries("app.lifecycle", "sql/lifecycle.sql")
_HERE = Path(str(resources.files("app.status")))
_ENV = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape())
_STATIC = _HERE / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _subtree_totals(rows: list[Any]) -> dict[str, int]:
    """Resources per collection, descendants included (a parent includes its children)."""
    totals: dict[str, int] = {}
    for row in rows:
        name = row["name"]
        parts = name.split(":")
        for i in range(1, len(parts) + 1):
            key = ":".join(parts[:i])
            totals[key] = totals.get(key, 0) + row["resources"]
    return totals


@router.get("/", response_class=HTMLResponse)
async def status_page(request: Request) -> HTMLResponse:
    """The source at a glance, with links to every discovery document."""
    settings = request.app.state.settings
    base = settings.base_url
    async with request.app.state.pool.acquire() as conn:
        async with conn.transaction(readonly=True):
            await conn.execute("SET LOCAL statement_timeout = '10s'")
            head = await conn.fetchrow(_Q["log_head"])
            rows = await conn.fetch(_Q["collection_counts"])
            hourly = {r["hour"]: r["n"] for r in await conn.fetch(_Q["changes_per_hour"])}
            dumps = [{**dict(r), "newest": w3c(r["newest"])}
                     for r in await conn.fetch(_Q["dump_status"])]
            withheld = [dict(r) for r in await conn.fetch(_Q["dumps_withheld"])]
            retired = {r["name"] for r in await conn.fetch(_LQ["retired_names"])}
            purges = [{**dict(r), "purged_at": w3c(r["purged_at"])}
                      for r in await conn.fetch(_LQ["recent_purges"], 50)]
    totals = _subtree_totals(rows)
    collections = [
        {"name": r["name"], "depth": r["depth"], "resources": totals[r["name"]],
         "retired": r["name"] in retired,
         "capability_list": urls.capability_list(base, r["name"]),
         "resource_list": urls.resource_list(base, r["name"]),
         "change_list": urls.change_list(base, r["name"])}
        for r in rows
    ]
    hubs: list[dict[str, Any]] = []
    state_fn = getattr(request.app.state, "notifier_state", None)
    if state_fn is not None:
        state = await state_fn()
        for hub, info in (state.get("hubs") or {}).items() if isinstance(state, dict) else []:
            hubs.append({"hub": hub, **(info if isinstance(info, dict) else {})})
    html = _ENV.get_template("status.html").render(
        name=settings.repository_name, base_path=settings.base_path,
        source_description=urls.source_description(base), oai=urls.oai(base),
        position=head["position"],
        head_datetime=w3c(head["datetime"]) if head["datetime"] else None,
        chart=hourly_bars(hourly, datetime.now(UTC)), collections=collections, hubs=hubs,
        dumps=dumps, withheld=withheld, purges=purges,
    )
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> FileResponse:
    path = _STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise HTTPProblem(404, "not found")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600",
                                       "X-Content-Type-Options": "nosniff"})
