from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.status.chart import hourly_bars


def test_bars_cover_the_last_day_scaled_to_the_peak():
    now = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
    hour = now.replace(minute=0)
    chart = hourly_bars({hour: 10, hour - timedelta(hours=2): 5,
                         hour - timedelta(hours=30): 99}, now, height=82)
    bars = chart["bars"]
    assert len(bars) == 24 and chart["total"] == 15 and chart["peak"] == 10
    assert bars[-1]["h"] == 80 and bars[-3]["h"] == 40 and bars[0]["h"] == 0
