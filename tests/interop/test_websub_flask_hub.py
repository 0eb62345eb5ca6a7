"""`websub` mode against a third-party hub run for real: flask-websub 0.4.1 (Celery eager, no
broker) on loopback, a subscriber callback that is verified by the hub and checks
`X-Hub-Signature`, and a live Headwater server whose notifier pings the hub."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lxml import etree

from tests.conftest import ROOT, TOKEN, free_port

pytestmark = pytest.mark.interop
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
SECRET = "s3cret-for-the-test"


class Subscriber(ThreadingHTTPServer):
    """The destination's callback: answers the hub's verification of intent, keeps each
    delivery with whether its signature is right."""

    def __init__(self, port: int):
        self.verified: list[dict[str, list[str]]] = []
        self.deliveries: list[tuple[bytes, bool, str]] = []
        super().__init__(("127.0.0.1", port), _Callback)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/callback"


class _Callback(BaseHTTPRequestHandler):
    server: Subscriber

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        query = parse_qs(urlsplit(self.path).query)
        self.server.verified.append(query)
        body = query.get("hub.challenge", [""])[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        alg, _, given = (self.headers.get("X-Hub-Signature") or "").partition("=")
        good = alg == "sha256" and hmac.compare_digest(
            given, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())
        self.server.deliveries.append((body, good, self.headers.get("Link", "")))
        self.send_response(204)
        self.end_headers()


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def flask_hub(tmp_path):
    port = free_port()
    log = open(tmp_path / "hub.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.websub_hub", str(port),
                             str(tmp_path / "hub.db")],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/hub"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "hub.log").read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "hub did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_subscriber_gets_exactly_the_ingested_changes_signed(flask_hub, live_server_factory):
    subscriber = Subscriber(free_port())
    threading.Thread(target=subscriber.serve_forever, daemon=True).start()
    try:
        server = live_server_factory(HEADWATER_HUB_URL=flask_hub, HEADWATER_HUB_MODE="websub",
                                     HEADWATER_TOPIC_WINDOW="0")
        topic = f"{server.url}/resourcesync/serials/notifications.xml"
        r = httpx.post(flask_hub, data={
            "hub.mode": "subscribe", "hub.topic": topic, "hub.callback": subscriber.url,
            "hub.secret": SECRET, "hub.lease_seconds": "600"})
        assert r.status_code == 202, r.text
        wait_for(lambda: subscriber.verified)
        check = subscriber.verified[0]
        assert check["hub.mode"] == ["subscribe"] and check["hub.topic"] == [topic]

        sent: list[str] = []
        for round_ in range(3):
            batch = [{"uri": f"https://example.org/{round_}/{i}",
                      "collection": f"serials:h{i % 2}", "sha256": f"{i:02x}" * 32}
                     for i in range(8)]
            assert httpx.post(f"{server.url}/ingest", json=batch, headers=AUTH).status_code == 200
            sent += [d["uri"] for d in batch]
            time.sleep(0.2)

        def received() -> list[tuple[str, str]]:
            out = []
            for body, _, _ in subscriber.deliveries:
                for u in etree.fromstring(body).findall("sm:url", NS):
                    out.append((u.findtext("sm:loc", namespaces=NS),
                                u.find("rs:md", NS).get("datetime")))
            return out

        wait_for(lambda: {uri for uri, _ in received()} >= set(sent))
        assert all(good for _, good, _ in subscriber.deliveries), "bad X-Hub-Signature"
        assert all(f"<{topic}>" in link and 'rel="hub"' in link
                   for _, _, link in subscriber.deliveries)
        # at least once: deduped by URI and datetime, exactly the ingested changes, in order
        unique = list(dict.fromkeys(received()))
        assert [uri for uri, _ in unique] == sent
        assert [dt for _, dt in unique] == sorted(dt for _, dt in unique)
        for body, _, _ in subscriber.deliveries:
            assert etree.fromstring(body).find("rs:md", NS).get("capability") == \
                "change-notification"
        wait_for(lambda: httpx.get(f"{server.url}/readyz").json()["notifier"]["hubs"]
                 [flask_hub]["lag_positions"] == 0)
    finally:
        subscriber.shutdown()
        subscriber.server_close()
