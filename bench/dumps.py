"""Resource Dump build throughput and peak memory vs `zip -0` and `cp` over the same files.

    .venv/bin/python bench/dumps.py --gb 1.1 --rounds 2

Puts N files of mixed sizes (64 KiB to 4 MiB, random bytes: incompressible, as archived content
mostly is) straight into a content store and records them as local resources of one collection,
then, in each round and side by side:
  - `cp -r` of the store folder (the floor: read + write, no ZIP; in-kernel copy_file_range),
  - `cp -r` then `sync -f` (the same made durable: the builder fsyncs every package),
  - `zip -0 -q -r` of the store folder (Debian `zip`, the baseline docs/rules.md §11 names),
  - `headwater dumps build --collection bench --force` (the command an operator runs: manifest
    pass with md5 + CRC-32, stored ZIP64 packages of 100 MB, fsync and rename of each).
Every tool reads a page-cache-warm store. MB/s = content bytes / wall time. CPU = user + system
seconds of the child (wait4): on a shared 2-core machine wall time swings with other load, CPU
time much less. The builder's peak memory is the child's maximum RSS, imports included.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.connect import connect  # noqa: E402
from app.db.embedded import start_embedded  # noqa: E402
from app.write.changeset import Doc  # noqa: E402
from app.write.writer import write_batch  # noqa: E402
from sitemaps.fixity import Fixity  # noqa: E402

BASE = "http://127.0.0.1:8000"
PAGE = 50_000


def make_files(store: Path, total: int, seed: int = 7) -> list[tuple[str, int, str]]:
    """Random files into the store layout until `total` bytes; [(key, length, md5)]."""
    rng = random.Random(seed)
    out, written = [], 0
    block = os.urandom(4 * 1024 * 1024 + 4096)
    while written < total:
        n = rng.randint(64 * 1024, 4 * 1024 * 1024)
        start = rng.randint(0, 4096)
        data = block[start:start + n - 16] + os.urandom(16)  # unique per file
        key = hashlib.sha256(data).hexdigest()
        path = store / key[:2] / key[2:4] / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out.append((key, len(data), hashlib.md5(data).hexdigest()))
        written += len(data)
    return out


async def record(dsn: str, files: list[tuple[str, int, str]]) -> None:
    conn = await connect(dsn)
    try:
        await migrate.upgrade(conn, page_size=PAGE)
        docs = [Doc(uri=f"{BASE}/content/bench/f{i}.bin", collection="bench", content_key=key,
                    fixity=Fixity(n, "application/octet-stream", md5=md5, sha256=key))
                for i, (key, n, md5) in enumerate(files)]
        for lo in range(0, len(docs), 5_000):
            await write_batch(conn, docs[lo:lo + 5_000], page_size=PAGE,
                              seal_after=__import__("datetime").timedelta(hours=24))
    finally:
        await conn.close()


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
          ) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds (user + system) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.1, help="content to dump, in GB (10^9)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    if not shutil.which("zip"):
        raise SystemExit("zip not found: apt-get install -y zip")

    work = Path(tempfile.mkdtemp(prefix="hw-bench-dumps-"))
    data = work / "data"
    store = data / "content"
    dsn = os.environ.get("DATABASE_URL") or start_embedded(work / "pg", stop_at_exit=True)
    print(f"work folder {work}", flush=True)
    t = time.perf_counter()
    files = make_files(store, int(args.gb * 1e9))
    total = sum(n for _, n, _ in files)
    asyncio.run(record(dsn, files))
    print(f"{len(files)} files, {total / 1e6:,.0f} MB prepared in {time.perf_counter() - t:.1f}s")

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": dsn, "HEADWATER_DATA_DIR": str(data),
                "HEADWATER_BASE_URL": BASE, "HEADWATER_PAGE_SIZE": str(PAGE),
                "HEADWATER_LOG_LEVEL": "WARNING"})
    headwater = str(Path(sys.executable).parent / "headwater")
    subprocess.run(["cat", *map(str, store.rglob("*"))], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # warm the page cache for every contender

    rows = []
    for r in range(args.rounds):
        shutil.rmtree(work / "copy", ignore_errors=True)
        (work / "out.zip").unlink(missing_ok=True)
        cp_s, _, cp_cpu = timed(["cp", "-r", str(store), str(work / "copy")])
        shutil.rmtree(work / "copy", ignore_errors=True)
        subprocess.run(["sync", "-f", str(work)], check=True)
        sync_s, _, _ = timed(["sh", "-c",
                              f'cp -r "{store}" "{work / "copy"}" && sync -f "{work}"'])
        zip_s, _, zip_cpu = timed(["zip", "-0", "-q", "-r", str(work / "out.zip"), "."],
                                  cwd=store)
        hw_s, rss, hw_cpu = timed(
            [headwater, "dumps", "build", "--collection", "bench", "--force"], env=env)
        rows.append((r, cp_s, zip_s, hw_s, rss))
        mb = total / 1e6
        print(f"round {r}: cp {mb / cp_s:5.0f} MB/s ({cp_s:.2f}s) | "
              f"cp+sync {mb / sync_s:5.0f} MB/s ({sync_s:.2f}s) | zip -0 {mb / zip_s:5.0f} MB/s "
              f"({zip_s:.2f}s) | headwater dumps build {mb / hw_s:7.0f} MB/s ({hw_s:.2f}s), "
              f"peak RSS {rss / 1024:.0f} MiB | builder/zip time {hw_s / zip_s:.2f}x, "
              f"builder/cp time {hw_s / cp_s:.2f}x, builder/cp+sync time {hw_s / sync_s:.2f}x",
              flush=True)
        packages = list((data / "dumps").rglob("*.zip"))
        print(f"         CPU seconds: cp {cp_cpu:.2f} | zip -0 {zip_cpu:.2f} | builder "
              f"{hw_cpu:.2f} (builder/zip CPU {hw_cpu / zip_cpu:.2f}x)", flush=True)
        print(f"         {len(packages)} packages, "
              f"{sum(p.stat().st_size for p in packages) / 1e6:,.0f} MB on disk", flush=True)
    ratios = sorted(x[3] / x[2] for x in rows)
    speeds = sorted(total / 1e6 / x[3] for x in rows)
    print(f"median: builder {speeds[len(speeds) // 2]:.0f} MB/s, builder/zip -0 time "
          f"{ratios[len(ratios) // 2]:.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)}), "
          f"peak RSS {max(x[4] for x in rows) / 1024:.0f} MiB")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
