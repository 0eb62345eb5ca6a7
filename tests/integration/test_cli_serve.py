"""`headwater serve` as `make run` starts it: a real process, embedded PostgreSQL inside the data
folder, no DATABASE_URL. Data survives a restart; a changed page size and invalid settings stop
the start with exit code 2 and a message naming the variable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

HEADWATER = str(Path(sys.executable).parent / "headwater")


def _env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_PORT": str(port),
                "HEADWATER_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


class Serve:
    def __init__(self, data_dir: Path, port: int, log: Path, **extra: str):
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([HEADWATER, "serve"], env=_env(data_dir, port, **extra),
                                         cwd=log.parent, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready: {self.output()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.mark.slow
def test_serve_embedded_stores_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    first = Serve(data, port, tmp_path / "first.log")
    try:
        first.wait_ready()
        token = (data / "write-token").read_text().strip()
        assert token and token in first.output()  # printed for the operator
        body = os.urandom(4096) + b"the same bytes"
        put = httpx.put(f"{first.url}/content/demo/somefile", content=body,
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert put.status_code == 201, put.text
        assert httpx.get(f"{first.url}/content/demo/somefile", timeout=30).content == body
    finally:
        assert first.stop() == 0, first.output()
    # the embedded cluster stopped with the server, so the folder can be reused
    assert not (data / "postgres" / "postmaster.pid").exists()

    second = Serve(data, port, tmp_path / "second.log")
    try:
        second.wait_ready()
        assert (data / "write-token").read_text().strip() == token  # not regenerated
        assert token not in second.output()  # printed once, when generated; not on every start
        again = httpx.get(f"{second.url}/content/demo/somefile", timeout=30)
        assert again.status_code == 200 and again.content == body
    finally:
        assert second.stop() == 0, second.output()

    # another page size than the one stored at the first migration: refused, nothing served
    refused = subprocess.run([HEADWATER, "serve"], cwd=tmp_path, capture_output=True, text=True,
                             env=_env(data, free_port(), HEADWATER_PAGE_SIZE="1000"), timeout=120)
    assert refused.returncode == 2, refused.stderr
    assert "HEADWATER_PAGE_SIZE" in refused.stderr and "50000" in refused.stderr
    assert not (data / "postgres" / "postmaster.pid").exists()


@pytest.mark.parametrize(("variable", "value"), [
    ("HEADWATER_PORT", "not-a-port"),
    ("HEADWATER_PAGE_SIZE", "0"),
    ("HEADWATER_BASE_URL", "http://0.0.0.0:8000"),
    ("HEADWATER_SEAL_AFTER", "soon"),
    ("HEADWATER_WRITE_TOKENS", "change-me"),  # shorter than 16 characters
    ("HEADWATER_PROT", "8000"),  # a misspelt setting is refused, not ignored
])
def test_invalid_configuration_exits_2_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    for command in (["serve"], ["db", "upgrade"]):
        done = subprocess.run([HEADWATER, *command], cwd=tmp_path, capture_output=True, text=True,
                              env=_env(tmp_path / "data", free_port(), **{variable: value}),
                              timeout=60)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert variable in done.stderr
        assert not (tmp_path / "data" / "postgres").exists()  # stopped before starting anything


def test_metrics_cover_every_worker(database_url, tmp_path):
    """With several workers, any worker's /metrics counts the requests all of them served."""
    port = free_port()
    server = Serve(tmp_path / "data", port, tmp_path / "serve.log", DATABASE_URL=database_url,
                   HEADWATER_WORKERS="2", HEADWATER_PAGE_SIZE="1000")
    try:
        server.wait_ready()
        with httpx.Client() as client:  # a new connection per request spreads them over workers
            for _ in range(30):
                assert httpx.get(server.url + "/healthz").status_code == 200
            for _ in range(4):
                text = client.get(server.url + "/metrics", headers={"Connection": "close"}).text
                line = [ln for ln in text.splitlines() if ln.startswith(
                    'headwater_http_requests_total{method="GET",route="/healthz",status="200"}')]
                assert line and float(line[0].rsplit(" ", 1)[1]) >= 30, text[:2000]
    finally:
        assert server.stop() == 0
