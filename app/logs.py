"""Logging set-up: one line of JSON per record with the request id, level from configuration."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from notifier.hubs import quiet_http_logs

__all__ = ["configure_logging"]


def configure_logging(level: str) -> None:
    from app.http.observability import RequestIdFilter

    root = logging.getLogger()
    root.setLevel(level)
    quiet_http_logs()
    if any(getattr(h, "_headwater", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                      rename_fields={"levelname": "level", "asctime": "time"})
    )
    handler.addFilter(RequestIdFilter())
    handler._headwater = True  # type: ignore[attr-defined]
    root.addHandler(handler)
