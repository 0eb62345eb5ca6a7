"""The web process's background tasks run under one supervisor: /readyz shows them, and one
that dies is restarted (here the Change List sealer, made to fail once)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.read import sealer


async def test_readyz_reports_each_background_task(client):
    body = (await client.get("/readyz")).json()
    assert set(body["tasks"]) == {"sealer", "dumps", "gc"}
    assert all(state["running"] for state in body["tasks"].values())


async def test_a_dead_sealer_is_restarted(settings, monkeypatch: pytest.MonkeyPatch):
    from app.main import create_app

    calls = 0
    real = sealer.seal_stale_pages

    async def fail_once(conn, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in one round")
        return await real(conn, **kwargs)

    monkeypatch.setattr(sealer, "seal_stale_pages", fail_once)
    application = create_app(settings.model_copy(update={"seal_after": timedelta(seconds=1)}))
    async with application.router.lifespan_context(application):
        tasks = application.state.tasks
        for _ in range(100):
            if calls >= 2:
                break
            await asyncio.sleep(0.1)
        state = tasks.states()["sealer"]
        assert calls >= 2 and state["restarts"] == 1 and state["running"]
        assert state["last_error"] == "RuntimeError: a bug in one round"
