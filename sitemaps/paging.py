"""How documents are cut into pages: pure arithmetic over counters, no rows.

Resource Lists: part k of a (leaf) collection d holds its live resources with
`k*N <= ord < (k+1)*N` (N = page size), so at most N entries, a keyset range that is O(1) to
locate and stable as other parts change. A part whose entries would pass the byte budget (long
URIs, many links) is cut into sub-parts by bytes: an entry goes to sub-part
`floor(bytes before it in the part / budget)`, so each sub-part holds less than the budget plus
one entry.

Change Lists: page k of a set holds `k*N <= seq < (k+1)*N`; it is sealed once the set's
`change_seq >= (k+1)*N` (full, or closed by age, which moves `change_seq` to the next boundary).
Every page up to `ceil(change_seq / N)` holds at least one change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_DOCUMENT_BYTES", "BYTE_BUDGET", "PartStats", "PartRef", "plan_parts", "fits_one_page",
    "part_name", "parse_part_name", "change_pages", "is_sealed", "sealed_pages",
    "changelist_is_index",
]

# sitemaps.org: 50 MB (52,428,800 bytes) uncompressed per document. The budget for entries
# leaves room for the head, the tail and the one entry that may cross a sub-part's budget.
MAX_DOCUMENT_BYTES = 52_428_800
BYTE_BUDGET = MAX_DOCUMENT_BYTES - 4 * 1024 * 1024

_PART_NAME = re.compile(r"^(0|[1-9][0-9]{0,17})(?:-(0|[1-9][0-9]{0,5}))?\.xml$")


@dataclass(frozen=True)
class PartStats:
    """Live entries and their bytes in part `part` of collection `collection`."""

    collection: str
    part: int
    entries: int
    bytes: int


@dataclass(frozen=True)
class PartRef:
    """One document of a Resource List Index: part `part` of `collection`, or one of its
    byte-cut sub-parts when `sub` is set."""

    collection: str
    part: int
    sub: int | None = None

    @property
    def name(self) -> str:
        return part_name(self.part, self.sub)


def part_name(part: int, sub: int | None = None) -> str:
    return f"{part}.xml" if sub is None else f"{part}-{sub}.xml"


def parse_part_name(name: str) -> tuple[int, int | None] | None:
    m = _PART_NAME.match(name)
    if not m:
        return None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else None)


def subparts(nbytes: int, budget: int = BYTE_BUDGET) -> int:
    """How many byte-cut documents a part of `nbytes` entry bytes needs (1 = not cut)."""
    return max(1, -(-nbytes // budget))


def plan_parts(stats: Iterable[PartStats], budget: int = BYTE_BUDGET) -> list[PartRef]:
    """The index's documents, in the order given, skipping parts with no live entry."""
    out: list[PartRef] = []
    for s in stats:
        if s.entries <= 0:
            continue
        n = subparts(s.bytes, budget)
        if n == 1:
            out.append(PartRef(s.collection, s.part))
        else:
            out.extend(PartRef(s.collection, s.part, j) for j in range(n))
    return out


def fits_one_page(stats: Iterable[PartStats], page_size: int,
                  budget: int = BYTE_BUDGET) -> bool:
    """True when the whole set is one `<urlset>`: at most N entries and within the budget."""
    entries = nbytes = 0
    for s in stats:
        entries += max(s.entries, 0)
        nbytes += max(s.bytes, 0)
    return entries <= page_size and nbytes <= budget


def change_pages(change_seq: int, page_size: int) -> int:
    """Number of Change List pages of a set whose next sequence number is `change_seq`."""
    return -(-change_seq // page_size)


def is_sealed(page: int, change_seq: int, page_size: int) -> bool:
    return change_seq >= (page + 1) * page_size


def changelist_is_index(change_seq: int, page_size: int) -> bool:
    """Whether a set's top-level `changelist.xml` is a Change List Index: as soon as its first
    page is sealed (full, or closed by age), so that URL never carries `until` (ResourceSync
    1.1 §12.1: a document with `until` is never updated again). Before, it is the open page."""
    return is_sealed(0, change_seq, page_size)


def sealed_pages(change_seq: int, page_size: int) -> int:
    """Number of sealed pages (they are pages 0 .. n-1)."""
    return change_seq // page_size
