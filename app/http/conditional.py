"""HTTP validators and conditional requests (RFC 9110 §13), as pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

__all__ = ["http_date", "not_modified", "strong_etag"]


def strong_etag(token: str) -> str:
    return f'"{token}"'


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _etags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def not_modified(
    headers: Mapping[str, str], etag: str | None, last_modified: datetime | None
) -> bool:
    """True when the request's If-None-Match / If-Modified-Since say the client is current.

    If-None-Match wins when present (weak comparison, as RFC 9110 asks for GET/HEAD).
    """
    get = headers.get
    inm = get("if-none-match")
    if inm is not None:
        if etag is None:
            return False
        tags = _etags(inm)
        return "*" in tags or etag.removeprefix("W/") in tags
    ims = get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= since
    return False
