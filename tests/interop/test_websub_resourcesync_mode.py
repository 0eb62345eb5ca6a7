"""`resourcesync` mode end to end: a live server with its in-process notifier pushes change
notifications to a recording hub (a real HTTP server on loopback), which checks method,
headers and payload against Change Notification 1.0.1 and the schema."""

from __future__ import annotations

import time

import httpx
import pytest
import xmlschema
from lxml import etree

from tests.conftest import TOKEN, free_port, schema_path
from tests.support.recording_hub import RecordingHub

pytestmark = pytest.mark.interop
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_pushed_notifications_follow_the_spec(live_server_factory):
    schema = xmlschema.XMLSchema(str(schema_path("resourcesync-documents.xsd")))
    hub = RecordingHub(free_port()).start()
    try:
        server = live_server_factory(HEADWATER_HUB_URL=hub.url, HEADWATER_NOTIFY_BATCH="25",
                                     HEADWATER_NOTIFY_WINDOW="20ms")
        sent: list[tuple[str, str]] = []
        for round_ in range(4):
            batch = [{"uri": f"https://example.org/{round_}/{i}", "collection": f"vc:c{i % 2}",
                      "md5": f"{round_:02x}" * 16} for i in range(30)]
            r = httpx.post(f"{server.url}/ingest", json=batch, headers=AUTH)
            assert r.status_code == 200, r.text
            sent += [(d["uri"], d["collection"]) for d in batch]
        gone = httpx.post(f"{server.url}/ingest", headers=AUTH, json=[
            {"uri": "https://example.org/0/0", "collection": "vc:c0", "deleted": True}])
        assert gone.status_code == 200
        sent.append(("https://example.org/0/0", "vc:c0"))

        parent = f"{server.url}/resourcesync/vc/notifications.xml"

        def delivered(topic: str) -> list[etree._Element]:
            return [etree.fromstring(r.body) for r in hub.snapshot()
                    if r.headers["link"].startswith(f"<{topic}>")]

        wait_for(lambda: sum(len(d.findall("sm:url", NS)) for d in delivered(parent))
                 >= len(sent))
        time.sleep(0.3)  # nothing more should come
        for req in hub.snapshot():
            assert req.method == "POST" and req.path == "/hub"
            assert req.headers["content-type"] == "application/xml"
            assert int(req.headers["content-length"]) == len(req.body)
            assert "transfer-encoding" not in req.headers
            topic = req.headers["link"].split(">")[0][1:]
            assert req.headers["link"] == f'<{topic}>; rel="self", <{hub.url}>; rel="hub"'
            schema.validate(req.body)

        for name, expect in [("vc", sent),
                             ("vc:c0", [s for s in sent if s[1] == "vc:c0"]),
                             ("vc:c1", [s for s in sent if s[1] == "vc:c1"])]:
            topic = f"{server.url}/resourcesync/{name}/notifications.xml"
            docs = delivered(topic)
            got = [u.findtext("sm:loc", namespaces=NS) for d in docs
                   for u in d.findall("sm:url", NS)]
            assert got == [uri for uri, _ in expect]  # every change once, in log order
            mds = [d.find("rs:md", NS) for d in docs]
            assert all(md.get("capability") == "change-notification" for md in mds)
            for prev, nxt in zip(mds, mds[1:], strict=False):
                assert nxt.get("from") == prev.get("until")
            for d, md in zip(docs, mds, strict=True):
                assert d.find("rs:ln[@rel='up']", NS).get("href") == \
                    f"{server.url}/resourcesync/{name}/capabilitylist.xml"
                stamps = [u.find("rs:md", NS).get("datetime") for u in d.findall("sm:url", NS)]
                assert stamps == sorted(stamps)
                assert md.get("from") < stamps[0] and stamps[-1] <= md.get("until")
            last = docs[-1].findall("sm:url", NS)[-1] if name != "vc:c1" else None
            if last is not None:
                assert last.find("rs:md", NS).get("change") == "deleted"

        # the topic answers HEAD/GET with the two links
        for method in ("HEAD", "GET"):
            r = httpx.request(method, parent)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/xml"
            assert r.headers["link"] == f'<{parent}>; rel="self", <{hub.url}>; rel="hub"'
        ready = httpx.get(f"{server.url}/readyz").json()["notifier"]["hubs"][hub.url]
        assert ready["lag_positions"] == 0 and ready["consecutive_failures"] == 0
    finally:
        hub.stop()
