"""What a destination checks its copy of a resource against: the one value type for fixity.

Every part that carries a resource's length, media type and digests (the write path's documents
and rows, the change log's snapshot, the content store's answer, the entries of lists, change
notifications and dump manifests, OAI-PMH records) holds one `Fixity`, so the five fields are
named, ordered and rendered in one place.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sitemaps.format import hash_value

__all__ = ["Fixity", "NO_FIXITY"]


class Fixity(NamedTuple):
    """Length in bytes, bare media type, and lowercase hex digests; None where unknown.

    A tuple in the order of the database columns (`length, type, md5, sha1, sha256`), so a row
    is written as `*fixity` and compared in one operation."""

    length: int | None = None
    type: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None

    @property
    def hash(self) -> str | None:
        """The `rs:md hash` value: `md5:… sha-1:… sha-256:…` for the digests known."""
        return hash_value(self.md5, self.sha1, self.sha256)

    def md(self) -> dict[str, Any]:
        """The `rs:md` attributes it gives an entry (hash, length, type), None left out."""
        attrs = {"hash": self.hash, "length": self.length, "type": self.type}
        return {k: v for k, v in attrs.items() if v is not None}


NO_FIXITY = Fixity()
