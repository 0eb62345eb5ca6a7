"""Back-pressure (app/http/limits.py): expensive routes beyond their budget get 429 (`/oai`:
503) with Retry-After."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.http.limits import BackPressure, classify, release_slot
from app.settings import load_settings


@pytest.mark.parametrize(("method", "path", "group"), [
    ("GET", "/resourcesync/a/resourcelist.xml", "document"),
    ("GET", "/resourcesync/a:b/changelist/00003.xml", "document"),
    ("GET", "/resourcesync/a/resourcelist/a/00001.xml", "document"),
    ("GET", "/oai", "document"),
    ("POST", "/oai", None),  # the route takes its slot once the body is read
    ("GET", "/sitemap.xml", "document"),
    ("POST", "/resourcesync/a/dump", None),  # the route takes its slot once the body is read
    ("POST", "/resourcesync/a:b/resourcedump/build", "dump"),
    ("GET", "/resourcesync/a/dumps/p-0001.zip", None),
    ("GET", "/resourcesync/a/dumps/p-0001.manifest.xml", "document"),
    ("GET", "/resourcesync/a/resourcedump.xml", "document"),
    ("GET", "/resourcesync/a/notifications.xml", "document"),  # a page + window in memory
    ("GET", "/content/a/x.pdf", None),
    ("POST", "/ingest", None),
    ("GET", "/healthz", None),
])
def test_classify(method, path, group):
    assert classify(method, path) == group


def _gated_app(gate: asyncio.Event, started: asyncio.Event):
    async def app(scope, receive, send):
        started.set()
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


async def _pair(settings, first: str, second: str) -> tuple[int, httpx.Response]:
    gate, started = asyncio.Event(), asyncio.Event()
    app = BackPressure(_gated_app(gate, started), settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        slow = asyncio.create_task(client.get(first))
        await started.wait()
        started.clear()
        second_task = asyncio.create_task(client.get(second))
        done, _ = await asyncio.wait({second_task}, timeout=0.5)
        gate.set()
        other = await second_task
        assert (await slow).status_code == 200
        return (1 if done else 0), other


async def test_document_budget_answers_429_with_retry_after(tmp_path):
    settings = load_settings(data_dir=tmp_path, document_concurrency=1, busy_wait="50ms")
    _, second = await _pair(settings, "/oai", "/resourcesync/a/resourcelist.xml")
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 1
    assert second.headers["content-type"].startswith("application/problem+json")
    assert second.json()["status"] == 429
    # OAI-PMH 2.0 §3.1.2.2 (docs/rules.md §10): /oai answers 503 with Retry-After
    _, oai = await _pair(settings, "/resourcesync/a/resourcelist.xml", "/oai")
    assert oai.status_code == 503 and int(oai.headers["retry-after"]) >= 1


@pytest.mark.parametrize("budget", ["document", "requests"])
@pytest.mark.parametrize("base", ["", "/rs"])
async def test_a_busy_oai_answers_503_with_retry_after(tmp_path, budget, base):
    """OAI-PMH 2.0 §3.1.2.2: flow control is 503 with Retry-After, which harvesters honour."""
    limit = {"document_concurrency": 1} if budget == "document" else {"max_inflight": 1}
    settings = load_settings(data_dir=tmp_path, busy_wait="50ms",
                             base_url=f"http://127.0.0.1:8000{base}", **limit)
    _, second = await _pair(settings, f"{base}/resourcesync/a/resourcelist.xml", f"{base}/oai")
    assert second.status_code == 503
    assert int(second.headers["retry-after"]) >= 1
    assert second.headers["content-type"].startswith("text/plain")
    assert "retry after" in second.text


async def test_cheap_routes_do_not_wait_for_the_document_budget(tmp_path):
    settings = load_settings(data_dir=tmp_path, document_concurrency=1, busy_wait="50ms")
    finished_early, second = await _pair(
        settings, "/resourcesync/a/resourcelist.xml", "/content/a/x")
    # the gated app holds both; what matters is the second one was admitted, not refused
    assert second.status_code == 200
    assert finished_early == 0


async def test_a_document_sent_from_disk_gives_its_slot_back(tmp_path):
    """A route that serves a file already on disk (sealed page, cached part) releases its
    document slot before sending: the next document request is admitted at once, not 429."""
    settings = load_settings(data_dir=tmp_path, document_concurrency=1, busy_wait="50ms")
    gate, started = asyncio.Event(), asyncio.Event()

    async def app(scope, receive, send):
        if scope["path"].endswith("0.xml"):
            release_slot(scope)
            release_slot(scope)  # idempotent: the budget is not over-released
            started.set()
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = BackPressure(app, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited),
                                 base_url="http://t") as client:
        sending = asyncio.create_task(client.get("/resourcesync/a/changelist/0.xml"))
        await started.wait()
        assert (await client.get("/resourcesync/a/resourcelist.xml")).status_code == 200
        gate.set()
        assert (await sending).status_code == 200
    _, second = await _pair(settings, "/resourcesync/a/resourcelist.xml",
                            "/resourcesync/a/changelist.xml")
    assert second.status_code == 429  # released once, not twice: one slot still means one


async def test_inflight_budget_applies_to_every_route_but_probes(tmp_path):
    settings = load_settings(data_dir=tmp_path, max_inflight=1, busy_wait="50ms")
    _, refused = await _pair(settings, "/content/a/x", "/ingest")
    assert refused.status_code == 429
    _, probe = await _pair(settings, "/content/a/x", "/readyz")
    assert probe.status_code == 200


async def test_a_slot_waits_for_a_short_burst_to_pass(tmp_path):
    settings = load_settings(data_dir=tmp_path, document_concurrency=1, busy_wait="5s")
    _, second = await _pair(settings, "/oai", "/oai")
    assert second.status_code == 200  # admitted once the first finished, within busy_wait


async def test_refusals_are_counted_under_their_route(client, settings):
    """A 429 is answered before routing; the metrics name the budget that refused it."""
    from app.metrics import REQUESTS

    app = client._transport.app  # type: ignore[attr-defined]
    await client.get("/healthz")  # the middleware stack is built on the first request
    pressure = app.middleware_stack
    while pressure is not None and not isinstance(pressure, BackPressure):
        pressure = getattr(pressure, "app", None)
    assert pressure is not None, "BackPressure is not installed"
    pressure._get_budgets().groups["document"] = asyncio.Semaphore(0)  # no slot left
    pressure.wait = 0.05
    route = "busy:document"
    before = REQUESTS.labels("GET", route, "429")._value.get()
    response = await client.get("/resourcesync/a/capabilitylist.xml")
    assert response.status_code == 429
    assert REQUESTS.labels("GET", route, "429")._value.get() == before + 1


async def test_a_request_waits_for_a_database_connection_at_most_pool_timeout(settings, auth):
    """With every pooled connection taken, a request is answered 429 + Retry-After (503 on
    `/oai`, OAI-PMH 2.0 §3.1.2.2) after HEADWATER_POOL_TIMEOUT, not queued for ever."""
    from datetime import timedelta

    from app.main import create_app

    app = create_app(settings.model_copy(update={"pool_timeout": timedelta(seconds=0.5)}))
    async with app.router.lifespan_context(app):
        pool = app.state.pool
        held = [await pool.acquire() for _ in range(pool.get_max_size())]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            try:
                ingest = await asyncio.wait_for(c.post("/ingest", headers=auth, json=[
                    {"uri": "http://example.org/p", "collection": "p"}]), 20)
                assert ingest.status_code == 429, ingest.text
                assert int(ingest.headers["retry-after"]) >= 1
                assert ingest.headers["content-type"].startswith("application/problem+json")
                content = await asyncio.wait_for(c.get("/content/p/x"), 20)
                assert content.status_code == 429
                oai = await asyncio.wait_for(c.get("/oai", params={"verb": "Identify"}), 20)
                assert oai.status_code == 503 and int(oai.headers["retry-after"]) >= 1
            finally:
                for conn in held:
                    await pool.release(conn)
            again = await c.post("/ingest", headers=auth, json=[
                {"uri": "http://example.org/p", "collection": "p"}])
            assert again.status_code == 200, again.text
