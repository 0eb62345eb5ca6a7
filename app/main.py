"""The application factory: settings in, a FastAPI app out; nothing connects at import."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.db import migrate
from app.db.connect import connect, create_pool
from app.db.embedded import start_embedded
from app.dumps.schedule import dump_scheduler
from app.http.auth import known_tokens
from app.http.limits import install_limits
from app.http.observability import ObservabilityMiddleware
from app.http.problems import install_handlers
from app.http.security_headers import HtmlSecurityHeaders
from app.logs import configure_logging
from app.routes import (
    content,
    dumps,
    health,
    ingest,
    metrics,
    notifications,
    oai,
    resourcesync,
    status,
)
from app.settings import Settings, load_settings
from app.store.content import ContentStore
from notifier.service import lifespan_hook as notifier_hook

__all__ = ["create_app", "LIFESPAN_HOOKS", "ROUTERS"]

log = logging.getLogger(__name__)

ROUTERS = [
    health.router, ingest.router, content.router, resourcesync.router, notifications.router,
    dumps.router, oai.router, metrics.router, status.router,
]

# Background work that runs while the app serves: each hook is called with the app inside the
# lifespan and returns an async context manager (the notifier, the dump scheduler).
LIFESPAN_HOOKS: list[Callable[[FastAPI], Any]] = [notifier_hook, dump_scheduler]


async def _database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.data_dir, stop_at_exit=False)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    dsn = await _database_url(settings)
    app.state.dsn = dsn
    conn = await connect(dsn)
    try:
        await migrate.upgrade(conn, page_size=settings.page_size)
    finally:
        await conn.close()
    app.state.pool = await create_pool(dsn)
    app.state.store.prepare()
    try:
        async with AsyncExitStack() as stack:
            for hook in LIFESPAN_HOOKS:
                await stack.enter_async_context(hook(app))
            yield
    finally:
        await app.state.pool.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="Headwater",
        summary="ResourceSync Source, change notifications and OAI-PMH over one PostgreSQL",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=f"{settings.base_path}/docs",
        openapi_url=f"{settings.base_path}/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = ContentStore(settings.content_dir)
    app.state.write_tokens = known_tokens(settings.write_tokens, settings.data_dir)
    install_handlers(app)
    install_limits(app, settings)
    app.add_middleware(HtmlSecurityHeaders)
    app.add_middleware(ObservabilityMiddleware)
    for router in ROUTERS:
        app.include_router(router, prefix=settings.base_path)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema with each GET+HEAD route documented once, as GET: HEAD mirrors it (RFC 9110),
    and FastAPI gives both methods of one route the same operation id."""
    if app.openapi_schema is None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Duplicate Operation ID")
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                 routes=app.routes)
        for operations in schema["paths"].values():
            if "get" in operations:
                operations.pop("head", None)
        app.openapi_schema = schema
    return app.openapi_schema
