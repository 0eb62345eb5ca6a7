"""The notifier against real PostgreSQL, the hub played by `httpx.MockTransport`: batches,
channels, intervals, the durable cursor, retries and refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from lxml import etree

from app.db.connect import connect
from app.write.changeset import Doc
from app.write.writer import write_batch
from notifier.config import Tuning
from notifier.hub import HubClient
from notifier.tailer import HubWorker
from sitemaps.fixity import Fixity
from tests.conftest import PAGE_SIZE

HUB = "http://hub.test/"
BASE = "http://127.0.0.1:8000"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
SOLO = f"{BASE}/resourcesync/solo/notifications.xml"
FAST = Tuning(batch=50, window=0.0, poll=0.2, retry_base=0.02, retry_cap=0.1, lock_retry=0.1)


async def ingest(db, uris: list[str], collection: str = "vc:a", **extra) -> None:
    docs = [Doc(uri=u, collection=collection, **extra) for u in uris]
    await write_batch(db, docs, page_size=PAGE_SIZE, seal_after=timedelta(hours=24))


def parse(body: bytes) -> dict:
    root = etree.fromstring(body)
    md = root.find("rs:md", NS)
    return {
        "from": md.get("from"), "until": md.get("until"), "capability": md.get("capability"),
        "up": root.find("rs:ln[@rel='up']", NS).get("href"),
        "entries": [(u.findtext("sm:loc", namespaces=NS), u.find("rs:md", NS).get("change"),
                     u.find("rs:md", NS).get("datetime")) for u in root.findall("sm:url", NS)],
    }


class Recorder:
    """A hub: answers from `script` (status codes, then 204 forever) and records what it got."""

    def __init__(self, script: list[int | Callable[[], httpx.Response]] | None = None):
        self.script = list(script or [])
        self.accepted: list[httpx.Request] = []
        self.attempts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.script:
            step = self.script.pop(0)
            if callable(step):
                return step()
            if step >= 300:
                return httpx.Response(step, headers={"Retry-After": "0"}, text="no")
        self.accepted.append(request)
        return httpx.Response(204)

    def by_topic(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for req in self.accepted:
            topic = req.headers["Link"].split(">")[0][1:]
            out.setdefault(topic, []).append(parse(req.content))
        return out


async def run_until(worker: HubWorker, check, timeout: float = 10.0) -> None:
    task = asyncio.create_task(worker.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await check():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            assert not task.done(), task.exception()
            await asyncio.sleep(0.02)
    finally:
        worker.stop.set()
        await asyncio.wait_for(task, 5)


def make_worker(database_url: str, recorder: Recorder, *, mode: str = "resourcesync",
                tuning: Tuning = FAST) -> tuple[HubWorker, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    worker = HubWorker(connect=lambda: connect(database_url), hub=HUB,
                       client=HubClient(http, HUB, mode),  # type: ignore[arg-type]
                       base_url=BASE, stop=asyncio.Event(), tuning=tuning, rand=lambda: 1.0)
    return worker, http


async def cursor(db) -> int:
    return await db.fetchval("SELECT position FROM notifier_cursors WHERE hub = $1", HUB) or 0


async def test_every_change_reaches_every_channel_in_order(database_url, db):
    await ingest(db, [f"https://example.org/a/{i}" for i in range(120)], "vc:a")
    await ingest(db, [f"https://example.org/b/{i}" for i in range(30)], "vc:b")
    recorder = Recorder()
    worker, http = make_worker(database_url, recorder)
    async with http:
        await run_until(worker, lambda: _at(db, 150))
    topics = recorder.by_topic()
    leaf_a = f"{BASE}/resourcesync/vc:a/notifications.xml"
    parent = f"{BASE}/resourcesync/vc/notifications.xml"
    assert set(topics) == {leaf_a, parent, f"{BASE}/resourcesync/vc:b/notifications.xml"}
    # the parent carries its children's changes, in log order, each exactly once here
    uris = [e[0] for n in topics[parent] for e in n["entries"]]
    assert uris == [f"https://example.org/a/{i}" for i in range(120)] + \
        [f"https://example.org/b/{i}" for i in range(30)]
    assert [e[0] for n in topics[leaf_a] for e in n["entries"]] == uris[:120]
    for notes in topics.values():
        assert all(len(n["entries"]) <= FAST.batch for n in notes)
        for prev, nxt in zip(notes, notes[1:], strict=False):
            assert nxt["from"] == prev["until"]  # consecutive, non-overlapping
        for n in notes:
            assert n["capability"] == "change-notification"
            assert all(n["from"] < e[2] <= n["until"] for e in n["entries"])
    assert topics[leaf_a][0]["up"] == f"{BASE}/resourcesync/vc:a/capabilitylist.xml"
    req = recorder.accepted[0]
    assert req.method == "POST" and req.headers["Content-Type"] == "application/xml"
    assert int(req.headers["Content-Length"]) == len(req.content)
    assert "chunked" not in req.headers.get("Transfer-Encoding", "")
    assert req.headers["Link"] == f'<{parent}>; rel="self", <{HUB}>; rel="hub"' or \
        req.headers["Link"] == f'<{leaf_a}>; rel="self", <{HUB}>; rel="hub"'


async def _at(db, position: int) -> bool:
    return await cursor(db) >= position


async def test_cursor_resumes_and_intervals_continue_across_runs(database_url, db):
    await ingest(db, ["https://example.org/1", "https://example.org/2"])
    first = Recorder()
    worker, http = make_worker(database_url, first)
    async with http:
        await run_until(worker, lambda: _at(db, 2))
    await ingest(db, ["https://example.org/3"])
    second = Recorder()
    worker, http = make_worker(database_url, second)
    async with http:
        await run_until(worker, lambda: _at(db, 3))
    leaf = f"{BASE}/resourcesync/vc:a/notifications.xml"
    before, after = first.by_topic()[leaf], second.by_topic()[leaf]
    # nothing already accepted is sent again, and the new `from` is the stored `until`
    assert [e[0] for n in after for e in n["entries"]] == ["https://example.org/3"]
    assert after[0]["from"] == before[-1]["until"]


async def test_failures_are_retried_in_order_and_nothing_is_skipped(database_url, db):
    await ingest(db, [f"https://example.org/{i}" for i in range(10)], "solo")

    def down() -> httpx.Response:
        raise httpx.ConnectError("refused")

    recorder = Recorder([503, down, 429, 500])
    worker, http = make_worker(database_url, recorder)
    async with http:
        await run_until(worker, lambda: _at(db, 10))
    assert recorder.attempts == 5
    notes = recorder.by_topic()[SOLO]
    assert [e[0] for n in notes for e in n["entries"]] == \
        [f"https://example.org/{i}" for i in range(10)]
    row = await db.fetchrow("SELECT * FROM notifier_cursors WHERE hub = $1", HUB)
    assert row["consecutive_failures"] == 0 and row["last_success"] is not None
    assert row["permanent_failures"] == 0


async def test_a_permanent_refusal_is_counted_and_the_batch_kept(database_url, db):
    await ingest(db, ["https://example.org/x"], "solo")
    recorder = Recorder([400] * 1000)
    worker, http = make_worker(database_url, recorder)

    async with http:
        await run_until(worker, lambda: _failures(db, 3))
    row = await db.fetchrow("SELECT * FROM notifier_cursors WHERE hub = $1", HUB)
    assert row["position"] == 0  # not skipped
    assert row["permanent_failures"] >= 3 and row["consecutive_failures"] >= 3
    assert row["last_error"].startswith("HTTP 400")
    # the hub is fixed: the same change goes through
    recorder.script.clear()
    worker, http = make_worker(database_url, recorder)
    async with http:
        await run_until(worker, lambda: _at(db, 1))
    assert recorder.by_topic()[SOLO][0]["entries"][0][0] \
        == "https://example.org/x"


async def _failures(db, n: int) -> bool:
    return (await db.fetchval(
        "SELECT permanent_failures FROM notifier_cursors WHERE hub = $1", HUB) or 0) >= n


async def test_retry_after_is_honoured(database_url, db):
    await ingest(db, ["https://example.org/r"], "solo")
    times: list[float] = []
    loop = asyncio.get_running_loop()

    def busy() -> httpx.Response:
        times.append(loop.time())
        return httpx.Response(503, headers={"Retry-After": "1"})

    recorder = Recorder([busy])
    worker, http = make_worker(database_url, recorder)
    async with http:
        await run_until(worker, lambda: _at(db, 1))
    assert recorder.attempts == 2
    # backoff alone would retry after at most 0.02 s; the hub asked for a second
    assert loop.time() - times[0] >= 0.95


async def test_only_one_worker_per_hub_publishes(database_url, db):
    await ingest(db, [f"https://example.org/{i}" for i in range(20)], "solo")
    one, two = Recorder(), Recorder()
    w1, h1 = make_worker(database_url, one)
    w2, h2 = make_worker(database_url, two)
    async with h1, h2:
        t1 = asyncio.create_task(w1.run())
        await asyncio.sleep(0.3)
        t2 = asyncio.create_task(w2.run())
        try:
            while await cursor(db) < 20:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            assert w1.active and not w2.active
            assert two.attempts == 0
            # the active one stops: the standby takes over and continues from the cursor
            w1.stop.set()
            await asyncio.wait_for(t1, 5)
            await ingest(db, ["https://example.org/late"], "solo")
            while await cursor(db) < 21:
                await asyncio.sleep(0.02)
        finally:
            w1.stop.set()
            w2.stop.set()
            await asyncio.gather(t1, t2)
    late = [e[0] for n in two.by_topic()[SOLO]
            for e in n["entries"]]
    assert late == ["https://example.org/late"]


@pytest.mark.parametrize("batch", [7])
async def test_batches_are_bounded(database_url, db, batch):
    await ingest(db, [f"https://example.org/{i}" for i in range(30)], "solo")
    recorder = Recorder()
    worker, http = make_worker(database_url, recorder, tuning=Tuning(
        batch=batch, window=0.0, poll=0.2, retry_base=0.02, retry_cap=0.1))
    async with http:
        await run_until(worker, lambda: _at(db, 30))
    sizes = [len(n["entries"]) for n in recorder.by_topic()[SOLO]]
    assert sizes == [7, 7, 7, 7, 2]


async def test_pre_rendered_entries_match_the_python_rendering(db):
    """Notifications send `changes.url_xml`; it must be the very text `change_entry` builds
    (the fallback for a row without it), so every notification reads the same either way."""
    from notifier.payload import Change, change_entry

    fixity = Fixity(5, "text/html", "a" * 32, "b" * 40, "c" * 64)
    await write_batch(db, [Doc(uri="https://example.org/a?b=1&c=<2>", collection="x:y",
                               fixity=fixity)],
                      page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
    await write_batch(db, [Doc(uri="https://example.org/a?b=1&c=<2>", collection="x:y",
                               deleted=True)],
                      page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
    rows = await db.fetch("SELECT c.*, col.name FROM changes c JOIN collections col "
                          "ON col.id = c.collection_id ORDER BY position")
    assert [r["change"] for r in rows] == ["created", "deleted"]
    for r in rows:
        assert r["url_xml"] is not None
        rebuilt = change_entry(Change.from_row({**dict(r), "collection": r["name"], "xml": None}))
        assert rebuilt == r["url_xml"]
