"""Bulk loader throughput vs a bare PostgreSQL COPY of the same rows, side by side.

    .venv/bin/python bench/loader.py --n 1000000

Generates N single-file ingest results (JSON Lines), loads them with `headwater ingest` (a real
process, the command an operator runs), then writes the same resource, change and set_changes
rows into a second, freshly migrated database with COPY: the floor for any loader that keeps
the change log. Both run on one embedded PostgreSQL cluster started for the benchmark (or
DATABASE_URL's server when set).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.connect import connect  # noqa: E402
from app.db.embedded import start_embedded  # noqa: E402


def generate(path: Path, n: int) -> None:
    with open(path, "wb") as out:
        for i in range(n):
            out.write(orjson.dumps({
                "hit": True, "status": "success",
                "request": {"base_url": f"https://doi.example.org/10.5555/{i}",
                            "ingest_type": "pdf"},
                "terminal": {"terminal_url": f"https://journals.example.org/{i}/fulltext.pdf",
                             "terminal_dt": "20261101120000", "terminal_status_code": 200},
                "file_meta": {"size_bytes": 1000 + i, "md5hex": f"{i:032x}", "sha1hex": f"{i:040x}",
                              "sha256hex": f"{i:064x}", "mimetype": "application/pdf"},
            }))
            out.write(b"\n")


def with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def fresh_db(server: str, name: str) -> str:
    admin = await asyncpg.connect(server)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_db(server, name)
    conn = await connect(url)
    await migrate.upgrade(conn, page_size=50_000)
    await conn.close()
    return url


async def copy_baseline(url: str, n: int) -> float:
    """COPY the rows the loader would write: resources, changes, set_changes, collection."""
    conn = await asyncpg.connect(url)  # asyncpg's own jsonb codec: COPY needs a binary one
    try:
        start = time.perf_counter()
        async with conn.transaction():
            cid = await conn.fetchval(
                "INSERT INTO collections (name, depth) VALUES ('bench', 0) RETURNING id")
            now = datetime.now(UTC)
            lastmod = datetime(2026, 11, 1, 12, tzinfo=UTC)
            tick = timedelta(microseconds=1)
            chunk = 100_000
            for lo in range(0, n, chunk):
                hi = min(n, lo + chunk)
                await conn.copy_records_to_table(
                    "resources",
                    columns=["id", "uri", "collection_id", "ord", "length", "type", "md5",
                             "sha1", "sha256", "lastmod", "deleted", "links", "last_position",
                             "datestamp"],
                    records=[(i + 1, f"https://journals.example.org/{i}/fulltext.pdf", cid, i,
                              1000 + i, "application/pdf", f"{i:032x}", f"{i:040x}", f"{i:064x}",
                              lastmod, False,
                              orjson.dumps([{"rel": "via",
                                            "href": f"https://doi.example.org/10.5555/{i}"}]).decode(),
                              i + 1, now + tick * i) for i in range(lo, hi)])
                await conn.copy_records_to_table(
                    "changes",
                    columns=["position", "resource_id", "collection_id", "change", "datetime",
                             "uri", "lastmod", "length", "type", "md5", "sha1", "sha256"],
                    records=[(i + 1, i + 1, cid, "created", now + tick * i,
                              f"https://journals.example.org/{i}/fulltext.pdf", lastmod, 1000 + i,
                              "application/pdf", f"{i:032x}", f"{i:040x}", f"{i:064x}")
                             for i in range(lo, hi)])
                await conn.copy_records_to_table(
                    "set_changes", columns=["set_id", "seq", "position"],
                    records=[(cid, i, i + 1) for i in range(lo, hi)])
        return time.perf_counter() - start
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hw-bench-loader-"))
    server = os.environ.get("DATABASE_URL") or start_embedded(work / "pg", stop_at_exit=True)
    source = work / "results.jsonl"
    t = time.perf_counter()
    generate(source, args.n)
    print(f"generated {args.n:,} results ({source.stat().st_size / 1e6:.0f} MB) "
          f"in {time.perf_counter() - t:.1f}s")

    loader_url = asyncio.run(fresh_db(server, "bench_loader"))
    env = {**os.environ, "DATABASE_URL": loader_url, "HEADWATER_DATA_DIR": str(work / "data"),
           "HEADWATER_LOG_LEVEL": "WARNING"}
    exe = Path(sys.executable).with_name("headwater")
    t = time.perf_counter()
    proc = subprocess.run([str(exe), "ingest", "--collection", "bench", "--batch-size",
                           str(args.batch_size), str(source)], env=env, capture_output=True,
                          text=True)
    loader_s = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"loader failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    print(proc.stdout.strip())

    copy_url = asyncio.run(fresh_db(server, "bench_copy"))
    copy_s = asyncio.run(copy_baseline(copy_url, args.n))

    print()
    print(f"{'path':<34}{'seconds':>10}{'records/s':>14}")
    print(f"{'headwater ingest (loader)':<34}{loader_s:>10.1f}{args.n / loader_s:>14,.0f}")
    print(f"{'COPY of the same rows (baseline)':<34}{copy_s:>10.1f}{args.n / copy_s:>14,.0f}")
    print(f"loader / COPY time: {loader_s / copy_s:.2f}x (goal: within 3x)")


if __name__ == "__main__":
    main()
