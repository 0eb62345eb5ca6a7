"""Talking to one hub over HTTP: a pushed notification (`resourcesync` mode) or a light ping
(`websub` mode), and what the answer means for the retry loop. The `httpx.AsyncClient` is
injected so tests drive every answer through `httpx.MockTransport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from notifier.backoff import parse_retry_after
from notifier.hubs import scrub
from notifier.payload import link_header

__all__ = ["Outcome", "HubClient", "classify"]

# Answers worth retrying as they are: the hub is busy, slow or briefly broken. Any other 4xx
# means the request itself is refused and retrying it unchanged will not help.
_TRANSIENT_4XX = {408, 425, 429}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None  # None: no HTTP answer (refused, reset, timed out)
    permanent: bool = False  # a refusal that retrying will not cure; still retried, not skipped
    retry_after: float | None = None
    detail: str = ""


def classify(response: httpx.Response) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True, status)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    text = response.text[:200].strip().replace("\n", " ") if response.content else ""
    detail = f"HTTP {status}" + (f": {text}" if text else "")
    permanent = 400 <= status < 500 and status not in _TRANSIENT_4XX
    return Outcome(False, status, permanent, retry_after, detail)


class HubClient:
    """One hub. `publish` sends a channel's notification the way the configured mode says.

    `hub` is the public URL (named in the `Link` header); requests go to `publish_url`
    (default: the same), whose credentials httpx sends as HTTP Basic. Error details never
    quote the publish URL's secrets: they are shown on /readyz and the status page."""

    def __init__(self, client: httpx.AsyncClient, hub: str,
                 mode: Literal["resourcesync", "websub"] = "resourcesync",
                 publish_url: str | None = None):
        self.client, self.hub, self.mode = client, hub, mode
        self.publish_url = publish_url or hub

    async def publish(self, topic: str, body: bytes) -> Outcome:
        try:
            if self.mode == "websub":
                response = await self._ping(topic)
            else:
                response = await self._push(topic, body)
        except httpx.TimeoutException as exc:
            return Outcome(False, detail=f"timed out: {type(exc).__name__}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            detail = scrub(f"unreachable: {type(exc).__name__}: {exc}", self.publish_url)
            return Outcome(False, detail=detail)
        outcome = classify(response)
        return Outcome(outcome.ok, outcome.status, outcome.permanent, outcome.retry_after,
                       scrub(outcome.detail, self.publish_url))

    async def _push(self, topic: str, body: bytes) -> httpx.Response:
        # bytes content: httpx sends Content-Length, never a chunked body (docs/rules.md §6)
        headers = {"Content-Type": "application/xml", "Link": link_header(topic, [self.hub])}
        return await self.client.post(self.publish_url, content=body, headers=headers)

    async def _ping(self, topic: str) -> httpx.Response:
        # hub.topic for WebSub hubs, hub.url for PubSubHubbub 0.4 hubs: both name the topic
        form = {"hub.mode": "publish", "hub.topic": topic, "hub.url": topic}
        return await self.client.post(self.publish_url, data=form)
