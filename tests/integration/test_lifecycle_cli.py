"""The lifecycle commands as an operator runs them: purge, gc, retire."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from app.store.content import ContentStore
from app.write.changeset import Doc
from app.write.writer import write_batch
from tests.conftest import PAGE_SIZE, ROOT

pytestmark = pytest.mark.asyncio
BASE = "http://127.0.0.1:8000"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


async def test_purge_gc_and_retire_commands(db, database_url, data_dir, settings):  # type: ignore[no-untyped-def]
    store = ContentStore(data_dir / "content")
    keys = []
    for blob in (b"to take down", b"to keep", b"orphan"):
        async def one(b: bytes = blob):  # type: ignore[no-untyped-def]
            yield b
        keys.append((await store.put_stream(one(), max_bytes=1 << 20)).key)
    docs = [Doc(uri=f"{BASE}/content/c:{n}/x", collection=f"c:{n}", content_key=k)
            for n, k in zip(("a", "b"), keys[:2], strict=False)]
    await write_batch(db, docs, page_size=PAGE_SIZE, seal_after=settings.seal_after)
    old = time.time() - 3 * 86_400
    os.utime(store.path_for(keys[2]), (old, old))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": database_url, "HEADWATER_DATA_DIR": str(data_dir),
                "HEADWATER_PAGE_SIZE": str(PAGE_SIZE), "HEADWATER_BASE_URL": BASE})

    missing = await asyncio.to_thread(_cli, env, "purge", f"{BASE}/content/c:a/nope",
                                      "--reason", "x")
    assert missing.returncode == 1 and "nothing is published" in missing.stderr
    done = await asyncio.to_thread(_cli, env, "purge", f"{BASE}/content/c:a/x", "--reason",
                                   "personal data")
    assert done.returncode == 0, done.stderr
    assert "1 deleted change(s), 1 file(s)" in done.stdout
    assert not store.exists(keys[0]) and store.exists(keys[1])
    row = await db.fetchrow("SELECT reason, token_name FROM purges")
    assert row["reason"] == "personal data" and row["token_name"].startswith("cli")

    gc = await asyncio.to_thread(_cli, env, "gc")
    assert gc.returncode == 0 and "gc: 1 file(s), 6 bytes freed" in gc.stdout, gc.stdout
    assert not store.exists(keys[2]) and store.exists(keys[1])

    retired = await asyncio.to_thread(_cli, env, "retire", "c", "--reason", "superseded")
    assert retired.returncode == 0 and "1 deleted change(s)" in retired.stdout, retired.stderr
    assert await db.fetchval("SELECT count(*) FROM resources WHERE NOT deleted") == 0
    assert await db.fetchval("SELECT reason FROM retired_collections") == "superseded"
