"""Pieces of `bench/sitemaps.py`: a fast SQL loader, the server and nginx as processes, curl."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-" + "x" * 24
APPEND_LOCK = 0x4857_4C4F_47  # app.write.writer.APPEND_LOCK

# One statement per step, inside one transaction holding the log's append lock, exactly as
# the write path leaves the tables (counters, log head, set_changes), only faster: the
# fragments are still rendered by the migration's triggers.
_LOAD = [
    "SELECT pg_advisory_xact_lock($1)",
    """INSERT INTO collections (name, parent_id, depth) VALUES ($1, NULL, 0)""",
    """INSERT INTO resources (uri, collection_id, ord, length, type, md5, sha256, lastmod,
                              deleted, last_position, datestamp)
       SELECT $3 || '/content/' || $1 || '/items/' || lpad(i::text, 8, '0') || '.pdf',
              c.id, i, 10000 + i % 90000, 'application/pdf', md5(i::text),
              encode(sha256(convert_to($1 || i::text, 'UTF8')), 'hex'),
              h.dt + (i + 1) * interval '1 microsecond', false, h.position + i + 1,
              h.dt + (i + 1) * interval '1 microsecond'
       FROM generate_series(0, $2 - 1) AS i,
            (SELECT id FROM collections WHERE name = $1) AS c,
            (SELECT position, greatest(clock_timestamp(), coalesce(datetime, clock_timestamp())
                                       + interval '1 microsecond') AS dt FROM log_head) AS h""",
    """INSERT INTO changes (position, resource_id, collection_id, change, datetime, uri,
                            lastmod, length, type, md5, sha256)
       SELECT last_position, id, collection_id, 'created', datestamp, uri, lastmod, length,
              type, md5, sha256
       FROM resources WHERE collection_id = (SELECT id FROM collections WHERE name = $1)""",
    """INSERT INTO set_changes (set_id, seq, position)
       SELECT collection_id, ord, last_position
       FROM resources WHERE collection_id = (SELECT id FROM collections WHERE name = $1)""",
    """UPDATE collections SET member_seq = $2, change_seq = $2,
              page_opened_at = CASE WHEN $2::bigint % $3::bigint = 0 THEN NULL ELSE
                  (SELECT datestamp FROM resources r WHERE r.collection_id = collections.id
                   AND r.ord = ($2::bigint / $3::bigint) * $3::bigint) END
       WHERE name = $1""",
    """UPDATE log_head SET (position, datetime) =
           (SELECT max(last_position), max(datestamp) FROM resources)""",
]


async def scratch_database(url: str | None, work: Path, label: str, page_size: int) -> str:
    """A fresh, migrated database for one benchmark run: on `url`'s server, or on an embedded
    cluster in `work` when `url` is None."""
    from urllib.parse import urlsplit, urlunsplit

    from app.db import migrate
    from app.db.connect import connect

    if url is None:
        from app.db.embedded import start_embedded
        url = start_embedded(work / "pg", stop_at_exit=True)
    name = f"hw_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = urlunsplit(urlsplit(url)._replace(path="/" + name))
    conn = await connect(dsn)
    await migrate.upgrade(conn, page_size=page_size)
    await conn.close()
    return dsn


async def load_collection(dsn: str, name: str, n: int, page_size: int, base: str) -> float:
    """`n` resources and their `created` changes in collection `name`; seconds taken."""
    conn = await asyncpg.connect(dsn)
    start = time.perf_counter()
    try:
        async with conn.transaction():
            await conn.execute(_LOAD[0], APPEND_LOCK)
            await conn.execute(_LOAD[1], name)
            await conn.execute(_LOAD[2], name, n, base)
            await conn.execute(_LOAD[3], name)
            await conn.execute(_LOAD[4], name)
            await conn.execute(_LOAD[5], name, n, page_size)
            await conn.execute(_LOAD[6])
        await conn.execute("VACUUM ANALYZE resources")
        await conn.execute("VACUUM ANALYZE changes")
        await conn.execute("VACUUM ANALYZE set_changes")
    finally:
        await conn.close()
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`uvicorn app.main:create_app --factory` as its own process (one worker)."""

    def __init__(self, dsn: str, data_dir: Path, page_size: int, cwd: Path = ROOT):
        self.cwd = cwd  # the checkout whose `app` is served (another commit, to compare)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        self.env.update({
            "DATABASE_URL": dsn, "HEADWATER_DATA_DIR": str(data_dir),
            "HEADWATER_WRITE_TOKENS": TOKEN, "HEADWATER_PAGE_SIZE": str(page_size),
            "HEADWATER_BASE_URL": self.url, "HEADWATER_LOG_LEVEL": "WARNING",
        })
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--no-access-log"], env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Nginx:
    """nginx (Debian `nginx-light`) serving one folder as static files on a free port."""

    def __init__(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise SystemExit("nginx not found: apt-get install -y nginx-light")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="hw-nginx-"))
        os.chmod(self.dir, 0o755)
        self.root = self.dir / "www"
        self.root.mkdir()
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.dir / "nginx.conf"
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        conf.write_text(f"""{user}
worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    types {{ application/xml xml; application/gzip gz; }}
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
    }}
}}
""")
        self.proc = subprocess.Popen([self.binary, "-c", str(conf), "-p", str(self.dir)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def publish(self, name: str, data: bytes) -> str:
        path = self.root / name
        path.write_bytes(data)
        os.chmod(path, 0o644)
        return f"{self.url}/{name}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def curl(url: str, out: Path | str = "/dev/null", *, gzip: bool = False) -> float:
    """Seconds for one GET, as curl measures it (`time_total`)."""
    args = ["curl", "-s", "-f", "-o", str(out), "-w", "%{time_total}", url]
    if gzip:
        args[1:1] = ["-H", "Accept-Encoding: gzip"]
    return float(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
