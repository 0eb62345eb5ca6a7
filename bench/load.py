"""Load: many destinations pulling documents while ingest writes, against nginx as the baseline.

Everything on loopback, bounded in time:

  1. an embedded PostgreSQL in a temporary folder (or DATABASE_URL), a recording hub
     (`tests.support.recording_hub`), and `headwater serve` with HEADWATER_WORKERS workers and the
     in-process notifier pointed at the hub;
  2. preload: PRELOAD resources in `load:static` (so the Resource List is an index of parts and
     the Change List has sealed pages) and FILES small content files in `load:files`;
  3. the URL sets, one per route: Resource List parts, Change List pages, content files and
     OAI-PMH ListRecords pages (following resumption tokens); each document's bytes are saved
     to a folder that nginx (`nginx-light`, started here on a free port) serves statically;
  4. an ingest driver posts RATE documents/s to `load:live` (batches of 100) for the whole run;
  5. for each route, `wrk` with CONNECTIONS connections and a Lua script rotating through the
     route's URLs runs DURATION seconds against headwater, then against nginx (same bytes,
     same concurrent ingest): requests/s, p50, p99 and errors (socket errors + non-2xx/3xx);
  6. verification: every acknowledged change of `load:live` is in the database log, in the
     Change List served over HTTP, and reached the hub (waiting for the notifier to drain).

    .venv/bin/python bench/load.py --duration 15 --connections 100 --rate 1000

With `--front nginx`, the shipped front (`deploy/nginx/headwater.conf`, started here) stands
before the server: published links name it, HEADWATER_ACCEL_REDIRECT lets it send content bytes
itself and HEADWATER_CACHE_MAX_AGE (--cache-max-age) lets it cache open documents; content,
sealed Change List pages and Resource List parts are then read three ways (the server directly,
through the front, nginx serving the same bytes statically).

    .venv/bin/python bench/load.py --front nginx --duration 15 --connections 100 --rate 1000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "load-bench-token-" + "z" * 16
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
OAI = "{http://www.openarchives.org/OAI/2.0/}"

WRK_SCRIPT = textwrap.dedent("""
    local paths = {}
    local counter = 0
    function init(args)
      for line in io.lines(args[1]) do paths[#paths + 1] = line end
      counter = math.random(#paths)
    end
    function request()
      counter = counter + 1
      return wrk.format("GET", paths[(counter % #paths) + 1])
    end
    function done(summary, latency, requests)
      local e = summary.errors
      io.write(string.format(
        'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
        .. '"write": %d, "status": %d, "timeout": %d, "p50_ms": %.2f, "p90_ms": %.2f, '
        .. '"p99_ms": %.2f, "max_ms": %.2f}\\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
        e.status, e.timeout, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
    end
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} never became ready")


# ------------------------------------------------------------------ preload and URL sets

def preload(base: str, resources: int, files: int) -> None:
    with httpx.Client(base_url=base, timeout=300, headers=AUTH) as client:
        for start in range(0, resources, 10_000):
            batch = [{"uri": f"http://example.org/static/{i:07d}", "collection": "load:static",
                      "length": 1000 + i, "type": "application/pdf", "md5": f"{i:032x}",
                      "sha256": f"{i:064x}",
                      "metadata": {"title": f"Static document {i}", "creator": ["Load, Bench"],
                                   "date": "2026-11-27"}}
                     for i in range(start, min(start + 10_000, resources))]
            r = client.post("/ingest", json=batch)
            r.raise_for_status()
        for i in range(files):
            r = client.put(f"/content/load:files/f{i:04d}.bin", content=os.urandom(16 * 1024))
            r.raise_for_status()


def _locs(body: bytes) -> list[str]:
    return [el.text for el in etree.fromstring(body).iter(f"{SM}loc") if el.text]


def url_sets(base: str, oai_pages: int) -> dict[str, list[str]]:
    """Route name → absolute URLs, discovered through the published documents."""
    with httpx.Client(timeout=300) as client:
        rl_index = client.get(f"{base}/resourcesync/load/resourcelist.xml")
        rl_index.raise_for_status()
        parts = _locs(rl_index.content)
        root = etree.fromstring(rl_index.content)
        if root.tag != f"{SM}sitemapindex":
            parts = [f"{base}/resourcesync/load/resourcelist.xml"]
        cl_index = client.get(f"{base}/resourcesync/load/changelist.xml")
        cl_index.raise_for_status()
        pages = _locs(cl_index.content) if etree.fromstring(cl_index.content).tag == \
            f"{SM}sitemapindex" else [f"{base}/resourcesync/load/changelist.xml"]
        content = [f"{base}/content/load:files/f{i:04d}.bin" for i in range(50)]
        oai = [f"{base}/oai?verb=ListRecords&metadataPrefix=oai_dc&set=collection:load:static"]
        while len(oai) < oai_pages:
            body = etree.fromstring(client.get(oai[-1]).content)
            token = body.find(f".//{OAI}resumptionToken")
            if token is None or not token.text:
                break
            oai.append(f"{base}/oai?verb=ListRecords&resumptionToken={token.text}")
    return {"resource list part": parts, "change list page": pages, "content": content,
            "oai-pmh ListRecords": oai}


def mirror(sets: dict[str, list[str]], static_root: Path) -> dict[str, list[str]]:
    """Save each document's current bytes for nginx; return the nginx paths per route."""
    out: dict[str, list[str]] = {}
    with httpx.Client(timeout=300) as client:
        for route, urls in sets.items():
            folder = static_root / re.sub(r"[^a-z]+", "-", route)
            folder.mkdir(parents=True, exist_ok=True)
            paths = []
            for i, url in enumerate(urls):
                r = client.get(url)
                r.raise_for_status()
                (folder / f"{i}.xml").write_bytes(r.content)
                paths.append(f"/{folder.name}/{i}.xml")
            out[route] = paths
    return out


# ------------------------------------------------------------------ nginx

def start_nginx(root: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx not found: install the Debian package nginx-light")
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(textwrap.dedent(f"""
        {user}
        worker_processes 2;
        daemon off;
        pid {workdir}/nginx.pid;
        error_log {workdir}/nginx-error.log warn;
        events {{ worker_connections 4096; }}
        http {{
          access_log off;
          sendfile on;
          tcp_nopush on;
          keepalive_requests 100000;
          client_body_temp_path {workdir}/nginx-body;
          proxy_temp_path {workdir}/nginx-proxy;
          fastcgi_temp_path {workdir}/nginx-fastcgi;
          uwsgi_temp_path {workdir}/nginx-uwsgi;
          scgi_temp_path {workdir}/nginx-scgi;
          server {{
            listen 127.0.0.1:{port};
            root {root};
            default_type application/xml;
          }}
        }}
    """))
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nginx did not start: {(workdir / 'nginx-error.log').read_text()}")


# ------------------------------------------------------------------ ingest driver

def ingest_driver(base: str, rate: int, stop: multiprocessing.Event,  # type: ignore[valid-type]
                  result: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """RATE documents/s in batches of 100 to `load:live` (mostly new URIs, 10 % updates), from
    four threads so a slow batch does not hold the rate back."""
    batch_size, threads = 100, 4
    interval = batch_size * threads / rate
    lock = threading.Lock()
    totals = {"batches": 0, "acked_batches": 0, "failed": 0, "acked_changes": 0}
    latencies: list[float] = []
    counter = iter(range(1, 1 << 62))

    def post() -> None:
        next_at = time.monotonic()
        with httpx.Client(base_url=base, timeout=60, headers=AUTH) as client:
            while not stop.is_set():  # type: ignore[attr-defined]
                with lock:
                    numbers = [next(counter) for _ in range(batch_size)]
                batch = [{"uri": f"http://example.org/live/{n if n % 10 else n // 2}",
                          "collection": "load:live", "length": n, "md5": f"{n:032x}",
                          "metadata": {"title": f"live {n}"}} for n in numbers]
                started = time.monotonic()
                try:
                    r = client.post("/ingest", json=batch)
                    ok, changed = r.status_code == 200, (
                        r.json()["changed"] if r.status_code == 200 else 0)
                except httpx.HTTPError:
                    ok, changed = False, 0
                with lock:
                    totals["batches"] += 1
                    totals["acked_batches" if ok else "failed"] += 1
                    totals["acked_changes"] += changed
                    latencies.append(time.monotonic() - started)
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -5:
                    next_at = time.monotonic()  # far behind: do not burst to catch up

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for w in workers:
        w.start()
        time.sleep(interval / threads)
    for w in workers:
        w.join()
    result.put(totals | {"documents": totals["acked_batches"] * batch_size,
                         "latencies": latencies})


# ------------------------------------------------------------------ wrk

@dataclass
class WrkResult:
    target: str
    route: str
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        f = self.figures
        return int(f["connect"] + f["read"] + f["write"] + f["status"] + f["timeout"])

    @property
    def rps(self) -> float:
        return self.figures["requests"] / (self.figures["duration_us"] / 1e6)


def run_wrk(base: str, paths: list[str], *, connections: int, duration: int, workdir: Path,
            target: str, route: str) -> WrkResult:
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk not found: install the Debian package wrk")
    script = workdir / "rotate.lua"
    script.write_text(WRK_SCRIPT)
    listing = workdir / f"paths-{target}-{re.sub(r'[^a-z]+', '-', route)}.txt"
    listing.write_text("\n".join(paths) + "\n")
    threads = min(2, connections)
    done = subprocess.run(
        [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout",
         "30s", "-s", str(script), base, "--", str(listing)],
        capture_output=True, text=True, timeout=duration + 120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {done.stdout}\n{done.stderr}")
    return WrkResult(target, route, json.loads(line[len("WRKJSON "):]))


# ------------------------------------------------------------------ verification

def changelist_entries(base: str, collection: str) -> list[tuple[str, str]]:
    """(loc, datetime) of every entry of the collection's Change List, over HTTP."""
    with httpx.Client(timeout=300) as client:
        first = client.get(f"{base}/resourcesync/{collection}/changelist.xml")
        first.raise_for_status()
        root = etree.fromstring(first.content)
        docs = [root]
        if root.tag == f"{SM}sitemapindex":
            docs = [etree.fromstring(client.get(u).content) for u in _locs(first.content)]
    out = []
    for doc in docs:
        for url in doc.iter(f"{SM}url"):
            md = url.find("{http://www.openarchives.org/rs/terms/}md")
            out.append((url.findtext(f"{SM}loc"), md.get("datetime") if md is not None else ""))
    return out


def hub_entries(hub: object, topic: str) -> list[tuple[str, str]]:
    out = []
    for received in hub.snapshot():  # type: ignore[attr-defined]
        link = received.headers.get("link", "")
        if f"<{topic}>" not in link or not received.body:
            continue
        doc = etree.fromstring(received.body)
        for url in doc.iter(f"{SM}url"):
            md = url.find("{http://www.openarchives.org/rs/terms/}md")
            out.append((url.findtext(f"{SM}loc"), md.get("datetime") if md is not None else ""))
    return out


def db_changes(dsn: str, collection: str) -> int:
    import asyncio

    import asyncpg

    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM changes c JOIN collections k ON k.id = c.collection_id "
                "WHERE k.name = $1", collection))
        finally:
            await conn.close()

    return asyncio.run(count())


def status_counts(base: str) -> dict[tuple[str, str], int]:
    """(route, status) → requests answered with status >= 400, across workers."""
    text = httpx.get(base + "/metrics", timeout=30).text
    out: dict[tuple[str, str], int] = {}
    pattern = re.compile(r'^headwater_http_requests_total\{(.*)\} ([0-9.e+]+)$')
    for line in text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels.get("status", "200") >= "400":
            key = (labels.get("route", "?"), labels["status"])
            out[key] = out.get(key, 0) + int(float(match.group(2)))
    return out


# ------------------------------------------------------------------ main

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--rate", type=int, default=1000, help="ingest documents/s")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--preload", type=int, default=60_000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--oai-pages", type=int, default=20)
    parser.add_argument("--drain-timeout", type=int, default=180)
    parser.add_argument("--busy-wait", default=None,
                        help="HEADWATER_BUSY_WAIT: how long a document request queues for a "
                             "slot before 429 (default: the service's own default)")
    parser.add_argument("--front", choices=["none", "nginx"], default="none",
                        help="put the shipped nginx front before the server")
    parser.add_argument("--cache-max-age", default="60s",
                        help="HEADWATER_CACHE_MAX_AGE with --front nginx")
    parser.add_argument("--no-accel", action="store_true",
                        help="with --front nginx: no X-Accel-Redirect (the front caches the "
                             "content bytes themselves)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    from tests.support.front import NginxFront
    from tests.support.recording_hub import RecordingHub

    work = Path(tempfile.mkdtemp(prefix="hw-load-"))
    os.chmod(work, 0o755)
    procs: list[subprocess.Popen[bytes]] = []
    front: NginxFront | None = None
    hub = RecordingHub(free_port(), keep_bodies=True).start()
    try:
        dsn = os.environ.get("DATABASE_URL")
        if not dsn:
            from app.db.embedded import start_embedded
            dsn = start_embedded(work / "pg", stop_at_exit=True)
            # a fresh database so the page size can be chosen
        import asyncio

        import asyncpg

        name = f"hw_load_{int(time.time())}"

        async def create() -> None:
            conn = await asyncpg.connect(dsn)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()

        asyncio.run(create())
        parts = urlsplit(dsn)
        db_url = parts._replace(path="/" + name).geturl()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update({
            "DATABASE_URL": db_url, "HEADWATER_PORT": str(port),
            "HEADWATER_WORKERS": str(args.workers), "HEADWATER_DATA_DIR": str(work / "data"),
            "HEADWATER_WRITE_TOKENS": TOKEN, "HEADWATER_PAGE_SIZE": str(args.page_size),
            "HEADWATER_HUB_URL": hub.url, "HEADWATER_LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(work / "prom"),
        })
        if args.busy_wait:
            env["HEADWATER_BUSY_WAIT"] = args.busy_wait
        (work / "prom").mkdir()
        public = base  # what published links name
        if args.front == "nginx":
            front_port = free_port()
            public = f"http://127.0.0.1:{front_port}"
            env.update({"HEADWATER_BASE_URL": public,
                        "HEADWATER_CACHE_MAX_AGE": args.cache_max_age})
            if not args.no_accel:
                env["HEADWATER_ACCEL_REDIRECT"] = "/_content/"
        log = open(work / "server.log", "wb")
        server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "headwater"), "serve"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, cwd=work)
        procs.append(server)
        wait_ready(base + "/readyz")
        print(f"headwater on {base} ({args.workers} workers), hub {hub.url}", flush=True)
        if args.front == "nginx":
            front = NginxFront([f"127.0.0.1:{port}"], work / "data" / "content",
                               port=front_port, workers=2).start()
            print(f"nginx front on {public} (cache max-age {args.cache_max_age}, "
                  f"X-Accel-Redirect {'off' if args.no_accel else 'on'})", flush=True)

        t0 = time.monotonic()
        preload(base, args.preload, args.files)
        print(f"preloaded {args.preload} resources + {args.files} files in "
              f"{time.monotonic() - t0:.1f}s", flush=True)
        sets = url_sets(public, args.oai_pages)
        if front is not None:  # what the front is for: bytes, sealed pages, index parts
            sets.pop("oai-pmh ListRecords")
            sets["change list page"] = [u for u in sets["change list page"] if "?at=" not in u]
        static = work / "static"
        nginx_paths = mirror(sets, static)
        for p in [work, static, *static.iterdir()]:
            os.chmod(p, 0o755)
        nginx, nginx_port = start_nginx(static, work)
        procs.append(nginx)
        nginx_base = f"http://127.0.0.1:{nginx_port}"
        for route, urls in sets.items():
            print(f"  {route}: {len(urls)} URLs, e.g. {urls[0][len(public):][:90]}", flush=True)

        stop = multiprocessing.Event()
        results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        driver = multiprocessing.Process(target=ingest_driver,
                                         args=(base, args.rate, stop, results))
        driver_started = time.monotonic()
        driver.start()
        time.sleep(2)

        runs: list[WrkResult] = []
        for route, urls in sets.items():
            hw_paths = [u[len(public):] for u in urls]
            targets = [("headwater", base, hw_paths)]
            if front is not None:
                targets.append(("front", public, hw_paths))
            targets.append(("nginx", nginx_base, nginx_paths[route]))
            for target, where, paths in targets:
                if target == "front":  # a cache is measured warm: one GET per URL first
                    with httpx.Client(timeout=120) as warm:
                        for path in paths:
                            warm.get(where + path)
                result = run_wrk(where, paths, connections=args.connections,
                                 duration=args.duration, workdir=work, target=target,
                                 route=route)
                runs.append(result)
                f = result.figures
                print(f"{route:22} {target:9} {result.rps:9.1f} req/s  p50 {f['p50_ms']:8.1f} ms"
                      f"  p99 {f['p99_ms']:8.1f} ms  errors {result.errors}", flush=True)

        refusals = status_counts(base)
        stop.set()
        ingest = results.get(timeout=120)
        driver.join(30)
        ingest_seconds = time.monotonic() - driver_started
        print(f"ingest: {ingest['documents']} documents acknowledged in {ingest_seconds:.0f}s "
              f"({ingest['documents'] / ingest_seconds:.0f}/s), {ingest['acked_changes']} "
              f"changes, failed batches {ingest['failed']}, batch p50 "
              f"{percentile(ingest['latencies'], .5) * 1000:.0f} ms p99 "
              f"{percentile(ingest['latencies'], .99) * 1000:.0f} ms", flush=True)

        in_db = db_changes(db_url, "load:live")
        in_list = changelist_entries(base, "load:live")
        topic = f"{public}/resourcesync/load:live/notifications.xml"
        deadline = time.monotonic() + args.drain_timeout
        at_hub = hub_entries(hub, topic)
        while len(set(at_hub)) < in_db and time.monotonic() < deadline:
            time.sleep(1)
            at_hub = hub_entries(hub, topic)
        drained = time.monotonic() - (deadline - args.drain_timeout)
        lost_list = in_db - len(set(in_list))
        lost_hub = len(set(in_list) - set(at_hub))
        print(f"changes of load:live: acknowledged {ingest['acked_changes']}, in the log "
              f"{in_db}, in the Change List {len(in_list)} ({len(set(in_list))} distinct), "
              f"at the hub {len(set(at_hub))} distinct ({len(at_hub)} with repeats; "
              f"{drained:.0f}s after the load stopped)", flush=True)
        print(f"lost: change list {lost_list}, hub {lost_hub}; "
              f"acknowledged but not in the log: {ingest['acked_changes'] - in_db}", flush=True)

        summary = {
            "args": vars(args) | {"json": str(args.json) if args.json else None},
            "runs": [{"target": r.target, "route": r.route, "rps": r.rps, "errors": r.errors,
                      **r.figures} for r in runs],
            "ingest": {k: v for k, v in ingest.items() if k != "latencies"}
            | {"seconds": ingest_seconds,
               "p50_ms": percentile(ingest["latencies"], .5) * 1000,
               "p99_ms": percentile(ingest["latencies"], .99) * 1000},
            "changes": {"acknowledged": ingest["acked_changes"], "log": in_db,
                        "change_list": len(set(in_list)), "hub": len(set(at_hub)),
                        "lost_change_list": lost_list, "lost_hub": lost_hub},
            "refusals": {f"{r} {st}": n for (r, st), n in refusals.items()},
            "load_average": os.getloadavg(),
        }
        print("\n| route | headwater req/s | p50 | p99 | errors | nginx req/s | p50 | p99 | "
              "p99 ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for route in sets:
            hw = next(r for r in runs if r.route == route and r.target == "headwater")
            ng = next(r for r in runs if r.route == route and r.target == "nginx")
            ratio = hw.figures["p99_ms"] / max(ng.figures["p99_ms"], 0.01)
            print(f"| {route} | {hw.rps:.0f} | {hw.figures['p50_ms']:.0f} ms | "
                  f"{hw.figures['p99_ms']:.0f} ms | {hw.errors} | {ng.rps:.0f} | "
                  f"{ng.figures['p50_ms']:.1f} ms | {ng.figures['p99_ms']:.1f} ms | "
                  f"{ratio:.1f}× |")
        if front is not None:
            print("\n| route | front req/s | p50 | p99 | errors | static nginx req/s | p50 | "
                  "p99 | static/front req/s | front/static p99 |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for route in sets:
                fr = next(r for r in runs if r.route == route and r.target == "front")
                ng = next(r for r in runs if r.route == route and r.target == "nginx")
                print(f"| {route} | {fr.rps:.0f} | {fr.figures['p50_ms']:.1f} ms | "
                      f"{fr.figures['p99_ms']:.1f} ms | {fr.errors} | {ng.rps:.0f} | "
                      f"{ng.figures['p50_ms']:.1f} ms | {ng.figures['p99_ms']:.1f} ms | "
                      f"{ng.rps / max(fr.rps, 0.01):.2f}× | "
                      f"{fr.figures['p99_ms'] / max(ng.figures['p99_ms'], 0.01):.2f}× |")
        print("headwater answers other than 2xx/3xx during the run (from /metrics): "
              + (", ".join(f"{route} {status}: {n}" for (route, status), n in refusals.items())
                 or "none"))
        print(f"load average at the end: {os.getloadavg()}")
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2, default=str))
    finally:
        if front is not None:
            front.stop()
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        hub.stop()
        threading.Event().wait(0.1)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
