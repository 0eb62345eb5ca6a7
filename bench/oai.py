"""OAI-PMH ListRecords at depth: keyset tokens against LIMIT/OFFSET, on 1,000,000+ records.

Side by side in one run, on one freshly built database:

  http   — a real server (uvicorn, one worker) timed with `curl -w '%{time_total}'`:
           page 1 (no token: includes the one-off count(*) for completeListSize), page 2 (the
           first token page) and a page ≥ 500 deep (a token for that keyset, as a harvester
           would hold after walking there), plus the same for a parent set (`collection:bench`,
           three leaves merged) — median and p90 of R requests each.
  sql    — the page query itself, keyset `(datestamp, id) > (…)` against `OFFSET k*500 LIMIT
           500`, at pages 1, 600 and 2,000 (asyncpg, same connection, median of R).
  walk   — a harvest that follows the tokens with curl for H records: records/s (a bounded
           part of the full list; the full harvest is extrapolated from it and said so).

The records are generated in SQL (`INSERT … SELECT generate_series`) into resources, changes,
set_changes and log_head, consistent with the schema (one `created` change each, 1% deleted).
Without DATABASE_URL an embedded PostgreSQL is started in a temporary folder.

    .venv/bin/python bench/oai.py --records 1000000 --deep-page 600 --repeat 21 --walk 200000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.connect import connect  # noqa: E402
from app.oai import tokens  # noqa: E402
from app.oai.repository import to_micros  # noqa: E402
from app.oai.secret import load_secret  # noqa: E402

PAGE = 500
SECRET = "bench-secret-key"
CHUNK = 100_000

GENERATE = """
INSERT INTO resources (uri, collection_id, ord, length, type, md5, sha1, sha256, lastmod,
                       deleted, metadata, last_position, datestamp)
SELECT 'https://' || (ARRAY['www.example.org','data.example.org','www.webarchiv.cz'])[1 + i % 3]
           || '/docs/' || lpad(i::text, 8, '0') || '.pdf',
       ($3::integer[])[1 + i % 4], i / 4, 10000 + i,
       (ARRAY['application/pdf','text/html'])[1 + i % 2],
       md5(i::text), md5('s' || i) || substr(md5('t' || i), 1, 8),
       encode(sha256(i::text::bytea), 'hex'),
       '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 millisecond',
       i % 100 = 50,
       jsonb_build_object('title', jsonb_build_array('Document ' || i),
                          'creator', jsonb_build_array('Example, A.', 'Příklad, B.'),
                          'subject', jsonb_build_array('benchmarks'),
                          'language', jsonb_build_array('en')),
       i + 1,
       '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 millisecond'
FROM generate_series($1::bigint, $2::bigint - 1) AS i
"""

CHANGES = """
INSERT INTO changes (position, resource_id, collection_id, change, datetime, uri, lastmod,
                     length, type, md5, sha1, sha256)
SELECT last_position, id, collection_id, CASE WHEN deleted THEN 'deleted' ELSE 'created' END,
       datestamp, uri, lastmod, length, type, md5, sha1, sha256
FROM resources WHERE last_position > $1 AND last_position <= $2
"""

SET_CHANGES = """
INSERT INTO set_changes (set_id, seq, position)
SELECT set_id, row_number() OVER (PARTITION BY set_id ORDER BY position) - 1, position
FROM (SELECT collection_id AS set_id, position FROM changes
      UNION ALL
      SELECT p.parent_id, c.position FROM changes c JOIN collections p ON p.id = c.collection_id
      WHERE p.parent_id IS NOT NULL) s
"""

# The same page the server reads for ListRecords, cut by OFFSET instead of a keyset.
OFFSET_PAGE = """
SELECT r.id, r.uri, r.oai_identifier, r.datestamp, r.deleted, c.name AS collection, r.oai_domain,
       r.oai_mime, r.lastmod, r.length, r.type, r.md5, r.sha1, r.sha256, r.metadata, r.links
