"""What a collection's Capability List offers, gathered from the parts that provide it.

Each part (the lists, the dumps, the notification channel) has a provider; the app factory
hands the providers to the `Reader` in the order the Capability List shows them. A provider
lists a capability only once it holds at least one entry (docs/resourcesync.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from app.settings import Settings

__all__ = ["CapEntry", "Provider", "entries_for"]


@dataclass(frozen=True)
class CapEntry:
    loc: str
    capability: str
    links: tuple[tuple[str, str], ...] = field(default=())  # (rel, href) pairs, as rs:ln


Provider = Callable[[asyncpg.Connection, Settings, str], Awaitable[list[CapEntry]]]


async def entries_for(providers: Sequence[Provider], conn: asyncpg.Connection,
                      settings: Settings, collection: str) -> list[CapEntry]:
    out: list[CapEntry] = []
    for provider in providers:
        out.extend(await provider(conn, settings, collection))
    return out
