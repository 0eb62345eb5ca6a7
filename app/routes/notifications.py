"""`/resourcesync/{collection}/notifications.xml`: each collection's change notification
channel (topic), and its entry in the collection's Capability List (spec §4.1, §5 Example 7).

HEAD/GET answer 200 with `Content-Type: application/xml` and `Link: <topic>; rel="self",
<hub>; rel="hub"`. In `websub` mode the hub fetches the topic after each ping, so its body is
a notification holding every change not yet acknowledged (CONTRACT §5); in `resourcesync`
mode notifications are pushed to the hub and the topic serves an empty body.
"""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Request, Response

from app.http.deps import Config, Conn
from app.http.problems import HTTPProblem
from app.read.capabilities import CapEntry, register
from app.settings import Settings
from notifier.payload import link_header
from notifier.tailer import Q
from notifier.topic import topic_body
from sitemaps import urls
from sitemaps.names import is_collection_name

router = APIRouter(tags=["notifications"])


@register
async def change_notification_channel(conn: asyncpg.Connection, settings: Settings,
                                      collection: str) -> list[CapEntry]:
    """Example 7's shape: the topic as `loc`, one `rs:ln rel="hub"` per hub."""
    if not settings.hub_url:
        return []
    return [CapEntry(loc=urls.notification_topic(settings.base_url, collection),
                     capability="change-notification",
                     links=tuple(("hub", hub) for hub in settings.hub_url))]


@router.api_route("/resourcesync/{collection}/notifications.xml", methods=["GET", "HEAD"],
                  response_class=Response)
async def topic(collection: str, request: Request, conn: Conn, settings: Config) -> Response:
    """The collection's change notification topic (WebSub topic URI)."""
    if not is_collection_name(collection):
        raise HTTPProblem(404, "no such collection", f"{collection!r} is not a collection name")
    if not settings.hub_url:
        raise HTTPProblem(404, "change notification is off",
                          "no hub is configured (HEADWATER_HUB_URL)")
    row = await conn.fetchrow(Q["collection"], collection)
    if row is None:
        raise HTTPProblem(404, "no such collection", f"no collection named {collection!r}")
    topic_uri = urls.notification_topic(settings.base_url, collection)
    headers = {"Link": link_header(topic_uri, settings.hub_url), "Cache-Control": "no-store"}
    if settings.hub_mode != "websub":
        headers["Content-Length"] = "0"
        return Response(b"", media_type="application/xml", headers=headers)
    acked = await conn.fetchval(Q["min_cursor"], settings.hub_url)
    body = await topic_body(
        conn, base=settings.base_url, name=collection, set_id=row["id"],
        created_at=row["created_at"], end=row["change_seq"], acked=acked,
        window=min(settings.topic_window, settings.page_size), limit=settings.page_size)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(b"", media_type="application/xml", headers=headers)
    return Response(body, media_type="application/xml", headers=headers)
