"""The background-task supervisor: a task that dies is logged, restarted with backoff and
reported; one that returns is done; stopping asks first, then cancels."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.metrics import TASK_RESTARTS, render_metrics
from app.tasks import Supervisor, restart_delay


def test_restart_delay_is_capped_with_jitter():
    assert restart_delay(1, base=1, cap=8, rand=lambda: 0.0) == 0.5
    assert restart_delay(1, base=1, cap=8, rand=lambda: 1.0) == 1.0
    assert restart_delay(3, base=1, cap=8, rand=lambda: 1.0) == 4.0
    assert restart_delay(30, base=1, cap=8, rand=lambda: 1.0) == 8.0


async def test_a_task_that_dies_is_restarted_and_reported(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.ERROR, logger="app.tasks")
    runs = 0
    stop = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError(f"boom {runs}")
        await stop.wait()

    before = TASK_RESTARTS.labels("flaky")._value.get()
    tasks = Supervisor(base=0.01, cap=0.02)
    tasks.add("flaky", flaky, stop=stop.set)
    await tasks.start()
    for _ in range(200):
        if tasks.states()["flaky"]["running"] and runs == 3:
            break
        await asyncio.sleep(0.01)
    state = tasks.states()["flaky"]
    assert runs == 3 and state["running"] and state["restarts"] == 2
    assert state["last_error"] == "RuntimeError: boom 2"
    assert any("background task flaky died" in r.getMessage() and r.exc_info
               for r in caplog.records)
    assert TASK_RESTARTS.labels("flaky")._value.get() - before == 2
    assert b'headwater_background_task_up{task="flaky"} 1.0' in render_metrics()
    await tasks.stop(timeout=1)
    assert runs == 3 and not tasks.states()["flaky"]["running"]
    assert b'headwater_background_task_up{task="flaky"} 0.0' in render_metrics()


async def test_a_task_that_returns_is_not_restarted():
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1

    tasks = Supervisor(base=0.01, cap=0.01)
    tasks.add("once", once)
    await tasks.start()
    await asyncio.sleep(0.1)
    assert runs == 1 and tasks.states()["once"]["restarts"] == 0
    await tasks.stop(timeout=1)


async def test_a_task_that_ignores_stop_is_cancelled(caplog: pytest.LogCaptureFixture):
    cancelled = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks = Supervisor()
    tasks.add("stubborn", stubborn, stop=lambda: None)
    await tasks.start()
    await asyncio.sleep(0)
    await tasks.stop(timeout=0.05)
    assert cancelled.is_set()
    assert any("did not stop" in r.getMessage() for r in caplog.records)


def test_names_are_unique():
    tasks = Supervisor()

    async def run() -> None:
        return None

    tasks.add("x", run)
    with pytest.raises(ValueError):
        tasks.add("x", run)


async def test_a_task_without_a_stop_callback_is_cancelled_at_once(
        caplog: pytest.LogCaptureFixture):
    cancelled = asyncio.Event()

    async def loop_forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks = Supervisor()
    tasks.add("loop", loop_forever)
    await tasks.start()
    await asyncio.sleep(0)
    # no grace period to wait out: the stop asks nothing of it and cancels it
    await asyncio.wait_for(tasks.stop(timeout=3600), 5)
    assert cancelled.is_set() and not tasks.states()["loop"]["running"]
    assert not any("did not stop" in r.getMessage() for r in caplog.records)
