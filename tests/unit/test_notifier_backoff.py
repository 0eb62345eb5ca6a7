"""Retry delays: capped exponential backoff with jitter, and `Retry-After`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from notifier.backoff import RETRY_AFTER_CAP, next_delay, parse_retry_after, retry_delay


def test_delay_doubles_then_caps() -> None:
    top = [next_delay(n, base=1, cap=30, rand=lambda: 1.0) for n in range(1, 9)]
    assert top == [1, 2, 4, 8, 16, 30, 30, 30]
    low = [next_delay(n, base=1, cap=30, rand=lambda: 0.0) for n in range(1, 9)]
    assert low == [0.5, 1, 2, 4, 8, 15, 15, 15]


def test_jitter_spreads_retries_within_bounds() -> None:
    values = {next_delay(4, base=1, cap=30, rand=lambda r=r: r / 10) for r in range(11)}
    assert len(values) == 11 and min(values) == 4 and max(values) == 8


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert next_delay(10_000, base=0.25, cap=30, rand=lambda: 1.0) == 30


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True),
                             now=now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True),
                             now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_wins_over_a_shorter_backoff_but_is_capped() -> None:
    assert retry_delay(1, 10, base=0.25, cap=30, rand=lambda: 1.0) == 10
    assert retry_delay(8, 1, base=0.25, cap=30, rand=lambda: 1.0) == 30
    assert retry_delay(1, 10**9, base=0.25, cap=30, rand=lambda: 1.0) == RETRY_AFTER_CAP
