"""Every named SQL query is used, and every name the code asks for exists.

Queries live in `.sql` files under `-- name: <name>` headers; the code reads them as `Q["name"]`
(or `_Q`, `queries.Q`, `serving.Q`…). OAI-PMH expands three shapes (`page_by`, `scan_by`,
`count_by`) once per set kind, and picks the expansion at run time.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.db.queries import load_queries
from app.oai import repository
from notifier.queries import Q as NOTIFIER_Q
from tests.conftest import ROOT

SQL_FILES = {
    "app.read": ["sql/documents.sql", "sql/content.sql", "sql/replicas.sql"],
    "app.write": ["sql/writer.sql"],
    "app.oai": ["sql/oai.sql"],
    "app.dumps": ["sql/dumps.sql"],
    "app.status": ["sql/status.sql"],
    "app.lifecycle": ["sql/lifecycle.sql"],
}
USE = re.compile(r"""Q\[\s*["'](\w+)["']\s*\]""")


def _defined() -> dict[str, set[str]]:
    out = {f"{pkg}/{name}": set(load_queries(pkg, name))
           for pkg, names in SQL_FILES.items() for name in names}
    out["notifier/sql/notifier.sql"] = set(NOTIFIER_Q)
    return out


def _used() -> set[str]:
    names: set[str] = set()
    for folder in ("app", "notifier", "bench"):
        for path in Path(ROOT, folder).rglob("*.py"):
            names.update(USE.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_sql_file_is_listed_here():
    found = {p.relative_to(ROOT).as_posix() for d in ("app", "notifier")
             for p in Path(ROOT, d).rglob("*.sql") if "migrations" not in p.parts}
    listed = {f"{pkg.replace('.', '/')}/{name}" for pkg, names in SQL_FILES.items()
              for name in names} | {"notifier/sql/notifier.sql"}
    assert found == listed


def test_every_name_used_exists():
    known = set().union(*_defined().values()) | set(repository._Q)
    assert sorted(_used() - known) == []


def test_every_query_is_used():
    used = _used()
    templates = {"page_by", "scan_by", "count_by"}  # expanded per set kind in app/oai
    unused = {f"{file}:{name}" for file, names in _defined().items() for name in names
              if name not in used and name not in templates}
    assert sorted(unused) == []


def test_oai_shapes_expand_for_every_set_kind():
    for shape in ("page", "scan", "count"):
        for kind in ("collection", "domain", "mime"):
            assert "{column}" not in repository._Q[f"{shape}_{kind}"]
