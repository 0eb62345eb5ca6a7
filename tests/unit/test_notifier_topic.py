"""Finding where the unacknowledged changes of a set start, across sequence gaps."""

from __future__ import annotations

import random

import pytest

from notifier.topic import first_seq_after


def probe_over(entries: list[tuple[int, int]], calls: list[int]):
    async def probe(x: int) -> tuple[int, int] | None:
        calls.append(x)
        return next(((s, p) for s, p in entries if s >= x), None)
    return probe


@pytest.mark.parametrize("seed", range(20))
async def test_matches_a_linear_scan(seed: int) -> None:
    rng = random.Random(seed)
    seq, pos, entries = 0, 0, []
    for _ in range(rng.randint(0, 300)):
        seq += 1 if rng.random() > 0.05 else rng.randint(2, 50)  # pages sealed by age
        pos += rng.randint(1, 9)  # other sets' changes in between
        entries.append((seq, pos))
    end = seq + 1 + rng.randint(0, 40)
    for acked in [0, *(p for _, p in entries[::7]), pos, pos + 5]:
        expected = next((s for s, p in entries if p > acked), end)
        calls: list[int] = []
        assert await first_seq_after(probe_over(entries, calls), acked, end) == expected
        assert len(calls) <= 2 * max(end, 1).bit_length() + 2  # logarithmic


async def test_empty_set() -> None:
    assert await first_seq_after(probe_over([], []), 0, 0) == 0
