"""The notifier's SQL, kept in `notifier/sql/notifier.sql` under `-- name: <name>` headers.

Parsed here rather than with the service's loader because the notifier stands alone: `app`
depends on it, never the other way round (docs/design.md, "Packages").
"""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["Q"]

_text = resources.files("notifier").joinpath("sql/notifier.sql").read_text(encoding="utf-8")
_parts = re.split(r"^-- name: (\w+)\s*$", _text, flags=re.MULTILINE)
Q: dict[str, str] = {name: sql.strip() for name, sql in zip(_parts[1::2], _parts[2::2],
                                                             strict=True)}