FROM (SELECT * FROM resources ORDER BY datestamp, id OFFSET $1 LIMIT $2) r
JOIN collections c ON c.id = r.collection_id
ORDER BY r.datestamp, r.id
"""


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def build(server_url: str, records: int) -> str:
    name = f"hw_bench_oai_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_db(server_url, name)
    conn = await connect(url)
    try:
        await migrate.upgrade(conn, page_size=50_000)
        await conn.execute(
            "INSERT INTO collections (name, parent_id, depth) VALUES ('bench', NULL, 0), "
            "('other', NULL, 0)")
        await conn.execute(
            "INSERT INTO collections (name, parent_id, depth) SELECT n, "
            "(SELECT id FROM collections WHERE name = 'bench'), 1 "
            "FROM unnest(ARRAY['bench:a','bench:b','bench:c']) n")
        ids = [await conn.fetchval("SELECT id FROM collections WHERE name = $1", n)
               for n in ("bench:a", "bench:b", "bench:c", "other")]
        started = time.perf_counter()
        for start in range(0, records, CHUNK):
            end = min(records, start + CHUNK)
            async with conn.transaction():
                await conn.execute(GENERATE, start, end, ids)
                await conn.execute(CHANGES, start, end)
            print(f"  generated {end:,} records ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr)
        await conn.execute(SET_CHANGES)
        await conn.execute(
            "UPDATE collections c SET member_seq = s.n, change_seq = s.n FROM "
            "(SELECT collection_id, count(*) AS n FROM resources GROUP BY 1) s "
            "WHERE s.collection_id = c.id")
        await conn.execute(
            "UPDATE collections c SET change_seq = s.n FROM (SELECT set_id, count(*) AS n "
            "FROM set_changes GROUP BY 1) s WHERE s.set_id = c.id")
        await conn.execute("UPDATE log_head SET position = $1, datetime = "
                           "(SELECT max(datetime) FROM changes)", records)
        await conn.execute("VACUUM (ANALYZE) resources")
        await conn.execute("ANALYZE")
        print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    finally:
        await conn.close()
    return url


def curl(url: str) -> tuple[float, bytes]:
    out = subprocess.run(["curl", "-s", "-w", "\n%{time_total} %{http_code}", url],
                         capture_output=True, check=True).stdout
    body, _, tail = out.rpartition(b"\n")
    seconds, code = tail.split()
    if code != b"200":
        raise RuntimeError(f"{url}: HTTP {code.decode()}")
    return float(seconds), body


def summary(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return f"median {statistics.median(values) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


async def keyset_at(conn: asyncpg.Connection, page: int, where: str = "") -> tuple[int, int]:
    """The (datestamp, id) of the last record before `page` (1-based): what a token holds."""
    row = await conn.fetchrow(
        f"SELECT datestamp, id FROM resources {where} ORDER BY datestamp, id OFFSET $1 LIMIT 1",
        (page - 1) * PAGE - 1)
    return to_micros(row["datestamp"]), row["id"]


def token_for(key: bytes, page: int, keyset: tuple[int, int], total: int,
              set_spec: str | None = None) -> str:
    return tokens.encode(tokens.Token(
        verb="ListRecords", expires=int(time.time()) + 86_400, cursor=(page - 1) * PAGE,
        total=total, prefix="oai_dc", set=set_spec, after_ts=keyset[0], after_id=keyset[1]),
        key)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--deep-page", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--walk", type=int, default=200_000)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="hw-bench-oai-"))
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        from app.db.embedded import start_embedded
        server_url = start_embedded(data_dir / "pg", stop_at_exit=True)
    print(f"building {args.records:,} records …", file=sys.stderr)
    url = await build(server_url, args.records)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url, "HEADWATER_DATA_DIR": str(data_dir / "app"),
           "HEADWATER_BASE_URL": base, "HEADWATER_PAGE_SIZE": "50000",
           "HEADWATER_SECRET_KEY": SECRET, "HEADWATER_OAI_PAGE_SIZE": str(PAGE),
           "HEADWATER_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level",
                             "warning", "--no-access-log"], env=env, cwd=ROOT)
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        conn = await connect(url)
        key = load_secret(SECRET, data_dir)
        total = await conn.fetchval("SELECT count(*) FROM resources")
        bench_ids = await conn.fetchval(
            "SELECT array_agg(id) FROM collections WHERE name LIKE 'bench:%'")
        in_bench = f"WHERE collection_id = ANY('{{{','.join(map(str, bench_ids))}}}')"
        set_total = await conn.fetchval(f"SELECT count(*) FROM resources {in_bench}")
        deep = args.deep_page
        oai = f"{base}/oai?verb=ListRecords"
        targets = {
            "page 1 (no token; counts completeListSize)": f"{oai}&metadataPrefix=oai_dc",
            "page 2 (token)": f"{oai}&resumptionToken="
            + quote(token_for(key, 2, await keyset_at(conn, 2), total)),
            f"page {deep} (token)": f"{oai}&resumptionToken="
            + quote(token_for(key, deep, await keyset_at(conn, deep), total)),
            f"page {deep * 3} (token)": f"{oai}&resumptionToken="
            + quote(token_for(key, deep * 3, await keyset_at(conn, deep * 3), total)),
            "set collection:bench page 2": f"{oai}&resumptionToken=" + quote(token_for(
                key, 2, await keyset_at(conn, 2, in_bench), set_total, "collection:bench")),
            f"set collection:bench page {deep}": f"{oai}&resumptionToken=" + quote(token_for(
                key, deep, await keyset_at(conn, deep, in_bench), set_total,
                "collection:bench")),
        }
        for target in targets.values():  # warm: the first request of each pays for caches
            _, body = curl(target)
            assert b"<record>" in body, body[:500]
        times: dict[str, list[float]] = {k: [] for k in targets}
        for _ in range(args.repeat):  # interleaved, so noise falls on every target alike
            for label, target in targets.items():
                times[label].append(curl(target)[0])
        sizes = {k: len(curl(t)[1]) for k, t in targets.items()}
        print(f"\nListRecords over HTTP, {total:,} records, {PAGE} per page, curl, "
              f"{args.repeat} requests each")
        for label in targets:
            print(f"  {label:<46} {summary(times[label])}   {sizes[label] / 1e6:.2f} MB")
        med = {k: statistics.median(v) for k, v in times.items()}
        shallow, set_shallow = med["page 2 (token)"], med["set collection:bench page 2"]
        print(f"  deep/page-2 ratio (page {deep}): {med[f'page {deep} (token)'] / shallow:.2f}"
              f"   (page {deep * 3}): {med[f'page {deep * 3} (token)'] / shallow:.2f}"
              f"   set: {med[f'set collection:bench page {deep}'] / set_shallow:.2f}")

        from app.db.queries import load_queries
        page_all = load_queries("app.oai", "sql/oai.sql")["page_all"]
        print(f"\nThe page query in SQL (asyncpg), median of {args.repeat}")
        for page in (1, deep, 2000):
            if (page - 1) * PAGE >= total:
                continue
            if page == 1:
                ks = (None, -1)
            else:
                ks = await keyset_at(conn, page)
            from app.oai.repository import EPOCH, from_micros
            after = EPOCH.replace(year=1) if ks[0] is None else from_micros(ks[0])
            until = EPOCH.replace(year=9999)
            key_t, off_t = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                a = await conn.fetch(page_all, after, ks[1], until, PAGE + 1)
                key_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                b = await conn.fetch(OFFSET_PAGE, (page - 1) * PAGE, PAGE)
                off_t.append(time.perf_counter() - t)
            assert [r["id"] for r in a[:PAGE]] == [r["id"] for r in b]
            print(f"  page {page:>5}: keyset {summary(key_t)}   OFFSET {summary(off_t)}")
        count_t = []
        for _ in range(5):
            t = time.perf_counter()
            await conn.fetchval("SELECT count(*) FROM resources")
            count_t.append(time.perf_counter() - t)
        print(f"  count(*) for completeListSize (once per harvest): {summary(count_t)}")
        await conn.close()

        print(f"\nHarvest walk: ListRecords following tokens with curl, {args.walk:,} records")
        started, seen, target = time.perf_counter(), 0, f"{oai}&metadataPrefix=oai_dc"
        while seen < args.walk:
            _, body = curl(target)
            seen += body.count(b"<record>")
            match = re.search(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>", body)
            if not match:
                break
            target = f"{oai}&resumptionToken=" + quote(match.group(1).decode())
        elapsed = time.perf_counter() - started
        print(f"  {seen:,} records in {elapsed:.1f} s: {seen / elapsed:,.0f} records/s; "
              f"the full {total:,} at that rate: {total / (seen / elapsed):.0f} s (extrapolated)")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
