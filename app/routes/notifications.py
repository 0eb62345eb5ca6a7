"""`/resourcesync/{collection}/notifications.xml`: each collection's change notification
channel (topic), and its entry in the collection's Capability List (spec §4.1, §5 Example 7).

HEAD/GET answer 200 with `Content-Type: application/xml` and `Link: <topic>; rel="self",
<hub>; rel="hub"`. In `websub` mode the hub fetches the topic after each ping, so its body is
a notification holding every change not yet acknowledged (docs/notifier.md); in `resourcesync`
mode notifications are pushed to the hub and the topic serves an empty body.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

import notifier
from app.http.deps import Config, db
from app.http.problems import HTTPProblem
from sitemaps import urls
from sitemaps.names import is_collection_name

router = APIRouter(tags=["notifications"])


@router.api_route("/resourcesync/{collection}/notifications.xml", methods=["GET", "HEAD"],
                  response_class=Response)
async def topic(collection: str, request: Request, settings: Config) -> Response:
    """The collection's change notification topic (WebSub topic URI)."""
    if not is_collection_name(collection):
        raise HTTPProblem(404, "no such collection", f"{collection!r} is not a collection name")
    if not settings.hub_url:
        raise HTTPProblem(404, "change notification is off",
                          "no hub is configured (HEADWATER_HUB_URL)")
    config = settings.notifier_config()
    topic_uri = urls.notification_topic(settings.base_url, collection)
    headers = {"Link": notifier.link_header(topic_uri, config.hubs), "Cache-Control": "no-store"}
    # the body is built in memory, then sent with the connection back in the pool
    async with db(request) as conn:
        if settings.hub_mode != "websub":
            if not await notifier.collection_exists(conn, collection):
                raise HTTPProblem(404, "no such collection",
                                  f"no collection named {collection!r}")
            headers["Content-Length"] = "0"
            return Response(b"", media_type="application/xml", headers=headers)
        body = await notifier.topic_document(conn, config, collection)
    if body is None:
        raise HTTPProblem(404, "no such collection", f"no collection named {collection!r}")
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(b"", media_type="application/xml", headers=headers)
    return Response(body, media_type="application/xml", headers=headers)
