"""How long to wait before the next delivery attempt. Pure: the randomness is passed in."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["next_delay", "retry_delay", "parse_retry_after", "RETRY_AFTER_CAP"]

# A hub asking for more than an hour is more likely misconfigured than busy; we still wait,
# but come back within the hour so an operator fixing it sees delivery resume.
RETRY_AFTER_CAP = 3600.0


def next_delay(attempt: int, *, base: float, cap: float,
               rand: Callable[[], float] = random.random) -> float:
    """Capped exponential backoff with "equal jitter": attempt 1 waits in [base/2, base],
    attempt n in [c/2, c] with c = min(cap, base * 2**(n-1)).

    Half the delay is fixed so a hub that is down is never hammered; the other half is random
    so several notifiers (one per hub, or a restarted one) do not retry in lock-step.
    """
    if attempt < 1:
        return 0.0
    ceiling = min(cap, base * 2 ** min(attempt - 1, 62))
    return ceiling / 2 + rand() * ceiling / 2


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(attempt: int, retry_after: float | None, *, base: float, cap: float,
                rand: Callable[[], float] = random.random) -> float:
    """The backoff delay, but never less than what the hub asked for in `Retry-After`."""
    delay = next_delay(attempt, base=base, cap=cap, rand=rand)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay
