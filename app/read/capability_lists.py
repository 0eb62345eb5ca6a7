"""The Capability List of a collection, and the entries the read path provides for it: the
Resource List, the Change List, its archive, and the change notification channel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from fastapi import Request, Response

from app.read import queries
from app.read.capabilities import CapEntry, entries_for
from app.read.reader import Reader
from app.read.responses import document_response, etag_token
from app.read.snapshot import require_collection
from app.settings import Settings
from sitemaps import documents as docs
from sitemaps import paging, urls

__all__ = ["capability_list", "resource_list_entries", "change_list_entries",
           "archive_entries", "notification_entries"]


async def capability_list(reader: Reader, request: Request, collection: str) -> Response:
    """Every capability the collection offers, from every provider, in their order."""
    settings = reader.settings
    async with reader.snapshot() as snap:
        coll = await require_collection(snap, collection)
        _, newest = await queries.set_head(snap.conn, coll)
        entries = await entries_for(reader.providers, snap.conn, settings, collection)
    body = docs.capability_list(
        up=urls.source_description(settings.base_url),
        entries=[(e.loc, e.capability, e.links) for e in entries],
    ).encode()
    # small and assembled from several providers: its own bytes are the cheapest ETag basis
    token = etag_token("capabilitylist", body)

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    return await document_response(request, token=token, last_modified=newest, body=chunks)


async def resource_list_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                                ) -> list[CapEntry]:
    return [CapEntry(urls.resource_list(settings.base_url, collection), "resourcelist")]


async def change_list_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                              ) -> list[CapEntry]:
    return [CapEntry(urls.change_list(settings.base_url, collection), "changelist")]


async def archive_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                          ) -> list[CapEntry]:
    coll = await queries.collection(conn, collection)
    if coll is None or paging.sealed_pages(coll.change_seq, settings.page_size) == 0:
        return []  # listed once it holds a sealed page
    return [CapEntry(urls.changelist_archive(settings.base_url, collection),
                     "changelist-archive")]


async def notification_entries(conn: asyncpg.Connection, settings: Settings, collection: str
                               ) -> list[CapEntry]:
    """Change Notification Example 7's shape: the topic as `loc`, one `rs:ln rel="hub"` per
    hub; nothing while no hub is configured."""
    if not settings.hub_url:
        return []
    return [CapEntry(loc=urls.notification_topic(settings.base_url, collection),
                     capability="change-notification",
                     links=tuple(("hub", hub) for hub in settings.hub_url))]
