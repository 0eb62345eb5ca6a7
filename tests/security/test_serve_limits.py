"""Connection limits of `headwater serve` (the real command, so the uvicorn options it passes are
the ones under test): oversized request heads, idle keep-alive connections."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, TOKEN, free_port


@pytest.fixture
def served(database_url: str, data_dir: Path, tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update({"DATABASE_URL": database_url, "HEADWATER_DATA_DIR": str(data_dir),
                "HEADWATER_PORT": str(port), "HEADWATER_WRITE_TOKENS": TOKEN,
                "HEADWATER_PAGE_SIZE": "1000", "HEADWATER_MAX_HEADER_SIZE": "8192",
                "HEADWATER_TIMEOUT_KEEP_ALIVE": "1", "HEADWATER_LOG_LEVEL": "WARNING"})
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "headwater"), "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield port
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _send(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
            return sock.recv(4096)
        except OSError:
            return b""  # closed while we were still sending: refused as well


def test_oversized_request_head_is_refused(served):
    small = _send(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1000
                  + b"\r\n\r\n")
    assert small.startswith(b"HTTP/1.1 200")
    for size in (20_000, 1_000_000):
        big = _send(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * size
                    + b"\r\n\r\n")
        assert big == b"" or big.split(b" ")[1] in (b"400", b"413", b"431"), big[:100]
    with httpx.Client(timeout=10) as client:
        assert client.get(f"http://127.0.0.1:{served}/healthz").status_code == 200


def test_idle_keep_alive_connection_is_closed(served):
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):  # the whole response: head and JSON body
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        time.sleep(2.5)  # HEADWATER_TIMEOUT_KEEP_ALIVE=1
        sock.settimeout(5)
        assert sock.recv(4096) == b""  # the server closed the idle connection
