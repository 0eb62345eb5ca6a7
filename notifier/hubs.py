"""A configured hub: its public URL, where notifications are POSTed, and the name it is shown
by. Pure: settings in, values out.

The public URL (`HEADWATER_HUB_URL`) is what subscribers see: the Capability List's
`rs:ln rel="hub"`, the topic's `Link` header, and the key of the hub's durable cursor. The
publish URL (`HEADWATER_HUB_PUBLISH_URL`, same order; default the public URL) is where the
notifier POSTs and may carry credentials (`user:password@`, sent as HTTP Basic) or a secret
query: it is never shown, logged or stored. Status, `/readyz`, `/metrics` and logs name a hub
by `redact(public URL)`: scheme, host, port and path only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Hub", "configured_hubs", "quiet_http_logs", "redact", "scrub"]

REDACTED = "[redacted]"


def quiet_http_logs() -> None:
    """httpx logs every request's full URL at INFO, a hub's publish URL and its password
    included: keep its (and httpcore's) records to warnings, which carry no URL."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def redact(url: str) -> str:
    """`scheme://host[:port]/path`: no user information, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    found = [url, parts.netloc.rpartition("@")[0] if "@" in parts.netloc else "",
             parts.password or "", parts.query, parts.fragment]
    if parts.username and parts.password:
        found.append(parts.username)
    return sorted({s for s in found if s and len(s) >= 3}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """`text` with every secret part of `url` replaced: for error messages that may quote it."""
    for secret in _secrets(url):
        text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True)
class Hub:
    url: str  # public: published, and the key of the hub's cursor and lock
    publish_url: str  # where notifications go; may carry credentials: never shown
    name: str  # shown on the status page, /readyz, /metrics and in logs


def configured_hubs(public: list[str], publish: list[str]) -> list[Hub]:
    """One Hub per public URL; `publish` is empty or lists one URL per hub, in order."""
    names = [redact(u) for u in public]
    out = []
    for i, url in enumerate(public):
        name = names[i] if names.count(names[i]) == 1 else f"{names[i]} #{i + 1}"
        out.append(Hub(url, publish[i] if publish else url, name))
    return out
