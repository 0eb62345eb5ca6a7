"""How dumps are cut and named: pure functions, no I/O.

Packages are bounded by `package_max_bytes` and `package_max_files`. The byte budget counts
what the ZIP will really hold: each file's bytes, its two ZIP headers and its manifest entry,
plus a fixed allowance for the manifest's head and the end records. A file larger than the
budget goes alone into its own package (it cannot be split), so one package never holds it
with others.

Member paths: the manifest's `path` is the ZIP entry name with a leading `/`. Resources this
server stores are published under `{base}/content/{collection}/{path}`, already percent-encoded
once (docs/rules.md §4), so `/resources/{collection}/{path}` is unique per URI and safe as a file
name. Any other URI (stored before a base URL change, say) gets `/other/{resource id}`. A Change
Dump holds one file per change, so the same URI twice gets two paths:
`/changes/{position}/{last segment}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "PACKAGE_OVERHEAD", "member_overhead", "Budget", "resource_path", "change_path",
    "resource_package_name", "change_package_name", "PACKAGE_NAME", "MemberNames",
]

# ZIP64 end records, the manifest's XML head and tail, with room to spare.
PACKAGE_OVERHEAD = 4096
# Stored-with-known-CRC ZIP64 member: local header 30 + zip64 extra 20 + timestamp extra 9,
# central header 46 + zip64 extra 28 + timestamp extra 9; rounded up.
_MEMBER_FIXED = 160

_SEGMENT = re.compile(r"^[A-Za-z0-9._~%!$&'()*+,;=:@-]+$")
PACKAGE_NAME = re.compile(r"^(rd-[0-9]{1,18}-[0-9]{1,9}|cd-[0-9]{1,18}-[0-9]{1,9})$")


def member_overhead(path: str) -> int:
    """ZIP bytes a member adds besides its content (the name is stored twice, sans '/')."""
    return _MEMBER_FIXED + 2 * len(path.encode())


@dataclass
class Budget:
    """Admits entries into the current package until the next would break a bound."""

    max_bytes: int
    max_files: int
    bytes: int = field(default=PACKAGE_OVERHEAD)
    files: int = 0
    entries: int = 0

    def admit(self, length: int | None, path: str | None, entry_bytes: int) -> bool:
        """Count an entry (a file of `length` bytes at `path`, or a manifest-only entry when
        `path` is None) if it fits; the first entry of a package always fits."""
        cost = entry_bytes + (0 if path is None else (length or 0) + member_overhead(path))
        adds_file = path is not None
        if self.entries and (
            self.bytes + cost > self.max_bytes
            or (adds_file and self.files + 1 > self.max_files)
        ):
            return False
        self.bytes += cost
        self.files += adds_file
        self.entries += 1
        return True

    def reset(self) -> None:
        self.bytes, self.files, self.entries = PACKAGE_OVERHEAD, 0, 0


def _safe_relative(rest: str) -> bool:
    if not rest or len(rest) > 1024:
        return False
    segments = rest.split("/")
    return all(s not in (".", "..") and _SEGMENT.match(s) for s in segments)


def resource_path(uri: str, content_prefix: str, resource_id: int) -> str:
    """Where a Resource Dump stores a resource's bytes (manifest form, leading '/')."""
    if uri.startswith(content_prefix):
        rest = uri[len(content_prefix):]
        if _safe_relative(rest):
            return f"/resources/{rest}"
    return f"/other/{resource_id}"


class MemberNames:
    """The member names of one ZIP, so that no file shares its name with a folder: URIs
    `…/a` and `…/a/b` would give members `resources/c/a` and `resources/c/a/b`, which no unzip
    can create side by side. The later one of such a pair gets its fallback name instead."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.dirs: set[str] = set()

    def claim(self, path: str, fallback: str) -> str:
        """`path`, or `fallback` when `path` collides with a name already claimed."""
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(2, len(parts))]
        if path in self.files or path in self.dirs or any(p in self.files for p in prefixes):
            path, prefixes = fallback, ["/".join(fallback.split("/")[:2])]
        self.files.add(path)
        self.dirs.update(prefixes)
        return path


def change_path(uri: str, position: int) -> str:
    """Where a Change Dump stores the bytes of the change at log `position`."""
    last = uri.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not _safe_relative(last):
        last = "content"
    return f"/changes/{position}/{last[:200]}"


def resource_package_name(build_id: int, part: int) -> str:
    return f"rd-{build_id}-{part}"


def change_package_name(page: int, part: int) -> str:
    return f"cd-{page}-{part}"
