"""Garbage collection pass over a content store vs `find` walking the same store.

    .venv/bin/python bench/gc.py --files 100000 --orphans 0.1

Puts N small files straight into a content store, records (1 - orphans) of them as resources
(one change each), ages every file past the grace period, then times one `collect` pass
(walk, COPY of the candidates, one anti-join against resources and the change log, removal of
the orphans) against `find STORE -type f -mmin +60` (the floor: the walk alone). Runs on an
embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.connect import connect  # noqa: E402
from app.db.embedded import start_embedded  # noqa: E402
from app.lifecycle.gc import collect  # noqa: E402
from app.store.content import ContentStore  # noqa: E402
from app.write.changeset import Doc  # noqa: E402
from app.write.writer import write_batch  # noqa: E402
from sitemaps.fixity import Fixity  # noqa: E402


def _fill(store: ContentStore, n: int) -> list[str]:
    keys, old = [], time.time() - 7 * 86_400
    for i in range(n):
        data = f"bench gc file {i}\n".encode()
        key = hashlib.sha256(data).hexdigest()
        path = store.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (old, old))
        keys.append(key)
    return keys


async def main(files: int, orphans: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hw-bench-gc-"))
    dsn = start_embedded(folder / "data", stop_at_exit=True)
    conn = await connect(dsn)
    await migrate.upgrade(conn, page_size=50_000)
    store = ContentStore(folder / "data" / "content")
    keys = _fill(store, files)
    named = keys[: int(files * (1 - orphans))]
    for i in range(0, len(named), 10_000):
        docs = [Doc(uri=f"http://bench.example/content/gc/{j}", collection="gc", content_key=k,
                    fixity=Fixity(length=1))
                for j, k in enumerate(named[i:i + 10_000], i)]
        await write_batch(conn, docs, page_size=50_000, seal_after=timedelta(hours=24))
    started = time.perf_counter()
    subprocess.run(["find", str(store.root), "-type", "f", "-mmin", "+60"],
                   stdout=subprocess.DEVNULL, check=True)
    walk = time.perf_counter() - started
    started = time.perf_counter()
    report = await collect(conn, store, grace=3600)
    took = time.perf_counter() - started
    await conn.close()
    print(f"files {files:,}, orphans {files - len(named):,}")
    print(f"find walk      {walk:6.2f} s")
    print(f"gc pass        {took:6.2f} s  ({files / took:,.0f} files/s; freed "
          f"{report.files_freed:,} files, {report.bytes_freed:,} bytes; {took / walk:.1f}x find)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--orphans", type=float, default=0.1)
    args = parser.parse_args()
    asyncio.run(main(args.files, args.orphans))
