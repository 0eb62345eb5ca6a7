"""Sitemap serving, side by side with nginx and the `resync` library, timed with curl.

    (a) a fresh 50,000-URL Resource List page (md5, sha-256, length, type on every entry):
        one resource of the page is updated through `POST /ingest` just before each timed
        request, and the body is checked to show the update; p50 of --runs
    (b) a sealed 50,000-entry Change List page, identity and gzip (first request renders it
        once; the timed ones are served from its files)
    (c) the floor: nginx serving the same bytes as static files
    (d) the `resync` library building the same Resource List from the same rows in memory
    (e) URLs/s for a full enumeration (index and every part, one curl each, sequential) of a
        100,000- and a 1,000,000-resource collection, with the server's peak RSS (VmHWM; the
        server is restarted before each size) and nginx serving the same parts

Data is loaded with SQL in bulk (bench/sitemaps_support.py) into an embedded PostgreSQL in a
temporary folder (or DATABASE_URL's server, into a new database). Figures are noisy: the machine
has 2 cores and other work runs on it.

    .venv/bin/python bench/sitemaps.py                # all of it, about 5 minutes
    .venv/bin/python bench/sitemaps.py --big 0        # skip the 1,000,000 enumeration
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.read.queries import (  # noqa: E402
    CHUNK,
    PLAN_SETTINGS,
    Q,
)
from bench.sitemaps_support import (  # noqa: E402
    TOKEN,
    Nginx,
    Server,
    curl,
    load_collection,
    scratch_database,
)

PAGE = 50_000
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def p50(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def line(label: str, ms: float, base: float | None = None) -> None:
    ratio = f"   {ms / base:6.2f}x nginx" if base else ""
    print(f"  {label:<52} {ms:8.1f} ms{ratio}")


def fresh_write(server: Server, i: int, run: int) -> str:
    """Update resource i of `fresh` (new md5) through the ingest path; return the new md5."""
    md5 = hashlib.md5(f"run {run}".encode()).hexdigest()
    uri = f"{server.url}/content/fresh/items/{i:08d}.pdf"
    rec = {"uri": uri, "collection": "fresh", "md5": md5, "length": 10_000 + i,
           "type": "application/pdf"}
    r = httpx.post(f"{server.url}/ingest", json=[rec], timeout=30,
                   headers={"Authorization": f"Bearer {TOKEN}"})
    r.raise_for_status()
    return md5


def resync_build(rows: list[asyncpg.Record], at: datetime) -> tuple[float, int]:
    from resync import Resource, ResourceList
    start = time.perf_counter()
    rl = ResourceList()
    rl.md_at = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for r in rows:
        rl.add(Resource(uri=r["uri"], lastmod=r["lastmod"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        md5=r["md5"], sha256=r["sha256"], length=r["length"],
                        mime_type=r["type"]))
    xml = rl.as_xml()
    return time.perf_counter() - start, len(xml)


def enumerate_collection(server: Server, nginx: Nginx, name: str, out: Path
                         ) -> tuple[int, float, float, int]:
    """(urls, seconds via server, seconds via nginx, parts) for index + every part."""
    index_file = out / f"{name}-index.xml"
    total = curl(f"{server.url}/resourcesync/{name}/resourcelist.xml", index_file)
    parts = [e.text for e in etree.parse(str(index_file)).getroot().iter(f"{SM}loc")]
    urls = 0
    static = [nginx.publish(f"{name}-index.xml", index_file.read_bytes())]
    for k, part in enumerate(parts):
        f = out / f"{name}-part.xml"
        total += curl(part, f)
        data = f.read_bytes()
        urls += data.count(b"<url>")
        static.append(nginx.publish(f"{name}-{k}.xml", data))
    floor = sum(curl(u) for u in static)
    return urls, total, floor, len(parts)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    load0 = os.getloadavg()[0]

    work = Path(tempfile.mkdtemp(prefix="hw-bench-sitemaps-"))
    dsn = await scratch_database(args.database_url, work, "sitemaps", PAGE)
    data_dir = work / "data"
    data_dir.mkdir()
    server = Server(dsn, data_dir, PAGE)
    base = server.url
    print(f"loading: fresh {PAGE:,}, sealed {PAGE:,}, {args.small:,}"
          + (f", {args.big:,}" if args.big else "") + " resources")
    for name, n in (("fresh", PAGE), ("sealed", PAGE), ("small", args.small),
                    ("big", args.big)):
        if n:
            secs = await load_collection(dsn, name, n, PAGE, base)
            print(f"  {name:<8} {n:>9,} rows in {secs:6.1f} s")

    nginx = Nginx()
    nginx.start()
    server.start()
    out = work / "out"
    out.mkdir()
    try:
        # (a) fresh Resource List page, and (c) nginx with the same bytes
        url = f"{base}/resourcesync/fresh/resourcelist.xml"
        curl(url)  # warm the connection pool and the plan cache
        fresh, body = [], out / "fresh.xml"
        for run in range(args.runs):
            md5 = fresh_write(server, (run * 7919) % PAGE, run)
            fresh.append(curl(url, body))
            data = body.read_bytes()
            assert f"md5:{md5}".encode() in data, "the timed page does not show the write"
        size = len(data)
        assert data.count(b"<url>") == PAGE
        static = nginx.publish("fresh.xml", data)
        floor_a = [curl(static, out / "n.xml") for _ in range(args.runs)]

        # (b) sealed Change List page: page 0 of `sealed` (50,000 changes: full, so sealed)
        page = f"{base}/resourcesync/sealed/changelist/0.xml"
        t_render = curl(page, out / "page.xml")
        page_bytes = (out / "page.xml").read_bytes()
        curl(page, out / "page.xml.gz", gzip=True)
        page_gz = (out / "page.xml.gz").read_bytes()
        sealed_id = [curl(page, out / "p.xml") for _ in range(args.runs)]
        sealed_gz = [curl(page, out / "p.gz", gzip=True) for _ in range(args.runs)]
        s_id = nginx.publish("page.xml", page_bytes)
        s_gz = nginx.publish("page.xml.gz", page_gz)
        floor_b = [curl(s_id, out / "n.xml") for _ in range(args.runs)]
        floor_bgz = [curl(s_gz, out / "n.gz") for _ in range(args.runs)]

        # (d) the resync library, same rows, in memory
        conn = await asyncpg.connect(dsn)
        rows = await conn.fetch(
            "SELECT uri, lastmod, md5, sha256, length, type FROM resources r "
            "JOIN collections c ON c.id = r.collection_id WHERE c.name = 'fresh' ORDER BY ord")
        at = await conn.fetchval("SELECT datetime FROM log_head")
        cid = await conn.fetchval("SELECT id FROM collections WHERE name = 'fresh'")
        db_only = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute(PLAN_SETTINGS)  # as the server reads it
                for lo in range(0, PAGE, CHUNK):
                    await conn.fetchval(Q["resource_chunk"], cid, lo, lo + CHUNK)
            db_only.append(time.perf_counter() - t0)
        await conn.close()
        lib_s, lib_bytes = resync_build(list(rows), at)

        a, c = p50(fresh), p50(floor_a)
        print(f"\n(a) fresh Resource List page: {PAGE:,} URLs, {size / 1e6:.1f} MB, "
              f"p50 of {args.runs} (a write to the collection before each)")
        line("headwater GET resourcelist.xml (built per request)", a, c)
        line("(c) nginx, same bytes, static file", c)
        print(f"    all runs (ms): {', '.join(f'{x * 1000:.0f}' for x in fresh)}")
        line("  of which PostgreSQL reading the fragments (no HTTP)", p50(db_only))
        print(f"\n(b) sealed Change List page: {PAGE:,} entries, {len(page_bytes) / 1e6:.1f} MB "
              f"identity, {len(page_gz) / 1e6:.2f} MB gzip (first request rendered it once "
              f"in {t_render * 1000:.0f} ms)")
        line("headwater identity", p50(sealed_id), p50(floor_b))
        line("(c) nginx identity, same bytes", p50(floor_b))
        line("headwater gzip (stored copy)", p50(sealed_gz), p50(floor_bgz))
        line("(c) nginx, the same .gz bytes as a static file", p50(floor_bgz))
        print(f"\n(d) resync library building the same Resource List in memory: "
              f"{lib_s * 1000:.0f} ms ({lib_bytes / 1e6:.1f} MB); headwater (a) is "
              f"{lib_s * 1000 / a:.0f}x faster")

        # (e) full enumeration, restarting the server before each size for a clean peak RSS
        print("\n(e) full enumeration: index + every part, sequential curl")
        for name, n in (("small", args.small), ("big", args.big)):
            if not n:
                continue
            server.stop()
            server.start()
            rss0 = server.peak_rss_mb()
            urls, secs, floor, parts = enumerate_collection(server, nginx, name, out)
            assert urls == n, (urls, n)
            print(f"  {n:>9,} resources, {parts} parts: {urls / secs:>9,.0f} URLs/s "
                  f"({secs:.2f} s); nginx same files {urls / floor:>10,.0f} URLs/s "
                  f"({floor:.2f} s); server peak RSS {server.peak_rss_mb():.0f} MB "
                  f"(at start {rss0:.0f} MB)")
    finally:
        server.stop()
        nginx.stop()
    print(f"\nrun at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; load "
          f"average at start {load0:.1f}, at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
