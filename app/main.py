"""The application factory: settings in, a FastAPI app out; nothing connects at import.

The lifespan finds and migrates the database, opens the pool, and starts the background tasks
under one supervisor (`app.tasks`): the Change List sealer, the dump scheduler and, with hubs
configured and HEADWATER_NOTIFIER=inprocess, the notifier.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import notifier
from app.db.connect import BoundedPool, connect, create_pool
from app.db.database import open_database
from app.dumps import documents as dump_documents
from app.dumps.schedule import DumpScheduler
from app.http.auth import named_tokens
from app.http.limits import install_limits
from app.http.observability import ObservabilityMiddleware
from app.http.problems import install_handlers
from app.http.security_headers import HtmlSecurityHeaders
from app.lifecycle.gc import run_collector
from app.lifecycle.retire import unless_retired
from app.logs import configure_logging
from app.read import capability_lists
from app.read.capabilities import Provider
from app.read.part_cache import PartBodies
from app.read.queries import sync_sitemap_prefix
from app.read.reader import Reader
from app.read.replicas import ReadPools
from app.read.sealed_pages import SealedPages
from app.read.sealer import run_sealer
from app.routes import (
    admin,
    content,
    discovery,
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
from app.tasks import Supervisor

__all__ = ["create_app", "ROUTERS", "CAPABILITIES"]

log = logging.getLogger(__name__)

ROUTERS = [
    health.router, ingest.router, content.router, discovery.router, resourcesync.router,
    notifications.router, dumps.router, oai.router, metrics.router, status.router, admin.router,
]

# What a Capability List offers, in the order it lists them.
CAPABILITIES: list[Provider] = [
    unless_retired(capability_lists.resource_list_entries),
    capability_lists.change_list_entries,
    capability_lists.archive_entries,
    unless_retired(dump_documents.capability_entries),
    capability_lists.notification_entries,
]


def _notifier_state(app: FastAPI, settings: Settings) -> Any:
    config = settings.notifier_config()

    async def state() -> dict[str, Any]:
        try:
            async with app.state.pool.acquire(timeout=5) as conn:
                return await notifier.read_state(conn, config, settings.notifier)
        except Exception as exc:  # the database being down is /readyz's business, not ours
            return {"status": "unknown", "error": type(exc).__name__}

    return state


def _supervise(app: FastAPI, settings: Settings, dsn: str) -> Supervisor:
    pool, store = app.state.pool, app.state.store
    tasks = Supervisor()
    tasks.add("sealer", lambda: run_sealer(pool, settings))
    scheduler = app.state.dump_scheduler = DumpScheduler(pool, settings, store, dsn)
    tasks.add("dumps", scheduler.run)
    if settings.gc_every.total_seconds() > 0:
        tasks.add("gc", lambda: run_collector(pool, settings, store))
    config = settings.notifier_config()
    if not config.enabled:
        log.info("notifier off: no HEADWATER_HUB_URL")
    elif settings.notifier != "inprocess":
        log.info("notifier external: run `headwater notifier` beside the web process")
    else:
        # several workers: each runs one, and the hub's advisory lock makes one active
        stop = asyncio.Event()
        runner = notifier.Notifier(config, lambda: connect(dsn))
        tasks.add("notifier", lambda: runner.run(stop), stop=stop.set)
        log.info("notifier on: %s mode, hubs %s", config.mode,
                 ", ".join(hub.name for hub in config.hub_list()))
    return tasks


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    dsn = await open_database(settings)
    app.state.dsn = dsn
    app.state.pool = BoundedPool(await create_pool(dsn),
                                 settings.pool_timeout.total_seconds())
    async with app.state.pool.acquire() as conn:
        # the plain sitemap's per-part counters follow this server's base URL
        await sync_sitemap_prefix(conn, settings.base_url + "/", settings.page_size)
    app.state.store.prepare()
    reads = app.state.reads = await ReadPools.open(
        app.state.pool, settings.read_database_url, settings.replica_wait.total_seconds())
    app.state.reader = Reader(app.state.pool, settings,
                              SealedPages(settings.data_dir / "cache" / "changelist"),
                              CAPABILITIES, reads,
                              parts=PartBodies(settings.data_dir / "cache" / "resourcelist"))
    app.state.notifier_state = _notifier_state(app, settings)
    tasks = app.state.tasks = _supervise(app, settings, dsn)
    await tasks.start()
    try:
        yield
    finally:
        await tasks.stop()
        await reads.close()
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
    named = named_tokens(settings.write_tokens, settings.data_dir)
    app.state.write_tokens = [token for _, token in named]
    app.state.token_names = {token: name for name, token in named}
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
