"""Ingest throughput: `POST /ingest` against a real server, the bulk path, and bare COPY.

Three runs side by side, each into its own freshly migrated database on the same PostgreSQL:

  http  — `headwater serve --workers W` as a separate process; C concurrent clients POST
          batches of 1,000 new records (JSON arrays, bodies prepared before the clock starts).
  bulk  — `write_batch` called directly with large batches (the path the bulk loader takes).
  copy  — the baseline: the same resource, change and set_changes rows written with
          PostgreSQL COPY in one transaction (no diffing, no validation, no HTTP).

Each prints documents/s and the change-log rows written. Without DATABASE_URL an embedded
PostgreSQL is started in a temporary folder.

    .venv/bin/python bench/ingest.py --http-records 200000 --bulk-records 200000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.connect import connect  # noqa: E402
from app.write.changeset import Doc  # noqa: E402
from app.write.writer import write_batch  # noqa: E402
from sitemaps.fixity import Fixity  # noqa: E402

TOKEN = "bench-token-" + "x" * 24
COLLECTIONS = ("bench:a", "bench:b", "bench:c:deep", "other")
LASTMOD = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def record(run: str, i: int) -> dict[str, object]:
    """A realistic record: fixity, media type, lastmod and a little Dublin Core."""
    seed = f"{run}/{i}".encode()
    return {
        "uri": f"https://example.org/{run}/docs/{i:08d}.pdf",
        "collection": COLLECTIONS[i % len(COLLECTIONS)],
        "length": 10_000 + i,
        "type": "application/pdf",
        "md5": hashlib.md5(seed).hexdigest(),
        "sha1": hashlib.sha1(seed).hexdigest(),
        "sha256": hashlib.sha256(seed).hexdigest(),
        "lastmod": "2026-01-02T03:04:05Z",
        "metadata": {"title": f"Document {i}", "creator": ["Example, A."], "language": "en"},
    }


def doc(rec: dict[str, object]) -> Doc:
    meta = {k: (v if isinstance(v, list) else [v]) for k, v in rec["metadata"].items()}  # type: ignore[union-attr]
    fixity = Fixity(*(rec[k] for k in ("length", "type", "md5", "sha1", "sha256")))  # type: ignore[arg-type]
    return Doc(uri=rec["uri"], collection=rec["collection"],  # type: ignore[arg-type]
               lastmod=LASTMOD, metadata=meta, fixity=fixity)


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def fresh_database(server_url: str, page_size: int) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_db(server_url, name)
    conn = await connect(url)
    await migrate.upgrade(conn, page_size=page_size)
    await conn.close()
    return url


async def log_rows(url: str) -> tuple[int, int, int, int]:
    """Rows in resources, changes, set_changes, and the WAL position (bytes) of the cluster."""
    conn = await asyncpg.connect(url)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM resources"),
            await conn.fetchval("SELECT count(*) FROM changes"),
            await conn.fetchval("SELECT count(*) FROM set_changes"),
            int(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")),
        )
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def tree_cpu(root: int | None) -> float:
    """CPU seconds (user + system) used so far by `root` and its live descendants.

    The machine is shared and noisy; CPU time per document is steadier than wall time, and
    says what the same work would reach on two idle cores."""
    if root is None:
        return 0.0
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    wanted, total = {root}, 0.0
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    for pid in wanted:
        if fields := _stat(pid):
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


POSTMASTER: int | None = None  # the embedded server's postmaster, when we started it


def report(label: str, docs: int, seconds: float, rows: tuple[int, ...],
           cpu: dict[str, float] | None = None) -> None:
    per_doc = "".join(f"  {k} {v / docs * 1e6:,.0f} µs" for k, v in (cpu or {}).items())
    wal = f"  WAL {rows[3] / docs:,.0f} B/doc" if len(rows) > 3 else ""
    print(f"{label:<34} {docs:>9,} docs {seconds:8.2f} s {docs / seconds:>10,.0f} docs/s   "
          f"resources {rows[0]:,}  changes {rows[1]:,}  set_changes {rows[2]:,}"
          + (f"\n{'':<34} CPU per doc:{per_doc}{wal}" if cpu else wal), flush=True)


# ---------------------------------------------------------------------------------------------
async def bench_http(url: str, args: argparse.Namespace, data_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({
        "DATABASE_URL": url, "HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_PORT": str(port),
        "HEADWATER_WRITE_TOKENS": TOKEN, "HEADWATER_PAGE_SIZE": str(args.page_size),
        "HEADWATER_LOG_LEVEL": "WARNING", "HEADWATER_WORKERS": str(args.workers),
        "HEADWATER_NOTIFIER": "external",
    })
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(ROOT / ".venv/bin/headwater"), "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            for _ in range(300):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise SystemExit("server did not become ready: see " + str(data_dir))
            run = uuid.uuid4().hex[:8]
            n, size = args.http_records, args.batch
            bodies = [orjson.dumps([record(run, i) for i in range(s, min(s + size, n))])
                      for s in range(0, n, size)]
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            # warm-up: one small batch per worker connection so start-up costs are not timed
            for w in range(args.clients):
                warm = orjson.dumps([record("warm" + run, w)])
                (await client.post("/ingest", content=warm, headers=headers)).raise_for_status()
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)

            async def worker() -> None:
                async with httpx.AsyncClient(base_url=base, timeout=120) as c:
                    while not queue.empty():
                        body = queue.get_nowait()
                        r = await c.post("/ingest", content=body, headers=headers)
                        if r.status_code != 200:
                            raise SystemExit(f"ingest failed: {r.status_code} {r.text[:500]}")

            before = await log_rows(url)
            cpu0 = (tree_cpu(proc.pid), tree_cpu(POSTMASTER), time.process_time())
            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.clients)))
            seconds = time.perf_counter() - t0
            cpu1 = (tree_cpu(proc.pid), tree_cpu(POSTMASTER), time.process_time())
            after = await log_rows(url)
            rows = tuple(a - b for a, b in zip(after, before, strict=True))
            cpu = {"server": cpu1[0] - cpu0[0], "postgres": cpu1[1] - cpu0[1],
                   "clients": cpu1[2] - cpu0[2]}
            report(f"POST /ingest x{size} ({args.clients} cl, {args.workers} wk)", n, seconds,
                   rows, cpu if POSTMASTER else None)  # type: ignore[arg-type]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        log.close()


async def bench_bulk(url: str, args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:8]
    n, size = args.bulk_records, args.bulk_batch
    batches = [[doc(record(run, i)) for i in range(s, min(s + size, n))]
               for s in range(0, n, size)]
    before = await log_rows(url)
    conn = await connect(url)
    try:
        cpu0 = (time.process_time(), tree_cpu(POSTMASTER))
        t0 = time.perf_counter()
        for batch in batches:
            await write_batch(conn, batch, page_size=args.page_size,
                              seal_after=timedelta(hours=24))
        seconds = time.perf_counter() - t0
        cpu1 = (time.process_time(), tree_cpu(POSTMASTER))
    finally:
        await conn.close()
    cpu = {"python": cpu1[0] - cpu0[0], "postgres": cpu1[1] - cpu0[1]}
    rows = tuple(a - b for a, b in zip(await log_rows(url), before, strict=True))
    report(f"write_batch x{size}", n, seconds, rows, cpu if POSTMASTER else None)


async def bench_copy(url: str, args: argparse.Namespace) -> None:
    """The same rows the bulk path writes, with COPY and counters computed up front."""
    run = uuid.uuid4().hex[:8]
    n = args.bulk_records
    conn = await asyncpg.connect(url)  # asyncpg's own jsonb codec: binary COPY, text in
    try:
        # the collections exist first, as they would after the first batch of any writer
        await write_batch(conn, [Doc(uri=f"https://example.org/{run}/seed/{c}", collection=c)
                                 for c in COLLECTIONS], page_size=args.page_size,
                          seal_after=timedelta(hours=24))
        ids = dict(await conn.fetch("SELECT name, id FROM collections"))
        head = await conn.fetchval("SELECT position FROM log_head")
        rid0 = await conn.fetchval("SELECT max(id) FROM resources")
        member = {c: 1 for c in COLLECTIONS}
        seqs = dict(await conn.fetch("SELECT id, change_seq FROM collections"))
        now = datetime.now(UTC)
        res_rows, change_rows, set_rows = [], [], []
        for i in range(n):
            rec = record(run, i)
            name = rec["collection"]
            cid, pos, rid = ids[name], head + 1 + i, rid0 + 1 + i
            when = now + timedelta(microseconds=i)
            res_rows.append((rid, rec["uri"], cid, member[name], None, rec["length"], rec["type"],
                             rec["md5"], rec["sha1"], rec["sha256"], LASTMOD, False,
                             orjson.dumps(rec["metadata"]).decode(), None, None, pos, when))
            member[name] += 1
            change_rows.append((pos, rid, cid, "created", when, rec["uri"], LASTMOD, None,
                                rec["length"], rec["type"], rec["md5"], rec["sha1"],
                                rec["sha256"]))
            parts = name.split(":")
            for k in range(len(parts), 0, -1):
                sid = ids[":".join(parts[:k])]
                set_rows.append((sid, seqs[sid], pos))
                seqs[sid] += 1
        before = await log_rows(url)
        cpu0 = (time.process_time(), tree_cpu(POSTMASTER))
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table(
                "resources", records=res_rows,
                columns=["id", "uri", "collection_id", "ord", "content_key", "length", "type",
                         "md5", "sha1", "sha256", "lastmod", "deleted", "metadata", "links",
                         "oai_identifier", "last_position", "datestamp"])
            await conn.copy_records_to_table(
                "changes", records=change_rows,
                columns=["position", "resource_id", "collection_id", "change", "datetime", "uri",
                         "lastmod", "content_key", "length", "type", "md5", "sha1", "sha256"])
            await conn.copy_records_to_table("set_changes", records=set_rows,
                                             columns=["set_id", "seq", "position"])
        seconds = time.perf_counter() - t0
        cpu1 = (time.process_time(), tree_cpu(POSTMASTER))
    finally:
        await conn.close()
    after = await log_rows(url)
    rows = tuple(a - b for a, b in zip(after, before, strict=True))
    cpu = {"python": cpu1[0] - cpu0[0], "postgres": cpu1[1] - cpu0[1]}
    report("COPY baseline (same rows)", n, seconds, rows,  # type: ignore[arg-type]
           cpu if POSTMASTER else None)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--http-records", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=1_000, help="records per POST /ingest")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    p.add_argument("--bulk-records", type=int, default=200_000)
    p.add_argument("--bulk-batch", type=int, default=10_000)
    p.add_argument("--page-size", type=int, default=50_000)
    p.add_argument("--only", choices=["http", "bulk", "copy"], action="append")
    p.add_argument("--migrations", metavar="V,V,…",
                   help="apply only these migration versions (e.g. 0001,0006), to measure what "
                        "the other migrations' triggers, generated columns and indexes cost")
    args = p.parse_args()
    if args.migrations:
        every, keep = migrate.available, set(args.migrations.split(","))
        migrate.available = lambda: [m for m in every() if m.version in keep]
    only = set(args.only or ["http", "bulk", "copy"])

    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-"))
    server = os.environ.get("DATABASE_URL")
    if not server:
        from app.db.embedded import start_embedded

        server = start_embedded(tmp / "pg", stop_at_exit=True)
        global POSTMASTER
        POSTMASTER = int((tmp / "pg" / "postgres" / "postmaster.pid").read_text().split()[0])
    print(f"PostgreSQL {server.split('@')[-1]}; migrations: "
          + ", ".join(m.version + "_" + m.name for m in migrate.available()), flush=True)
    if "http" in only:
        await bench_http(await fresh_database(server, args.page_size), args, tmp)
    if "bulk" in only:
        await bench_bulk(await fresh_database(server, args.page_size), args)
    if "copy" in only:
        await bench_copy(await fresh_database(server, args.page_size), args)


if __name__ == "__main__":
    asyncio.run(main())
