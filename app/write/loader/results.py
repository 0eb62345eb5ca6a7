"""Ingest results → records (docs/rules.md §9). Pure: one parsed JSON line in, an outcome out.

Two shapes arrive from a crawling pipeline: a single-file result (`file_meta`, `terminal`) and a
fileset result (`manifest` of files of a dataset landing page). A fileset becomes one resource
per file plus one resource for the fileset itself, linked both ways with the RFC 6573 pair:
the fileset has `rel="item"` to each member, each member `rel="collection"` to the fileset,
published as `rs:ln` so a destination can rebuild the set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Limits", "Outcome", "LOADED_STATUSES", "REQUESTED_REL", "interpret",
           "parse_terminal_dt"]

LOADED_STATUSES = frozenset({"success", "success-existing", "success-file"})
REQUESTED_REL = "cite-as"  # from the resource at the terminal URL to the requested URL


@dataclass(frozen=True)
class Limits:
    max_file_count: int = 200
    max_total_size: int = 64 * 1024**3


@dataclass
class Outcome:
    """`records` to load, or a `skipped` reason, or a `rejected` reason (malformed input)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None
    rejected: str | None = None


def parse_terminal_dt(value: object) -> str | None:
    """Wayback-style `20201104123456` or ISO 8601; returned as RFC 3339 UTC, else None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        if text.isdigit() and len(text) == 14:
            when = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
    except ValueError:
        return None
    return when.astimezone(UTC).isoformat()


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v not in (None, "", [], {})}


def _single(result: dict[str, Any], collection: str) -> Outcome:
    meta = result.get("file_meta")
    terminal = result.get("terminal") or {}
    request = result.get("request") or {}
    if not isinstance(meta, dict):
        return Outcome(rejected="a loaded single-file result needs file_meta")
    uri = terminal.get("terminal_url") or request.get("base_url")
    if not uri:
        return Outcome(rejected="no terminal.terminal_url nor request.base_url")
    record = _clean({
        "uri": uri,
        "collection": collection,
        "length": meta.get("size_bytes"),
        "type": meta.get("mimetype"),
        "md5": meta.get("md5hex"),
        "sha1": meta.get("sha1hex"),
        "sha256": meta.get("sha256hex"),
        "lastmod": parse_terminal_dt(terminal.get("terminal_dt")),
    })
    if request.get("base_url") and request.get("base_url") != uri:
        # the URL the crawl was asked for (a DOI, a landing page) that led to these bytes:
        # RFC 8574 `cite-as`, "referencing by a different URI is preferred"; `via` is
        # ResourceSync's republishing relation (§14.8), which this is not (docs/operations.md)
        record["links"] = [{"rel": REQUESTED_REL, "href": request["base_url"]}]
    return Outcome(records=[record])


def _fileset(result: dict[str, Any], collection: str, limits: Limits) -> Outcome:
    manifest = result.get("manifest")
    if not isinstance(manifest, list):
        return Outcome(rejected="manifest is not a list")
    count = result.get("file_count", len(manifest))
    total = result.get("total_size")
    if total is None:
        total = sum(f.get("size") or 0 for f in manifest if isinstance(f, dict))
    too_many = len(manifest) > limits.max_file_count
    if not isinstance(count, int) or count > limits.max_file_count or too_many:
        return Outcome(skipped="too-many-files")
    if not isinstance(total, int) or total > limits.max_total_size:
        return Outcome(skipped="too-large-size")
    landing = result.get("platform_base_url") or (result.get("request") or {}).get("base_url")
    if not landing:
        return Outcome(rejected="a fileset needs platform_base_url")
    members = []
    for entry in manifest:
        if not isinstance(entry, dict):
            return Outcome(rejected="a manifest entry is not an object")
        if entry.get("status") not in (None, *LOADED_STATUSES):
            continue  # a file the crawler could not fetch is not published
        uri = entry.get("terminal_url") or entry.get("platform_url")
        if not uri:
            return Outcome(rejected=f"manifest entry {entry.get('path')!r} has no URL")
        members.append(_clean({
            "uri": uri,
            "collection": collection,
            "length": entry.get("size"),
            "type": entry.get("mimetype"),
            "md5": entry.get("md5"),
            "sha1": entry.get("sha1"),
            "sha256": entry.get("sha256"),
            "lastmod": parse_terminal_dt(entry.get("terminal_dt")),
            "metadata": {"title": entry["path"]} if entry.get("path") else None,
            "links": [{"rel": "collection", "href": landing}],
        }))
    title = " ".join(str(p) for p in (result.get("platform_name"), result.get("platform_id")) if p)
    fileset = _clean({
        "uri": landing,
        "collection": collection,
        "type": "text/html",
        "metadata": {"title": title, "publisher": result.get("platform_domain")} if title else None,
        "links": [{"rel": "item", "href": m["uri"]} for m in members],
    })
    if fileset.get("metadata"):
        fileset["metadata"] = _clean(fileset["metadata"])
    return Outcome(records=[*members, fileset])


def interpret(result: object, collection: str, limits: Limits) -> Outcome:
    if not isinstance(result, dict):
        return Outcome(rejected="a line must hold a JSON object")
    status = result.get("status")
    if status not in LOADED_STATUSES:
        return Outcome(skipped=str(status or "no-status"))
    if "manifest" in result:
        return _fileset(result, collection, limits)
    return _single(result, collection)
