"""The background work a web process runs beside its requests (the Change List sealer, the dump
scheduler, the in-process notifier), started and watched in one place.

A task that raises is logged with its traceback and started again after a capped, jittered
backoff, so one bad round never silently ends a loop for the life of the process; its state
(running, restarts, last error) is reported in `/readyz`'s body and in `/metrics`. A task that
returns on its own is done and not restarted. Stopping asks each task to stop (its `stop`
callback), waits a bounded time, then cancels what is left, in uvicorn's order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.metrics import TASK_RESTARTS, TASK_UP

__all__ = ["Supervisor", "TaskState", "restart_delay"]

log = logging.getLogger(__name__)

# A task that ran this long before dying starts again from the shortest delay.
_HEALTHY_AFTER = 60.0


def restart_delay(attempt: int, *, base: float = 0.5, cap: float = 60.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Half fixed, half random ("equal jitter"), doubling per attempt up to `cap`."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 1) - 1, 30))
    return ceiling / 2 + rand() * ceiling / 2


@dataclass
class TaskState:
    name: str
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    last_failure: datetime | None = None

    def report(self) -> dict[str, Any]:
        return {"running": self.running, "restarts": self.restarts,
                "last_error": self.last_error,
                "last_failure": self.last_failure.isoformat() if self.last_failure else None}


@dataclass
class _Task:
    run: Callable[[], Awaitable[None]]
    stop: Callable[[], None] | None
    state: TaskState
    handle: asyncio.Task[None] | None = field(default=None)


class Supervisor:
    """`add` the tasks, `start` them, `stop` them; `states()` for health reports."""

    def __init__(self, *, base: float = 0.5, cap: float = 60.0,
                 rand: Callable[[], float] = random.random):
        self._tasks: dict[str, _Task] = {}
        self._base, self._cap, self._rand = base, cap, rand

    def add(self, name: str, run: Callable[[], Awaitable[None]], *,
            stop: Callable[[], None] | None = None) -> None:
        if name in self._tasks:
            raise ValueError(f"a task named {name!r} is already supervised")
        self._tasks[name] = _Task(run, stop, TaskState(name))

    def states(self) -> dict[str, dict[str, Any]]:
        return {name: task.state.report() for name, task in self._tasks.items()}

    async def start(self) -> None:
        for name, task in self._tasks.items():
            task.handle = asyncio.create_task(self._keep(task), name=f"headwater-{name}")

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask the tasks that can stop gracefully (a `stop` callback) and give them `timeout`;
        cancel the others at once: they are loops with nothing in flight worth waiting for."""
        graceful = []
        for task in self._tasks.values():
            if task.handle is None:
                continue
            if task.stop is None:
                task.handle.cancel()
            else:
                task.stop()
                graceful.append(task.handle)
        handles = [t.handle for t in self._tasks.values() if t.handle is not None]
        if not handles:
            return
        _, pending = await asyncio.wait(graceful, timeout=timeout) if graceful else ((), set())
        for handle in pending:
            handle.cancel()
        if pending:
            log.warning("cancelled %d background task(s) that did not stop within %.0fs",
                        len(pending), timeout)
        await asyncio.gather(*handles, return_exceptions=True)

    async def _keep(self, task: _Task) -> None:
        state, attempt = task.state, 0
        while True:
            started = time.monotonic()
            state.running = True
            TASK_UP.labels(state.name).set(1)
            try:
                await task.run()
                return  # finished on its own (asked to stop): nothing to restart
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt = 1 if time.monotonic() - started > _HEALTHY_AFTER else attempt + 1
                state.restarts += 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:500]
                state.last_failure = datetime.now(UTC)
                TASK_RESTARTS.labels(state.name).inc()
                delay = restart_delay(attempt, base=self._base, cap=self._cap, rand=self._rand)
                log.exception("background task %s died; restarting in %.1fs", state.name, delay)
            finally:
                state.running = False
                TASK_UP.labels(state.name).set(0)
            await asyncio.sleep(delay)
