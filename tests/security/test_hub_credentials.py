"""Hub credentials stay secret (issue: hub URLs were shown on the status page, in /readyz, as
/metrics labels, in the Capability List and the topic `Link`, logged at INFO, and httpx logged
the full URL with its password on every POST). The public hub URL is what subscribers see; the
publish URL, with its credentials, is used for POSTs only. A real hub on loopback records what
arrives."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import timedelta

import httpx
import pytest

from app.settings import SettingsError, load_settings
from notifier.hubs import redact, scrub
from tests.conftest import PAGE_SIZE, TOKEN, free_port
from tests.support.recording_hub import RecordingHub

BASE = "http://127.0.0.1:8000"
USER, PASSWORD, KEY = "publisher-name", "pa55-w0rd-secret", "query-key-secret"
SECRETS = (USER, PASSWORD, KEY)


async def _eventually(check, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", ["resourcesync", "websub"])
async def test_credentials_appear_nowhere_but_reach_the_hub(database_url, data_dir, caplog,
                                                            mode):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included
    hub = RecordingHub(free_port()).start()
    dead = free_port()  # a second hub that is down: its errors are shown and logged
    publish = [f"http://{USER}:{PASSWORD}@127.0.0.1:{hub.port}/hub?key={KEY}",
               f"http://{USER}:{PASSWORD}@127.0.0.1:{dead}/hub?key={KEY}"]
    settings = load_settings(
        database_url=database_url, data_dir=data_dir, write_tokens=[TOKEN],
        page_size=PAGE_SIZE, base_url=BASE, hub_mode=mode,
        hub_url=[hub.url, f"http://127.0.0.1:{dead}/hub"], hub_publish_url=publish,
        notify_poll=timedelta(seconds=0.2), notify_window=timedelta(0))
    from app.main import create_app

    application = create_app(settings)
    seen: list[str] = []
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
                put = await c.put("/content/vc:a/one.txt", content=b"one",
                                  headers={"Authorization": f"Bearer {TOKEN}"})
                assert put.status_code == 201, put.text

                async def delivered() -> bool:
                    return any(r.method == "POST" for r in hub.snapshot())

                await _eventually(delivered)

                async def dead_hub_failed() -> bool:
                    hubs = (await c.get("/readyz")).json()["notifier"]["hubs"]
                    return hubs[f"http://127.0.0.1:{dead}/hub"]["consecutive_failures"] > 0

                await _eventually(dead_hub_failed)
                for path in ("/", "/readyz", "/metrics", "/resourcesync/vc/capabilitylist.xml",
                             "/resourcesync/vc:a/capabilitylist.xml",
                             "/resourcesync/vc/notifications.xml",
                             "/.well-known/resourcesync"):
                    r = await c.get(path)
                    assert r.status_code == 200, (path, r.text)
                    seen.append(f"{path} {r.headers} {r.text}")
                    if path == "/readyz":
                        assert hub.url in r.json()["notifier"]["hubs"]  # shown by its name
                    if path.endswith("notifications.xml"):
                        assert f'<{hub.url}>; rel="hub"' in r.headers["link"]
                    if path == "/resourcesync/vc/capabilitylist.xml":
                        assert f'href="{hub.url}"' in r.text  # the public URL, for subscribers
    finally:
        hub.stop()
    posts = [r for r in hub.snapshot() if r.method == "POST"]
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert posts and all(r.headers.get("authorization") == expected for r in posts)
    assert all(r.path == f"/hub?key={KEY}" for r in posts)
    seen.append(caplog.text)
    seen.extend(str(r.args) for r in caplog.records)
    assert any("delivery failed" in r.getMessage() for r in caplog.records)  # logs were seen
    for text in seen:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:3000])


def test_a_public_hub_url_with_credentials_is_refused_without_echoing_them(monkeypatch):
    monkeypatch.setenv("HEADWATER_HUB_URL", f"https://{USER}:{PASSWORD}@hub.example.org/")
    with pytest.raises(SettingsError, match="HEADWATER_HUB_URL") as caught:
        load_settings()
    assert "HEADWATER_HUB_PUBLISH_URL" in str(caught.value)
    assert all(secret not in str(caught.value) for secret in SECRETS)


def test_publish_urls_must_pair_with_the_hubs(monkeypatch):
    monkeypatch.setenv("HEADWATER_HUB_URL", "https://a.example.org/, https://b.example.org/")
    monkeypatch.setenv("HEADWATER_HUB_PUBLISH_URL", f"https://u:{PASSWORD}@a.example.org/")
    with pytest.raises(SettingsError, match="HEADWATER_HUB_PUBLISH_URL") as caught:
        load_settings()
    assert PASSWORD not in str(caught.value)


def test_redact_and_scrub() -> None:
    url = f"https://{USER}:{PASSWORD}@hub.example.org:8443/pub?key={KEY}#x"
    assert redact(url) == "https://hub.example.org:8443/pub"
    text = scrub(f"failed: {url} said {PASSWORD}", url)
    assert all(secret not in text for secret in SECRETS)
