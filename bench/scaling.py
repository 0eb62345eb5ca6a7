"""Sizes at scale: table, index, WAL and content figures for docs/scaling.md.

    1. an embedded PostgreSQL in a temporary folder (or DATABASE_URL's server, into a new
       database), migrated;
    2. N resources and their `created` changes loaded in bulk (bench/sitemaps_support.py: the
       rows the write path leaves, fragments rendered by the same triggers), WAL measured from
       `pg_current_wal_lsn()` before and after;
    3. WAL of the real write path: --batches batches of 1,000 records through `write_batch`
       (the bulk load writes less WAL per change than ingest does);
    4. the size of every table and its indexes (`pg_table_size`, `pg_indexes_size`), per row.

    .venv/bin/python bench/scaling.py --resources 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.connect import connect  # noqa: E402
from app.write.changeset import Doc  # noqa: E402
from app.write.writer import write_batch  # noqa: E402
from bench.sitemaps_support import load_collection  # noqa: E402
from sitemaps.fixity import Fixity  # noqa: E402

PAGE = 50_000
SIZES = """
SELECT c.relname AS name, pg_table_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes, c.reltuples::bigint AS rows
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
ORDER BY pg_total_relation_size(c.oid) DESC
"""


async def wal_lsn(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


async def run(dsn: str, resources: int, batches: int) -> dict[str, object]:
    conn = await connect(dsn)
    await migrate.upgrade(conn, page_size=PAGE)
    before = await wal_lsn(conn)
    t0 = time.perf_counter()
    await load_collection(dsn, "scale", resources, PAGE, "http://127.0.0.1:8000")
    load_seconds = time.perf_counter() - t0
    bulk_wal = await wal_lsn(conn) - before

    before = await wal_lsn(conn)
    written = 0
    t0 = time.perf_counter()
    for b in range(batches):
        docs = [Doc(uri=f"http://example.org/ingest/{b}/{i}", collection="scale:ingest",
                    fixity=Fixity(100_000 + i, "application/pdf", md5=uuid.uuid4().hex,
                                  sha256=uuid.uuid4().hex * 2),
                    metadata={"title": [f"document {b}/{i}"], "creator": ["Someone, A."]})
                for i in range(1_000)]
        result = await write_batch(conn, docs, page_size=PAGE, seal_after=timedelta(hours=24))
        written += result.changed
    ingest_seconds = time.perf_counter() - t0
    ingest_wal = await wal_lsn(conn) - before
    await conn.execute("VACUUM ANALYZE")
    tables = [dict(r) for r in await conn.fetch(SIZES)]
    total = await conn.fetchval("SELECT pg_database_size(current_database())")
    await conn.close()
    return {"resources": resources, "load_seconds": load_seconds,
            "bulk_wal_bytes": bulk_wal, "bulk_wal_per_resource": bulk_wal / resources,
            "ingest_changes": written, "ingest_seconds": ingest_seconds,
            "ingest_wal_bytes": ingest_wal,
            "ingest_wal_per_change": ingest_wal / max(written, 1),
            "database_bytes": total, "tables": tables}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20, help="write-path batches of 1,000")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hw-scale-"))
    import os
    admin_dsn = os.environ.get("DATABASE_URL")
    if not admin_dsn:
        from app.db.embedded import start_embedded
        admin_dsn = start_embedded(work, stop_at_exit=True)
    name = f"hw_scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = urlsplit(admin_dsn)._replace(path="/" + name).geturl()
    out = await run(dsn, args.resources, args.batches)
    n = args.resources
    print(f"{n:,} resources loaded in {out['load_seconds']:.0f}s; database "
          f"{out['database_bytes'] / 2**20:,.0f} MiB ({out['database_bytes'] / n:,.0f} B/resource)")
    print(f"WAL: bulk load {out['bulk_wal_per_resource']:,.0f} B/resource; write path "
          f"{out['ingest_wal_per_change']:,.0f} B/change ({out['ingest_changes']:,} changes in "
          f"{out['ingest_seconds']:.1f}s)")
    print("| table | rows | table MiB | indexes MiB | bytes/row (table+indexes) |")
    print("|---|---|---|---|---|")
    for t in out["tables"]:  # type: ignore[attr-defined]
        rows = max(int(t["rows"]), 0)
        per = (t["table_bytes"] + t["index_bytes"]) / rows if rows else 0
        print(f"| {t['name']} | {rows:,} | {t['table_bytes'] / 2**20:,.1f} | "
              f"{t['index_bytes'] / 2**20:,.1f} | {per:,.0f} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    asyncio.run(main())
