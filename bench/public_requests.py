"""Cheap public requests at 1,000,000 resources: served from counters, against the old queries.

Times, with curl against a server over a loaded database (p50 of --runs; a write through
`POST /ingest` before each timed request, so no answer comes from a cache):

    /sitemap.xml                       parts from resource_parts.local_entries
    /oai ListIdentifiers, first page   completeListSize from resource_parts.records
    /oai ListIdentifiers from=…        completeListSize counted up to COUNT_CAP, then left out
    /                                  change rate from change_hours

and, on the same database, the query each request used to run per request (the old way):
the EXISTS probe over every part (`plain_parts`), `count(*)` over the whole list, and
`count(*) … GROUP BY hour` over a day of the log; beside the query that replaced it. With
`--old-tree` (a checkout of the commit before the counters, e.g. `git worktree add /tmp/old
ac71455`), that commit's server is started on the same database and timed with curl too.

The worst case for the old sitemap query is a store of other hosts' URIs (a crawl archive):
every part is scanned to find it holds none of this server's. So `big` holds 1,000,000
resources of another host, and `local` a few of this server's, written through the API. All
the changes are less than a day old (as after a day of bulk loading), which is the status
page's worst case. The one-time recount at start when the base URL changed is timed too, and
so is the one snapshot a Resource Dump build still takes: spooling the manifest rows of the
1,000,000 resources (marked as stored locally for it) before any file is read.

    .venv/bin/python bench/public_requests.py                      # embedded PostgreSQL
    .venv/bin/python bench/public_requests.py --old-tree /tmp/old
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.oai import repository  # noqa: E402
from app.read.queries import Q as DOCS  # noqa: E402
from app.read.queries import sync_sitemap_prefix  # noqa: E402
from bench.sitemaps_support import TOKEN, Server, curl, load_collection, scratch_database  # noqa: E402

PAGE = 50_000
FOREIGN = "https://archive.example.org"

# The per-request queries of ac71455, verbatim in effect.
OLD_SITEMAP = DOCS["plain_parts"]  # kept as the fallback for a foreign prefix
OLD_OAI_COUNT = "SELECT count(*) FROM resources WHERE datestamp >= $1 AND datestamp < $2"
OLD_STATUS = """SELECT date_trunc('hour', datetime) AS hour, count(*) AS n FROM changes
WHERE datetime > clock_timestamp() - interval '24 hours' GROUP BY 1 ORDER BY 1"""
NEW_STATUS = """SELECT hour, changes AS n FROM change_hours
WHERE hour > date_trunc('hour', clock_timestamp() - interval '24 hours', 'UTC') ORDER BY hour"""


def p50(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


async def drop(url: str | None, dsn: str) -> None:
    if url is None:
        return  # the embedded cluster goes with its folder
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(dsn).path[1:]}" WITH (FORCE)')
    finally:
        await admin.close()


async def timed(conn: asyncpg.Connection, runs: int, sql: str, *args: object) -> float:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await conn.fetch(sql, *args)
        out.append(time.perf_counter() - t0)
    return p50(out)


def write(server: Server, i: int) -> None:
    rec = {"uri": f"{server.url}/content/local/{i}.txt", "collection": "local",
           "type": "text/plain", "length": i}
    r = httpx.post(f"{server.url}/ingest", json=[rec], timeout=60,
                   headers={"Authorization": f"Bearer {TOKEN}"})
    r.raise_for_status()


def curl_after_write(server: Server, path: str, runs: int, old: Server | None = None
                     ) -> tuple[float, float | None]:
    """p50 of `path` on `server` (and on `old`), each timed request after a write."""
    times: dict[str, list[float]] = {"new": [], "old": []}
    targets = [("new", server)] + ([("old", old)] if old else [])
    for _, s in targets:
        curl(s.url + path)  # warm the connection pool and the plans
    for run in range(runs):
        for key, s in targets:
            write(server, run)
            times[key].append(curl(s.url + path))
    return p50(times["new"]), p50(times["old"]) if old else None


async def resource_dump_snapshot(dsn: str, data_dir: Path) -> tuple[float, int]:
    """Seconds the Resource Dump builder holds its snapshot for `big`: its rows spooled."""
    from app.dumps.builder import Builder
    from app.settings import load_settings
    from app.store.content import ContentStore

    conn = await asyncpg.connect(dsn)
    try:
        # as if every resource's bytes were stored here (triggers off: only content_key moves)
        await conn.execute("ALTER TABLE resources DISABLE TRIGGER USER")
        await conn.execute("UPDATE resources SET content_key = sha256")
        await conn.execute("ALTER TABLE resources ENABLE TRIGGER USER")
        await conn.execute("VACUUM ANALYZE resources")
        ids = [await conn.fetchval("SELECT id FROM collections WHERE name = 'big'")]
        settings = load_settings(database_url=dsn, data_dir=data_dir, page_size=PAGE)
        builder = Builder(None, settings, ContentStore(data_dir / "content"))  # type: ignore[arg-type]
        spool = data_dir / "rows.spool"
        t0 = time.perf_counter()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await builder._spool_resources(conn, ids, spool)
        took = time.perf_counter() - t0
        with open(spool, "rb") as f:
            rows = sum(1 for _ in f)
        spool.unlink()
        return took, rows
    finally:
        await conn.close()


def row(label: str, new_ms: float, old_ms: float | None = None, note: str = "") -> None:
    old = f"{old_ms:10.1f} ms" if old_ms is not None else " " * 13
    if old_ms is not None and not note:
        note = f"{old_ms / new_ms:,.1f}x"
    print(f"  {label:<44} {new_ms:9.1f} ms {old} {note}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--resources", type=int, default=1_000_000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--old-tree", type=Path, default=None,
                    help="a checkout of the commit before the counters, served side by side")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="hw-bench-public-"))
    dsn = await scratch_database(args.database_url, work, "public", PAGE)
    data_dir = work / "data"
    data_dir.mkdir()
    server = Server(dsn, data_dir, PAGE)
    old = None
    if args.old_tree:
        (work / "old-data").mkdir()
        old = Server(dsn, work / "old-data", PAGE, cwd=args.old_tree.resolve())
    try:
        secs = await load_collection(dsn, "big", args.resources, PAGE, FOREIGN)
        conn = await asyncpg.connect(dsn)
        # what the writer does per batch (the bulk SQL load bypasses it)
        await conn.execute("""INSERT INTO change_hours (hour, changes)
            SELECT date_trunc('hour', datetime, 'UTC'), count(*) FROM changes GROUP BY 1""")
        print(f"loaded {args.resources:,} resources of {FOREIGN} in {secs:.1f} s")
        t0 = time.perf_counter()
        await sync_sitemap_prefix(conn, server.url + "/", PAGE)
        recount = time.perf_counter() - t0
        server.start()  # its own sync finds the prefix current: nothing to do
        if old:
            old.start()
        for i in range(3):
            write(server, 1000 + i)

        print(f"p50 of {args.runs}; load average {load0:.1f}\n")
        print(f"  {'':<44} {'new':>12} {'old':>13}")
        prefix = server.url + "/"
        row("/sitemap.xml (curl)", *curl_after_write(server, "/sitemap.xml", args.runs, old))
        new_q = await timed(conn, args.runs, DOCS["plain_parts_counted"], prefix)
        old_q = await timed(conn, args.runs, OLD_SITEMAP, PAGE, prefix)
        row("  its parts query", new_q, old_q, f"{old_q / new_q:,.0f}x")

        row("/oai ListIdentifiers, first page (curl)", *curl_after_write(
            server, "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc", args.runs, old))
        new_q = await timed(conn, args.runs, "SELECT coalesce(sum(records), 0) FROM "
                            "resource_parts")
        lo, hi = datetime(1, 1, 1, tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        old_q = await timed(conn, args.runs, OLD_OAI_COUNT, lo, hi)
        row("  its completeListSize", new_q, old_q, f"{old_q / new_q:,.0f}x")
        row("/oai ListIdentifiers from=2000-01-01 (curl)", *curl_after_write(
            server, "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&from=2000-01-01",
            args.runs, old))
        capped = await timed(conn, args.runs, repository._Q["count_all"], lo, hi,
                             repository.COUNT_CAP + 1)
        row(f"  its count, capped at {repository.COUNT_CAP:,}", capped, old_q,
            f"{old_q / capped:,.1f}x")

        row("/ status page (curl)", *curl_after_write(server, "/", args.runs, old))
        new_q = await timed(conn, args.runs, NEW_STATUS)
        old_q = await timed(conn, args.runs, OLD_STATUS)
        row("  its change rate", new_q, old_q, f"{old_q / new_q:,.0f}x")
        print(f"\n  one-time recount of local_entries (base URL changed): {recount:.1f} s")
        spool, rows = await resource_dump_snapshot(dsn, data_dir)
        print(f"  Resource Dump snapshot (spooling {rows:,} manifest rows): {spool:.1f} s")
        print(f"  load average at the end {os.getloadavg()[0]:.1f}")
        await conn.close()
    finally:
        server.stop()
        if old:
            old.stop()
        await drop(args.database_url, dsn)


if __name__ == "__main__":
    asyncio.run(main())
