"""The change notification topic of each collection, its Capability List entry and the
notifier's state in /readyz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from lxml import etree

from app.settings import load_settings
from app.write.changeset import Doc
from app.write.writer import write_batch
from tests.conftest import PAGE_SIZE, TOKEN

BASE = "http://127.0.0.1:8000"
HUB = "http://hub.test/hub"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}


def topic(name: str) -> str:
    return f"{BASE}/resourcesync/{name}/notifications.xml"


@pytest.fixture
def make_client(database_url, data_dir):
    async def make(**overrides) -> AsyncIterator[httpx.AsyncClient]:
        from app.main import create_app

        settings = load_settings(database_url=database_url, data_dir=data_dir,
                                 write_tokens=[TOKEN], page_size=PAGE_SIZE, base_url=BASE,
                                 **overrides)
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
                yield c
    return make


async def ingest(db, collection: str, uris: list[str]) -> None:
    await write_batch(db, [Doc(uri=u, collection=collection) for u in uris],
                      page_size=PAGE_SIZE, seal_after=timedelta(hours=24))


def entries(body: bytes) -> tuple[list[str], dict[str, str]]:
    root = etree.fromstring(body)
    return ([u.findtext("sm:loc", namespaces=NS) for u in root.findall("sm:url", NS)],
            dict(root.find("rs:md", NS).attrib))


async def datetime_of(db, position: int) -> str:
    value = await db.fetchval("SELECT datetime FROM changes WHERE position = $1", position)
    from sitemaps.format import w3c
    return w3c(value)


async def test_websub_topic_serves_unacknowledged_changes_after_a_window(make_client, db):
    await ingest(db, "vc:a", [f"https://example.org/a{i}" for i in range(1, 6)])  # 1..5
    await ingest(db, "vc:b", [f"https://example.org/b{i}" for i in range(6, 9)])  # 6..8
    await ingest(db, "other", ["https://example.org/o9"])  # 9
    async for c in make_client(hub_url=[HUB], hub_mode="websub", notifier="external",
                               topic_window=2):
        r = await c.get(topic("vc"))
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/xml"
        assert r.headers["link"] == f'<{topic("vc")}>; rel="self", <{HUB}>; rel="hub"'
        locs, md = entries(r.content)
        assert locs == [f"https://example.org/a{i}" for i in range(1, 6)] + \
            [f"https://example.org/b{i}" for i in range(6, 9)]
        assert md["capability"] == "change-notification"
        assert md["from"] < await datetime_of(db, 1)
        assert md["until"] == await datetime_of(db, 8)

        # the hub accepted up to position 6: two acknowledged ones, then what is pending
        await db.execute("INSERT INTO notifier_cursors (hub, position) VALUES ($1, 6)", HUB)
        locs, md = entries((await c.get(topic("vc"))).content)
        assert locs == ["https://example.org/a5", "https://example.org/b6",
                        "https://example.org/b7", "https://example.org/b8"]
        assert md["from"] == await datetime_of(db, 4)
        locs, _ = entries((await c.get(topic("vc:b"))).content)
        assert locs == [f"https://example.org/b{i}" for i in range(6, 9)]

        head = await c.head(topic("vc"))
        assert head.status_code == 200 and head.content == b""
        assert head.headers["link"] == r.headers["link"]
        assert int(head.headers["content-length"]) > 0

        assert (await c.get(topic("nope"))).status_code == 404
        bad = await c.get("/resourcesync/a%2Fb/notifications.xml")
        assert bad.status_code == 404


async def test_websub_topic_is_capped_at_the_page_size(make_client, db):
    await ingest(db, "big", [f"https://example.org/{i}" for i in range(PAGE_SIZE + 5)])
    async for c in make_client(hub_url=[HUB], hub_mode="websub", notifier="external"):
        locs, md = entries((await c.get(topic("big"))).content)
        assert len(locs) == PAGE_SIZE and locs[0] == "https://example.org/0"
        assert md["until"] == await datetime_of(db, PAGE_SIZE)


async def test_resourcesync_topic_is_empty_with_the_links(make_client, db):
    await ingest(db, "vc:a", ["https://example.org/1"])
    async for c in make_client(hub_url=[HUB, "http://hub2.test/"], notifier="external"):
        for method in ("GET", "HEAD"):
            r = await c.request(method, topic("vc"))
            assert r.status_code == 200 and r.content == b""
            assert r.headers["content-type"] == "application/xml"
            assert r.headers["content-length"] == "0"
            assert r.headers["link"] == (f'<{topic("vc")}>; rel="self", <{HUB}>; rel="hub", '
                                         '<http://hub2.test/>; rel="hub"')


async def test_no_hub_no_topic_no_capability(make_client, db, caplog):
    await ingest(db, "vc:a", ["https://example.org/1"])
    caplog.set_level("INFO", logger="notifier")
    async for c in make_client():
        r = await c.get(topic("vc"))
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        cap = await c.get("/resourcesync/vc/capabilitylist.xml")
        assert b"change-notification" not in cap.content
        ready = (await c.get("/readyz")).json()
        assert ready["notifier"]["status"] == "off"
    assert "notifier off: no HEADWATER_HUB_URL" in caplog.text


async def test_capability_list_advertises_the_channel(make_client, db):
    await ingest(db, "vc:a", ["https://example.org/1"])
    async for c in make_client(hub_url=[HUB], notifier="external"):
        r = await c.get("/resourcesync/vc:a/capabilitylist.xml")
        assert r.status_code == 200, r.text
        root = etree.fromstring(r.content)
        found = [u for u in root.findall("sm:url", NS)
                 if u.find("rs:md", NS).get("capability") == "change-notification"]
        assert len(found) == 1
        url = found[0]
        assert url.findtext("sm:loc", namespaces=NS) == topic("vc:a")
        assert [ln.attrib for ln in url.findall("rs:ln", NS)] == [{"rel": "hub", "href": HUB}]
        assert url.find("rs:md", NS).attrib == {"capability": "change-notification"}


async def test_readyz_and_metrics_report_lag_per_hub(make_client, db):
    await ingest(db, "vc:a", [f"https://example.org/{i}" for i in range(4)])
    await db.execute("INSERT INTO notifier_cursors (hub, position, consecutive_failures) "
                     "VALUES ($1, 1, 3)", HUB)
    async for c in make_client(hub_url=[HUB, "http://hub2.test/"], notifier="external"):
        r = await c.get("/readyz")
        assert r.status_code == 200
        state = r.json()["notifier"]
        assert state["mode"] == "resourcesync"
        one, two = state["hubs"][HUB], state["hubs"]["http://hub2.test/"]
        assert one["lag_positions"] == 3 and one["consecutive_failures"] == 3
        assert two["lag_positions"] == 4 and two["last_success"] is None
        assert one["lag_seconds"] >= 0
        metrics = (await c.get("/metrics")).text
        assert f'headwater_notifier_lag_positions{{hub="{HUB}"}} 3.0' in metrics


async def test_window_zero_gives_consecutive_intervals_as_change_notification_3(make_client, db):
    """The repeated window is the one documented deviation from Change Notification 1.0.1 §3
    (docs/notifier.md); HEADWATER_TOPIC_WINDOW=0 removes it: each fetch after an acknowledgment
    starts where the previous one ended, and no entry comes twice."""
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "notifier.md").read_text()
    assert "one deviation from Change Notification 1.0.1 §3" in doc
    assert "`HEADWATER_TOPIC_WINDOW=0` removes the window" in doc
    await ingest(db, "w", [f"https://example.org/w{i}" for i in range(1, 4)])  # 1..3
    async for c in make_client(hub_url=[HUB], hub_mode="websub", notifier="external",
                               topic_window=0):
        first, md1 = entries((await c.get(topic("w"))).content)
        await db.execute("INSERT INTO notifier_cursors (hub, position) VALUES ($1, 3)", HUB)
        await ingest(db, "w", [f"https://example.org/w{i}" for i in range(4, 6)])  # 4..5
        second, md2 = entries((await c.get(topic("w"))).content)
        assert first == [f"https://example.org/w{i}" for i in range(1, 4)]
        assert second == ["https://example.org/w4", "https://example.org/w5"]
        assert md2["from"] == md1["until"] == await datetime_of(db, 3)
        assert md2["until"] == await datetime_of(db, 5)
