"""Notifier benchmark: commit-to-hub latency at a steady rate, and the drain rate of a
pre-committed backlog, each beside a bare baseline measured in the same run.

  latency   the notifier (`python -m app.cli notifier`, its own process, default batch/window) while
            this process commits RATE changes/s in small transactions for SECONDS; latency
            of a change = arrival at the hub of the first notification holding it − its
            datetime in the log (assigned just before commit). p50/p99/max.
  drain     BACKLOG changes committed before the notifier starts; changes/s from its start
            until its cursor reaches the head, for each --batch.
  baseline  the floor for both: a bare loop in this process that LISTENs, reads by keyset and
            POSTs one body per read (pre-rendered `url_xml` joined, one channel, no cursor
            commit, no window), against the same hub.

The hub is `tests.support.recording_hub` (asyncio) in its own process, answering 204.
Without DATABASE_URL an embedded PostgreSQL is started in a temporary folder.

    .venv/bin/python bench/notify.py --rate 1000 --seconds 20 --backlog 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import signal
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.connect import connect  # noqa: E402
from app.write.changeset import Doc  # noqa: E402
from app.write.writer import write_batch  # noqa: E402
from sitemaps.fixity import Fixity  # noqa: E402

PAGE_SIZE = 50_000
BASE = "http://127.0.0.1:8000"


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def fresh_database(server_url: str) -> str:
    name = f"bench_notify_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_db(server_url, name)
    conn = await connect(url)
    await migrate.upgrade(conn, page_size=PAGE_SIZE)
    await conn.close()
    return url


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_notifier(url: str, hub: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": url, "HEADWATER_HUB_URL": hub, "HEADWATER_BASE_URL": BASE,
                "HEADWATER_PAGE_SIZE": str(PAGE_SIZE), "HEADWATER_LOG_LEVEL": "WARNING",
                "HEADWATER_DATA_DIR": str(log.parent), **extra})
    return subprocess.Popen([sys.executable, "-m", "app.cli", "notifier"], env=env, cwd=ROOT,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class HubProcess:
    """`python -m tests.support.recording_hub` in its own process, so the receiving side never
    competes with this process (writer, baseline) for the GIL."""

    def __init__(self, work: Path, name: str, stamps: bool):
        self.port, self.log = free_port(), work / f"hub-{name}.tsv"
        self.url = f"http://127.0.0.1:{self.port}/hub"
        args = [str(self.port), str(self.log)] + (["stamps"] if stamps else [])
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.recording_hub", *args],
                                     cwd=ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(self.url, content=b"", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "hub did not start"
                time.sleep(0.05)

    def stop(self) -> list[tuple[float, str, int, list[str]]]:
        """Stop; (arrival, topic, bytes, datetimes) per request, the start-up probe left out."""
        stop(self.proc)
        out = []
        for line in self.log.read_text().splitlines():
            at, topic, size, stamps = line.split("\t")
            if int(size):
                out.append((float(at), topic, int(size), stamps.split()))
        return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latencies(received: list[tuple[float, str, int, list[str]]]) -> list[float]:
    """Per change (by its datetime): first arrival at the hub − its datetime, in ms."""
    first: dict[str, float] = {}
    for at, _, _, stamps in received:
        for stamp in stamps:
            first.setdefault(stamp, at)
    out = []
    for stamp, at in first.items():
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        out.append((at - when.timestamp()) * 1000)
    return out


async def steady_writes(url: str, rate: int, seconds: float, per_commit: int,
                        tag: str) -> int:
    """Commit `rate` changes/s as transactions of `per_commit`, paced by the clock."""
    conn = await connect(url)
    sent, start = 0, time.monotonic()
    total = int(rate * seconds)
    try:
        while sent < total:
            due = start + sent / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            docs = [Doc(uri=f"https://example.org/{tag}/{sent + i}", collection="bench:a",
                        fixity=Fixity(sent + i, "application/pdf", md5="0" * 32))
                    for i in range(per_commit)]
            await write_batch(conn, docs, page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
            sent += per_commit
    finally:
        await conn.close()
    return sent


async def head(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT position FROM log_head")
    finally:
        await conn.close()


async def wait_cursor(url: str, hub: str, target: int, timeout: float) -> float:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            pos = await conn.fetchval(
                "SELECT position FROM notifier_cursors WHERE hub = $1", hub) or 0
            if pos >= target:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"cursor at {pos} of {target}")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def baseline_loop(url: str, hub: str, stop_at: int, batch: int) -> None:
    """The floor: LISTEN, read by keyset, POST the pre-rendered entries, nothing else."""
    conn = await asyncpg.connect(url)
    wake = asyncio.Event()
    await conn.add_listener("headwater_changes", lambda *_: wake.set())
    cursor = 0
    async with httpx.AsyncClient() as http:
        while cursor < stop_at:
            wake.clear()
            rows = await conn.fetch("SELECT position, url_xml FROM changes WHERE position > $1 "
                                    "ORDER BY position LIMIT $2", cursor, batch)
            if not rows:
                try:
                    await asyncio.wait_for(wake.wait(), 1)
                except TimeoutError:
                    pass
                continue
            body = "".join(["<urlset>", *(r["url_xml"] for r in rows), "</urlset>"]).encode()
            r = await http.post(hub, content=body, headers={"Content-Type": "application/xml"})
            r.raise_for_status()
            cursor = rows[-1]["position"]
    await conn.close()


async def make_backlog(url: str, count: int) -> int:
    """`count` 'updated' changes over 1,000 resources, appended by SQL in one transaction."""
    conn = await connect(url)
    try:
        await write_batch(conn, [Doc(uri=f"https://example.org/backlog/{i}", collection="bench:b",
                                     fixity=Fixity(i, "application/pdf", md5="1" * 32))
                                 for i in range(1000)],
                          page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
        async with conn.transaction():
            h = await conn.fetchrow("SELECT position, datetime FROM log_head")
            await conn.execute("""
                INSERT INTO changes (position, resource_id, collection_id, change, datetime, uri,
                                     lastmod, length, type, md5)
                SELECT $1::bigint + g, r.id, r.collection_id, 'updated',
                       $2::timestamptz + g * interval '1 microsecond', r.uri, r.lastmod, g,
                       r.type, r.md5
                FROM generate_series(1, $3) AS g
                JOIN resources r ON r.ord = g % 1000
                    AND r.collection_id = (SELECT id FROM collections WHERE name = 'bench:b')
                """, h["position"], h["datetime"], count)
            await conn.execute("UPDATE log_head SET position = $1, datetime = $2",
                               h["position"] + count,
                               h["datetime"] + timedelta(microseconds=count))
        # set hint bits and the visibility map now, so neither contender pays for it
        await conn.execute("VACUUM (ANALYZE) changes")
        return h["position"] + count
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> None:
    server = os.environ.get("DATABASE_URL")
    if not server:
        from app.db.embedded import start_embedded

        folder = Path(tempfile.mkdtemp(prefix="hw-bench-notify-"))
        # atexit runs last-registered first: the cluster stops, then its folder goes
        atexit.register(shutil.rmtree, folder, True)
        server = start_embedded(folder)
    work = Path(tempfile.mkdtemp(prefix="hw-bench-notify-logs-"))
    print(f"notifier benchmark: {os.cpu_count()} cores; figures are noisy on a shared machine;"
          f" logs in {work}")

    # --- latency at a steady rate -------------------------------------------------------
    if args.seconds > 0:
        for label in ("notifier", "baseline"):
            url = await fresh_database(server)
            hub = HubProcess(work, f"latency-{label}", stamps=True)
            total = int(args.rate * args.seconds)
            if label == "notifier":
                extra = {"HEADWATER_NOTIFY_WINDOW": args.window} if args.window else {}
                proc = start_notifier(url, hub.url, work / "latency.log", **extra)
                await asyncio.sleep(3)  # started and listening
                await steady_writes(url, args.rate, args.seconds, args.per_commit, label)
                await wait_cursor(url, hub.url, total, 60)
                stop(proc)
            else:
                loop = asyncio.create_task(baseline_loop(url, hub.url, total, 1000))
                await asyncio.sleep(0.5)
                await steady_writes(url, args.rate, args.seconds, args.per_commit, label)
                await asyncio.wait_for(loop, 60)
            received = hub.stop()
            ms = latencies(received)
            print(f"latency {label:9s} {args.rate}/s for {args.seconds:g}s "
                  f"({args.per_commit} per commit): n={len(ms)} p50={pct(ms, 50):.1f} ms "
                  f"p99={pct(ms, 99):.1f} ms max={max(ms):.1f} ms "
                  f"notifications={len(received)}")

    # --- drain of a pre-committed backlog ---------------------------------------------
    if args.backlog > 0:
        url = await fresh_database(server)
        t0 = time.monotonic()
        target = await make_backlog(url, args.backlog)
        print(f"backlog: {target} changes committed in {time.monotonic() - t0:.1f}s")
        for batch in args.batch:
            conn = await asyncpg.connect(url)
            await conn.execute("DELETE FROM notifier_channels")
            await conn.execute("DELETE FROM notifier_cursors")
            await conn.close()
            hub = HubProcess(work, f"drain-{batch}", stamps=False)
            start = time.monotonic()
            proc = start_notifier(url, hub.url, work / f"drain-{batch}.log",
                                  HEADWATER_NOTIFY_BATCH=str(batch))
            done = await wait_cursor(url, hub.url, target, args.timeout)
            done_wall = time.time()
            stop(proc)
            received = hub.stop()
            # from the first arrival: leaves out the process start-up (imports, connecting)
            since_first = done_wall - min(at for at, *_ in received)
            mb = sum(size for _, _, size, _ in received) / 1e6
            print(f"drain notifier batch={batch}: {target / (done - start):,.0f}/s incl. "
                  f"start-up, {target / since_first:,.0f}/s from the first notification "
                  f"({len(received)} notifications, {mb:,.0f} MB)")
        for batch in args.batch:
            hub = HubProcess(work, f"baseline-{batch}", stamps=False)
            start = time.monotonic()
            await baseline_loop(url, hub.url, target, batch)
            elapsed = time.monotonic() - start
            hub.stop()
            print(f"drain baseline batch={batch}: {target / elapsed:,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="changes/s for the latency run")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--per-commit", type=int, default=10, help="changes per transaction")
    parser.add_argument("--window", help="HEADWATER_NOTIFY_WINDOW for the latency run "
                        "(default: the setting's default, 50ms)")
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--timeout", type=float, default=600)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
