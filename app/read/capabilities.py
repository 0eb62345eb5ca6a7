"""What a collection's Capability List offers, gathered from the parts that provide it.

Each part (sitemaps, dumps, notifier) registers a provider; the Capability List route asks every
provider, in registration order, for its entries. A provider lists a capability only once it
holds at least one entry (CONTRACT §4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from app.settings import Settings

__all__ = ["CapEntry", "Provider", "PROVIDERS", "register", "entries_for"]


@dataclass(frozen=True)
class CapEntry:
    loc: str
    capability: str
    links: tuple[tuple[str, str], ...] = field(default=())  # (rel, href) pairs, as rs:ln


Provider = Callable[[asyncpg.Connection, Settings, str], Awaitable[list[CapEntry]]]
PROVIDERS: list[Provider] = []


def register(provider: Provider) -> Provider:
    if provider not in PROVIDERS:
        PROVIDERS.append(provider)
    return provider


async def entries_for(
    conn: asyncpg.Connection, settings: Settings, collection: str
) -> list[CapEntry]:
    out: list[CapEntry] = []
    for provider in PROVIDERS:
        out.extend(await provider(conn, settings, collection))
    return out
