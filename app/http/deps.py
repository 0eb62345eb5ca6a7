"""FastAPI dependencies shared by the routes: settings, the store, and short-lived connections.

Routes take a pooled connection only around their queries (`db(request)`), never for the whole
request: a dependency would hold it while an upload streams in or a file streams out, and a
dozen slow clients would then hold the pool's every connection.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.db.connect import Acquire
from app.settings import Settings
from app.store.content import ContentStore

__all__ = ["Config", "Store", "db"]


def db(request: Request) -> Acquire:
    """`async with db(request) as conn:` a pooled connection, waited for at most
    HEADWATER_POOL_TIMEOUT (else PoolBusy, answered 429)."""
    return request.app.state.pool.acquire()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> ContentStore:
    return request.app.state.store


Config = Annotated[Settings, Depends(get_settings)]
Store = Annotated[ContentStore, Depends(get_store)]
