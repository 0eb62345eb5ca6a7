"""What the hub's answers mean, with `httpx.MockTransport` playing the hub."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from notifier.hub import HubClient

HUB = "http://hub.test/hub"
TOPIC = "http://src.test/resourcesync/vc/notifications.xml"


def client_for(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_push_sends_the_body_with_the_spec_headers() -> None:
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with client_for(hub) as http:
        outcome = await HubClient(http, HUB).publish(TOPIC, b"<urlset/>")
    assert outcome.ok and outcome.status == 200
    req = seen[0]
    assert req.method == "POST" and str(req.url) == HUB and req.content == b"<urlset/>"
    assert req.headers["Content-Type"] == "application/xml"
    assert req.headers["Content-Length"] == "9"
    assert req.headers["Link"] == f'<{TOPIC}>; rel="self", <{HUB}>; rel="hub"'


async def test_websub_mode_sends_a_light_ping() -> None:
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    async with client_for(hub) as http:
        outcome = await HubClient(http, HUB, "websub").publish(TOPIC, b"")
    assert outcome.ok
    form = parse_qs(seen[0].content.decode())
    assert form == {"hub.mode": ["publish"], "hub.topic": [TOPIC], "hub.url": [TOPIC]}
    assert seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("status", "permanent"), [
    (500, False), (502, False), (503, False), (429, False), (408, False),
    (400, True), (401, True), (403, True), (404, True), (410, True), (301, False),
])
async def test_failures_are_classified(status: int, permanent: bool) -> None:
    def hub(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Retry-After": "7"}, text="go away")

    async with client_for(hub) as http:
        outcome = await HubClient(http, HUB).publish(TOPIC, b"x")
    assert not outcome.ok and outcome.status == status
    assert outcome.permanent is permanent
    assert outcome.retry_after == 7
    assert outcome.detail == f"HTTP {status}: go away"


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                   httpx.RemoteProtocolError("reset")])
async def test_no_answer_is_a_transient_failure(error: Exception) -> None:
    def hub(request: httpx.Request) -> httpx.Response:
        raise error

    async with client_for(hub) as http:
        outcome = await HubClient(http, HUB).publish(TOPIC, b"x")
    assert not outcome.ok and outcome.status is None and not outcome.permanent
    assert outcome.detail
