"""`headwater check` against a live source: pass when in order, fail when hashes lie."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import TOKEN

pytestmark = pytest.mark.interop
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def run_check(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    exe = Path(sys.executable).with_name("headwater")
    return subprocess.run([str(exe), "check", "--base-url", url, *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=cwd)


def test_check_passes_on_a_healthy_source(live_server, tmp_path):
    for i in range(5):
        r = httpx.put(f"{live_server.url}/content/demo/file-{i}.txt", content=f"body {i}".encode(),
                      headers={**AUTH, "Content-Type": "text/plain"})
        assert r.status_code == 201
    proc = run_check(live_server.url, "--collection", "demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check: PASS" in proc.stdout
    assert "resync audit" in proc.stdout and "OAI-PMH ListIdentifiers" in proc.stdout


def test_check_fails_when_a_collection_is_unknown(live_server, tmp_path):
    httpx.put(f"{live_server.url}/content/demo/x.txt", content=b"x", headers=AUTH)
    proc = run_check(live_server.url, "--collection", "nope", cwd=tmp_path)
    assert proc.returncode == 1 and "check: FAIL" in proc.stdout
