"""Logging set-up: one line of JSON per record, level from configuration."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

__all__ = ["configure_logging"]


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_headwater", False) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                      rename_fields={"levelname": "level", "asctime": "time"})
    )
    handler._headwater = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
