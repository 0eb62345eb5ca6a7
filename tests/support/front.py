"""The shipped nginx front (`deploy/nginx/headwater.conf`) run for real on loopback, as a
non-root-listening process with its own prefix folder: for tests and `bench/load.py --front`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["NginxFront", "render_template", "TEMPLATE", "nginx_binary"]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "headwater.conf"
_NAMES = ("LISTEN", "UPSTREAM_SERVERS", "CONTENT_DIR", "CACHE_DIR", "ACCEL_PREFIX")


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def render_template(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """What `envsubst '$LISTEN $UPSTREAM_SERVERS …'` makes of the template."""
    text = template.read_text()
    for name in _NAMES:
        text = text.replace("${" + name + "}", values[name])
    return text


class NginxFront:
    """nginx with the shipped config in front of `upstreams` (host:port each)."""

    def __init__(self, upstreams: list[str], content_dir: Path, *, port: int | None = None,
                 accel_prefix: str = "/_content/", workers: int = 1):
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx not found: install the Debian package nginx-light")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="hw-front-"))
        os.chmod(self.dir, 0o755)
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstreams, self.content_dir = upstreams, content_dir
        self.accel_prefix, self.workers = accel_prefix, workers
        self.proc: subprocess.Popen[bytes] | None = None

    def site(self) -> str:
        return render_template({
            "LISTEN": f"127.0.0.1:{self.port}",
            "UPSTREAM_SERVERS": " ".join(f"server {u};" for u in self.upstreams),
            "CONTENT_DIR": str(self.content_dir.resolve()),
            "CACHE_DIR": str(self.dir / "cache"),
            "ACCEL_PREFIX": self.accel_prefix,
        })

    def config(self) -> str:
        # as root, workers run as root too: test folders are private to their owner
        user = "user root;" if os.geteuid() == 0 else ""
        d = self.dir
        return f"""{user}
worker_processes {self.workers};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/headwater.conf;
}}
"""

    def start(self) -> NginxFront:
        (self.dir / "headwater.conf").write_text(self.site())
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        check = subprocess.run([self.binary, "-t", "-c", str(conf), "-p", str(self.dir)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused the config: {check.stderr}")
        self.proc = subprocess.Popen([self.binary, "-c", str(conf), "-p", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start: {self.error_log()}")

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
