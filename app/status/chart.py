"""The status page's change-rate chart: hourly counts in, an inline SVG out. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["hourly_bars"]


def hourly_bars(counts: dict[datetime, int], now: datetime, *, hours: int = 24,
                width: int = 480, height: int = 80) -> dict[str, object]:
    """Bars for the last `hours` hours (oldest first), scaled to the busiest hour."""
    end = now.replace(minute=0, second=0, microsecond=0)
    slots = [end - timedelta(hours=hours - 1 - i) for i in range(hours)]
    values = [counts.get(slot, 0) for slot in slots]
    peak = max(values) or 1
    bar = width / hours
    bars = []
    for i, (slot, value) in enumerate(zip(slots, values, strict=True)):
        h = round(value / peak * (height - 2), 1)
        bars.append({"x": round(i * bar, 1), "y": round(height - h, 1), "w": round(bar - 1, 1),
                     "h": h, "label": f"{slot:%H}:00 UTC: {value} changes"})
    return {"bars": bars, "width": width, "height": height, "total": sum(values), "peak": peak}
