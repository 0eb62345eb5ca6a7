"""OAI-PMH set specs (docs/rules.md §2): `collection:<name>`, `domain:<labels reversed>`,
`mime:<type>:<subtype>`. Pure; the SQL generated columns of migration 0004 compute the same
`domain`/`mime` leaves, and a test holds the two to each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["SetSpec", "parse_spec", "label", "domain_leaf", "mime_leaf", "record_specs",
           "set_name", "KINDS"]

Kind = Literal["collection", "domain", "mime"]
KINDS: tuple[Kind, ...] = ("collection", "domain", "mime")

_OUTSIDE = re.compile(r"[^A-Za-z0-9_.!~*'()-]")
_SEGMENT = re.compile(r"[A-Za-z0-9_.!~*'()-]+")
_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]/?#]*\]|[^:/?#]*)")


def label(value: str) -> str:
    """One set-spec segment: characters outside the unreserved set become '-'."""
    return _OUTSIDE.sub("-", value)


def domain_leaf(uri: str) -> str | None:
    """'https://www.webarchiv.cz/x' → 'cz:webarchiv:www'."""
    match = _HOST.match(uri)
    if not match:
        return None
    labels = [label(part) for part in match.group(1).lower().split(".") if part]
    return ":".join(reversed(labels)) or None


def mime_leaf(media_type: str | None) -> str | None:
    """'application/atom+xml; charset=utf-8' → 'application:atom-xml'."""
    if not media_type:
        return None
    bare = media_type.split(";", 1)[0].strip().lower()
    if "/" not in bare:
        return None
    kind, _, sub = bare.partition("/")
    return f"{label(kind)}:{label(sub)}"


@dataclass(frozen=True)
class SetSpec:
    kind: Kind
    path: str  # 'serials:harvest_2026_11', 'cz:webarchiv', 'text:html'

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"


def parse_spec(value: str) -> SetSpec | None:
    """A syntactically valid spec of one of our hierarchies, or None (→ noRecordsMatch)."""
    kind, _, path = value.partition(":")
    if kind not in KINDS or not path:
        return None
    if not all(_SEGMENT.fullmatch(segment) for segment in path.split(":")):
        return None
    return SetSpec(kind, path)


def record_specs(collection: str, domain: str | None, mime: str | None) -> list[str]:
    """The setSpecs a record's header lists: its leaf in each hierarchy (membership of the
    ancestors is implied by the hierarchy, as OAI-PMH §4.6 describes)."""
    specs = [f"collection:{collection}"]
    if domain:
        specs.append(f"domain:{domain}")
    if mime:
        specs.append(f"mime:{mime}")
    return specs


def set_name(spec: str) -> str:
    """A human-readable setName for ListSets."""
    kind, _, path = spec.partition(":")
    if kind == "collection":
        return f"Collection {path}"
    if kind == "domain":
        return "Host " + ".".join(reversed(path.split(":")))
    if kind == "mime":
        major, _, minor = path.partition(":")
        return f"Media type {major}/{minor}" if minor else f"Media type {major}/*"
    return spec
