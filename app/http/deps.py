"""FastAPI dependencies shared by the routes: settings, a pooled connection, the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from app.settings import Settings
from app.store.content import ContentStore

__all__ = ["Conn", "Config", "Store", "get_conn"]


async def get_conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> ContentStore:
    return request.app.state.store


Conn = Annotated[asyncpg.Connection, Depends(get_conn)]
Config = Annotated[Settings, Depends(get_settings)]
Store = Annotated[ContentStore, Depends(get_store)]
