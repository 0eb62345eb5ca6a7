"""Backup and restore: a backup taken while writes go on, restored into an empty database and a
fresh data folder, publishes the same Resource List, Change List and bytes as the original did
at the backup's log position; the reference client's audit against it is IN SYNC; the
notifier's cursor comes back with the database."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from lxml import etree

from tests.conftest import ROOT, TOKEN, LiveServer, _with_database, free_port
from tests.support.recording_hub import RecordingHub

pytestmark = [pytest.mark.slow]
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
RESYNC = Path(sys.executable).with_name("resync-sync")
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"}


def _cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _docs(base: str, url: str) -> list[etree._Element]:
    """The <url> elements of a list, through its index when it has one."""
    root = etree.fromstring(httpx.get(url, timeout=30).content)
    if root.tag.endswith("sitemapindex"):
        return [u for loc in root.findall("sm:sitemap/sm:loc", NS)
                for u in _docs(base, loc.text)]
    return root.findall("sm:url", NS)


def _sha(url: etree._Element) -> str | None:
    md = url.find("rs:md", NS)
    found = re.search(r"sha-256:([0-9a-f]{64})", md.get("hash") or "") if md is not None else None
    return found.group(1) if found else None


async def _sql(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def test_backup_under_ingest_restores_the_same_source(live_server_factory, pg_server,
                                                      database_url, tmp_path):
    hub = RecordingHub(free_port()).start()
    server = live_server_factory()
    base = server.url
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
        for i in range(150):
            r = client.put(f"/content/bk/f{i}.txt", content=f"file {i}\n".encode() * (i + 1))
            assert r.status_code == 201, r.text
    # the notifier's durable cursor: its hub accepted every change up to 40 (the original has no
    # hub configured, so it stays there)
    asyncio.run(_sql(database_url, "INSERT INTO notifier_cursors (hub, position) "
                                   "VALUES ($1, 40)", hub.url))

    stop = threading.Event()
    written = [0]

    def writer() -> None:  # creates, updates and deletes for as long as the backup runs
        with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
            i = 0
            while not stop.is_set():
                client.put(f"/content/bk/new{i}.txt", content=f"new {i}\n".encode())
                client.put(f"/content/bk/f{i % 150}.txt", content=f"v2 {i}\n".encode())
                if i % 5 == 0:
                    client.delete(f"/content/bk/f{(i * 7) % 150}.txt")
                i += 1
                written[0] = i

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    original = {**env, **{k: v for k, v in server.env.items()
                          if k.startswith("HEADWATER_") or k == "DATABASE_URL"}}
    folder = tmp_path / "backup"
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:
            threading.Event().wait(0.05)
        out = _cli(original, "backup", str(folder))
        during = written[0]
    finally:
        stop.set()
        thread.join()
    assert written[0] > during or during > 20  # writes went on around the backup
    info = json.loads((folder / "backup.json").read_text())
    position = info["position"]
    assert f"log position {position}" in out
    head = asyncio.run(_sql(database_url, "SELECT position FROM log_head"))[0]["position"]
    assert head > position, "the test needs writes after the backup's snapshot"

    # the original's state at the backup's position, from its own log
    expected_changes = [(r["uri"], r["change"]) for r in asyncio.run(_sql(
        database_url, "SELECT uri, change FROM changes WHERE position <= $1 ORDER BY position",
        position))]
    expected_live = {r["uri"]: r["sha256"] for r in asyncio.run(_sql(
        database_url, "SELECT DISTINCT ON (uri) uri, change, sha256 FROM changes "
                      "WHERE position <= $1 ORDER BY uri, position DESC", position))
        if r["change"] != "deleted"}
    server.stop()

    # restore into an empty database and a fresh data folder
    name = f"hw_restored_{uuid.uuid4().hex[:8]}"
    asyncio.run(_sql(pg_server, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    restored_dsn = _with_database(pg_server, name)
    fresh = tmp_path / "fresh"
    restored_env = {**original, "DATABASE_URL": restored_dsn, "HEADWATER_DATA_DIR": str(fresh)}
    _cli(restored_env, "restore", str(folder))
    # a second restore over it is refused
    proc = subprocess.run([sys.executable, "-m", "app.cli", "restore", str(folder)],
                          env=restored_env, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and "restore into" in proc.stderr

    restored = LiveServer({**restored_env, "HEADWATER_HUB_URL": hub.url}, server.port,
                          tmp_path / "restored.log")
    restored.start()
    try:
        urls = _docs(base, f"{base}/resourcesync/bk/resourcelist.xml")
        published = {u.findtext("sm:loc", namespaces=NS): _sha(u) for u in urls}
        assert published == expected_live
        changes = [(u.findtext("sm:loc", namespaces=NS), u.find("rs:md", NS).get("change"))
                   for u in _docs(base, f"{base}/resourcesync/bk/changelist.xml")]
        assert changes == expected_changes
        for uri, sha in published.items():
            assert hashlib.sha256(httpx.get(uri).content).hexdigest() == sha, uri
        # the restored notifier resumes after its cursor: changes 41..position, none lost
        deadline = time.monotonic() + 60
        while asyncio.run(_sql(restored_dsn, "SELECT position FROM notifier_cursors"))[0][
                "position"] < position:
            assert time.monotonic() < deadline, "the notifier did not catch up"
            time.sleep(0.2)
        notified = [(u.findtext("sm:loc", namespaces=NS), u.find("rs:md", NS).get("change"))
                    for r in hub.snapshot()
                    for u in etree.fromstring(r.body).findall("sm:url", NS)]
        assert notified == expected_changes[40:]

        # the reference client: a baseline from the restored source, then its audit
        work, dst = tmp_path / "work", tmp_path / "dst"
        work.mkdir()
        dst.mkdir()
        cap = f"{base}/resourcesync/bk/capabilitylist.xml"
        base_out = subprocess.run([str(RESYNC), "--baseline", "--capabilitylist", cap, base,
                                   str(dst)], cwd=work, capture_output=True, text=True,
                                  timeout=300)
        assert f"SYNCED (same=0, created={len(expected_live)}" in base_out.stdout \
            + base_out.stderr, (base_out.stdout + base_out.stderr)[-2000:]
        audit = subprocess.run([str(RESYNC), "--audit", "--capabilitylist", cap, base,
                                str(dst)], cwd=work, capture_output=True, text=True,
                               timeout=300)
        text = audit.stdout + audit.stderr
        assert f"IN SYNC (same={len(expected_live)}, to create=0, to update=0, to delete=0)" \
            in text, text[-2000:]
    finally:
        restored.stop()
        hub.stop()
        asyncio.run(_sql(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
