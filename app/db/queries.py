"""Named SQL queries, kept in `.sql` files beside the code that uses them.

A file holds several queries, each headed by `-- name: <name>` and a one-line purpose; the
parameters are listed in that comment since asyncpg's `$1..$n` say nothing by themselves.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["load_queries"]

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def load_queries(package: str, filename: str) -> dict[str, str]:
    """Parse `package/filename` into {name: sql}."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{package}/{filename}: query {name!r} defined twice")
        queries[name] = body.strip()
    return queries
