"""Collection names and content paths (docs/rules.md §2 and §4). Pure functions, no I/O."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

__all__ = [
    "BadPath",
    "ancestors",
    "content_path",
    "is_collection_name",
    "COLLECTION_PATTERN",
]

_SEGMENT = r"[A-Za-z0-9_.-]+"
COLLECTION_PATTERN = rf"^{_SEGMENT}(:{_SEGMENT}){{0,7}}$"
_COLLECTION = re.compile(COLLECTION_PATTERN)
_UNRESERVED = "-._~"  # RFC 3986 unreserved besides ALPHA / DIGIT, which quote() always keeps
# what XML 1.0 cannot carry (the URI is published percent-encoded, but its decoded form is
# what a destination stores as a file name): C0 controls, DEL, U+FFFE, U+FFFF
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ufffe\uffff]")


class BadPath(ValueError):
    """A content path that could escape the store or is ambiguous."""


def is_collection_name(name: str) -> bool:
    return len(name) <= 200 and _COLLECTION.fullmatch(name) is not None


def ancestors(name: str) -> list[str]:
    """The collection itself and every ancestor, leaf first: `a:b:c` → `[a:b:c, a:b, a]`."""
    parts = name.split(":")
    return [":".join(parts[:i]) for i in range(len(parts), 0, -1)]


def content_path(raw_path: str) -> str:
    """Re-encode a request path (as sent, still percent-encoded) once per RFC 3986.

    Unreserved characters and `/` are kept; every other UTF-8 byte is percent-encoded with
    upper-case hex. `%2F` inside a segment, `.`/`..` segments, empty segments, NUL, other
    control characters, U+FFFE, U+FFFF and `\\` are refused: each would let two spellings
    name one file, let a path leave the store, or put in a URI what XML 1.0 cannot carry.
    """
    if not raw_path:
        raise BadPath("the path is empty")
    segments = raw_path.split("/")
    out = []
    for segment in segments:
        if "%2f" in segment.lower() or "%5c" in segment.lower():
            raise BadPath("an encoded '/' or '\\' inside a path segment is not allowed")
        raw = unquote_to_bytes(segment)
        if raw in (b"", b".", b".."):
            raise BadPath("empty, '.' and '..' path segments are not allowed")
        if b"\x00" in raw or b"\\" in raw:
            raise BadPath("NUL and '\\' are not allowed in a path")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadPath("the path is not valid UTF-8 once decoded") from None
        if _FORBIDDEN.search(text):
            raise BadPath("control characters, U+FFFE and U+FFFF are not allowed in a path")
        out.append(quote(raw, safe=_UNRESERVED))
    return "/".join(out)
