"""What the notifier needs to know, handed to it by whoever runs it.

The notifier never reads the service's settings itself (it imports nothing of `app`): the web
process and the `headwater notifier` command build a `NotifierConfig` from theirs, and pass a
`Connect` that opens a dedicated database connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import asyncpg

from notifier.hubs import Hub, configured_hubs

__all__ = ["Connect", "Mode", "NotifierConfig", "Tuning"]

Connect = Callable[[], Awaitable[asyncpg.Connection]]
Mode = Literal["resourcesync", "websub"]


@dataclass(frozen=True)
class Tuning:
    batch: int = 1_000  # changes per batch (HEADWATER_NOTIFY_BATCH)
    window: float = 0.05  # seconds a partial batch may wait to fill (HEADWATER_NOTIFY_WINDOW)
    poll: float = 5.0  # seconds between reads when no NOTIFY arrives (HEADWATER_NOTIFY_POLL)
    retry_base: float = 0.25  # first retry after 0.125–0.25 s …
    retry_cap: float = 30.0  # … doubling up to 15–30 s
    reconnect_cap: float = 5.0  # database reconnects back off up to this
    lock_retry: float = 1.0  # a standby process tries the hub's lock this often


@dataclass(frozen=True)
class NotifierConfig:
    base_url: str  # base of every published URL (topics, Capability Lists)
    hubs: tuple[str, ...] = ()  # public URLs: published, and the keys of the cursors
    publish_urls: tuple[str, ...] = ()  # one per hub, or none; may carry credentials
    mode: Mode = "resourcesync"
    page_size: int = 50_000  # the most changes one topic document holds (websub mode)
    topic_window: int = 1_000  # acknowledged changes a topic repeats (websub mode)
    tuning: Tuning = field(default_factory=Tuning)

    @property
    def enabled(self) -> bool:
        return bool(self.hubs)

    def hub_list(self) -> list[Hub]:
        """Each hub's public URL, publish URL and shown name (notifier/hubs.py)."""
        return configured_hubs(list(self.hubs), list(self.publish_urls))
