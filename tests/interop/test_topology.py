"""More than one machine, on loopback: a PostgreSQL primary and a streaming replica
(`pg_basebackup -R`), two Headwater nodes with their own ports and data folders sharing one
content folder (node B reads from the replica), `HEADWATER_NOTIFIER=external` plus one
`headwater notifier`, and the shipped nginx front over both nodes (docs/scaling.md).

Writes go to node A; reads through node B and the front; the `resync` client baselines, syncs
incrementally and audits IN SYNC through the front; the notifier is killed mid-batch and
another one started: the hub got every change. With replay paused on the replica, node B's
documents do not show a new write (but a link carrying a newer log position is answered from
the primary); after resume they do.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from lxml import etree
from resync.sitemap import Sitemap

from tests.conftest import ROOT, TOKEN, LiveServer, free_port
from tests.support.front import NginxFront, nginx_binary
from tests.support.recording_hub import RecordingHub
from tests.support.replication import PgPair

pytestmark = [pytest.mark.interop, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
      "rs": "http://www.openarchives.org/rs/terms/"}
RESYNC = Path(sys.executable).with_name("resync-sync")
PAGE = 100
C = "topo"


class Topology:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.pg = PgPair()
        self.hub = RecordingHub(free_port())
        self.front_port = free_port()
        self.base = f"http://127.0.0.1:{self.front_port}"
        self.content = tmp / "shared-content"
        self.nodes: list[LiveServer] = []
        self.notifier: subprocess.Popen[bytes] | None = None
        self.front: NginxFront | None = None

    def env(self, name: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("HEADWATER_") and k != "DATABASE_URL"}
        env.update({
            "DATABASE_URL": self.pg.primary_url, "HEADWATER_DATA_DIR": str(self.tmp / name),
            "HEADWATER_CONTENT_DIR": str(self.content), "HEADWATER_BASE_URL": self.base,
            "HEADWATER_WRITE_TOKENS": TOKEN, "HEADWATER_PAGE_SIZE": str(PAGE),
            "HEADWATER_SECRET_KEY": "topology-secret-" + "k" * 16,
            "HEADWATER_HUB_URL": self.hub.url, "HEADWATER_NOTIFIER": "external",
            "HEADWATER_ACCEL_REDIRECT": "/_content/", "HEADWATER_LOG_LEVEL": "WARNING",
            "HEADWATER_OAI_PAGE_SIZE": "100",
        })
        env.update(extra)
        return env

    def start(self) -> Topology:
        self.pg.start()
        self.hub.start()
        for name, extra in (("node-a", {}),
                            ("node-b", {"HEADWATER_READ_DATABASE_URL": self.pg.replica_url,
                                        "HEADWATER_REPLICA_WAIT": "1s"})):
            port = free_port()
            node = LiveServer(self.env(name, **extra), port, self.tmp / f"{name}.log")
            node.start(timeout=60)
            self.nodes.append(node)
        self.start_notifier()
        self.front = NginxFront([f"127.0.0.1:{n.port}" for n in self.nodes], self.content,
                                port=self.front_port).start()
        return self

    def start_notifier(self) -> None:
        with open(self.tmp / "notifier.log", "ab") as log:
            self.notifier = subprocess.Popen([sys.executable, "-m", "app.cli", "notifier"],
                                             env=self.env("notifier"), cwd=ROOT, stdout=log,
                                             stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.front:
            self.front.stop()
        if self.notifier and self.notifier.poll() is None:
            self.notifier.kill()
            self.notifier.wait()
        for node in self.nodes:
            node.stop()
        self.hub.stop()
        self.pg.stop()

    @property
    def a(self) -> LiveServer:
        return self.nodes[0]

    @property
    def b(self) -> LiveServer:
        return self.nodes[1]

    def caught_up(self, timeout: float = 30) -> dict[str, object]:
        """Node B's /readyz once its replica has replayed everything the primary has."""
        deadline = time.monotonic() + timeout
        while True:
            body = httpx.get(f"{self.b.url}/readyz", timeout=10).json()
            replica = body["replicas"][0]
            if replica.get("lag_positions") == 0 or time.monotonic() > deadline:
                return replica
            time.sleep(0.1)


@pytest.fixture
def topology(tmp_path: Path):
    if nginx_binary() is None:
        pytest.skip("nginx not found: install the Debian package nginx-light")
    topo = Topology(tmp_path).start()
    try:
        yield topo
    finally:
        topo.stop()


def _put(node: LiveServer, name: str, data: bytes) -> None:
    r = httpx.put(f"{node.url}/content/{C}/{name}", content=data, headers=AUTH, timeout=30)
    assert r.status_code in (200, 201), r.text


def _locs(body: bytes, tag: str = "sitemap") -> list[str]:
    return [e.text or "" for e in etree.fromstring(body).findall(f"sm:{tag}/sm:loc", NS)]


def _resync(cwd: Path, *args: str) -> str:
    proc = subprocess.run([str(RESYNC), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert "FatalError" not in out and "Traceback" not in out, out[-3000:]
    return out


def _first_status(out: str) -> str:
    return next(line for line in out.splitlines() if "Status:" in line)


def _open_page(node: str, front: str) -> tuple[str, bytes]:
    """The open page's link in a node's Change List Index, and that page as the node serves it."""
    link = _locs(httpx.get(f"{node}/resourcesync/{C}/changelist.xml").content)[-1]
    return link, httpx.get(link.replace(front, node), timeout=30).content


OAI = "{http://www.openarchives.org/OAI/2.0/}"


def _oai_page(body: bytes) -> tuple[list[str], str | None]:
    root = etree.fromstring(body)
    ids = [e.text or "" for e in root.iter(f"{OAI}identifier")]
    token = root.find(f".//{OAI}resumptionToken")
    return ids, (token.text if token is not None and token.text else None)


def _response_date(body: bytes) -> str:
    return etree.fromstring(body).findtext(f"{OAI}responseDate") or ""


def _oai_date(w3c: str) -> str:
    """A change's datetime at OAI-PMH's seconds granularity (`…T08:31:54Z`)."""
    return w3c[:19] + "Z"


def _lastmod_of(urlset: bytes, uri: str) -> str:
    """A stored file's lastmod: the time of its change."""
    for url in etree.fromstring(urlset).findall("sm:url", NS):
        if url.findtext("sm:loc", namespaces=NS) == uri:
            return url.findtext("sm:lastmod", namespaces=NS) or ""
    raise AssertionError(f"{uri} not in the document")


def _hub_entries(hub: RecordingHub, topic: str) -> set[tuple[str, str]]:
    out = set()
    for received in hub.snapshot():
        if f"<{topic}>" not in received.headers.get("link", "") or not received.body:
            continue
        for url in etree.fromstring(received.body).iter(f"{{{NS['sm']}}}url"):
            md = url.find("rs:md", NS)
            out.add((url.findtext("sm:loc", namespaces=NS) or "", md.get("datetime") or ""))
    return out


def _change_list_entries(base: str) -> set[tuple[str, str]]:
    index = httpx.get(f"{base}/resourcesync/{C}/changelist.xml", timeout=30).content
    pages = _locs(index) or [f"{base}/resourcesync/{C}/changelist.xml"]
    out = set()
    for page in pages:
        root = etree.fromstring(httpx.get(page, timeout=30).content)
        for url in root.findall("sm:url", NS):
            md = url.find("rs:md", NS)
            out.add((url.findtext("sm:loc", namespaces=NS) or "", md.get("datetime") or ""))
    return out


def test_two_nodes_a_replica_a_shared_store_and_the_front(topology: Topology, tmp_path: Path):
    t = topology
    front = t.base
    blobs = {f"f{i:03d}.txt": f"file {i}\n".encode() * (1 + i % 5) for i in range(250)}
    for name, data in blobs.items():
        _put(t.a, name, data)

    # node B reads the replica: once it has replayed, it serves what A wrote
    replica = t.caught_up()
    assert replica["status"] == "ok" and replica["lag_positions"] == 0
    index = httpx.get(f"{t.b.url}/resourcesync/{C}/resourcelist.xml").content
    parts = _locs(index)
    assert len(parts) == 3 and all(re.search(r"\?at=250$", p) for p in parts)
    assert all(p.startswith(front) for p in parts)  # every link names the front
    part = httpx.get(parts[0].replace(front, t.b.url)).content
    assert len(_locs(part, "url")) == PAGE
    got = httpx.get(f"{t.b.url}/content/{C}/f007.txt")  # bytes A stored, named by B
    assert got.status_code == 200 and got.headers["x-accel-redirect"].startswith("/_content/")
    through = httpx.get(f"{front}/content/{C}/f007.txt")
    assert through.content == blobs["f007.txt"]
    metrics = httpx.get(f"{t.b.url}/metrics").text
    assert re.search(r'^headwater_replica_lag_positions\{replica="127\.0\.0\.1:\d+/headwater"\} 0',
                     metrics, re.M)

    # replay paused: B does not show a new write yet ...
    t.pg.pause_replay()
    _put(t.a, "paused.txt", b"written while the replica was paused\n")
    paused_uri = f"{front}/content/{C}/paused.txt"
    link, page = _open_page(t.b.url, front)
    assert link.endswith("/changelist/2.xml?at=250") and paused_uri.encode() not in page
    parts_b = _locs(httpx.get(f"{t.b.url}/resourcesync/{C}/resourcelist.xml").content)
    assert all(p.endswith("?at=250") for p in parts_b)
    lagging = httpx.get(f"{t.b.url}/readyz").json()["replicas"][0]
    assert lagging["replay_paused"] is True and lagging["lag_positions"] >= 1
    # ... but a link from a newer index (A reads the primary) is never answered from the older
    # state: B waits for the replica, then asks the primary
    parts_a = _locs(httpx.get(f"{t.a.url}/resourcesync/{C}/resourcelist.xml").content)
    assert all(p.endswith("?at=251") for p in parts_a)
    last_part = httpx.get(parts_a[-1].replace(front, t.b.url), timeout=30).content
    assert paused_uri in _locs(last_part, "url")
    # OAI-PMH on B: the responseDate is the replayed head's (not the clock's), and a harvest
    # whose token came from the primary's state is continued from that state or later
    time.sleep(1.1)
    paused_at = _oai_date(_lastmod_of(last_part, paused_uri))
    b_date = _response_date(httpx.get(f"{t.b.url}/oai?verb=Identify").content)
    assert b_date <= paused_at < _response_date(httpx.get(f"{t.a.url}/oai?verb=Identify").content)
    first = httpx.get(f"{t.a.url}/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").content
    identifiers, token = _oai_page(first)
    while token:
        identifiers_more, token = _oai_page(httpx.get(
            f"{t.b.url}/oai", params={"verb": "ListIdentifiers", "resumptionToken": token},
            timeout=30).content)
        identifiers += identifiers_more
    assert len(set(identifiers)) == 251  # B's replica alone holds 250
    # content B's replica does not know yet: the primary answers
    assert httpx.get(f"{t.b.url}/content/{C}/paused.txt").status_code == 200
    t.pg.resume_replay()
    assert t.caught_up()["lag_positions"] == 0
    link, page = _open_page(t.b.url, front)
    assert link.endswith("/changelist/2.xml?at=251") and paused_uri.encode() in page

    # the reference client through the front: baseline, incremental, audit
    work, dst = tmp_path / "work", tmp_path / "dst"
    work.mkdir()
    dst.mkdir()
    cap = f"{front}/resourcesync/{C}/capabilitylist.xml"
    status = _resync(work, "--baseline", "--delete", "-v", "--capabilitylist", cap, front,
                     str(dst))
    assert "SYNCED (same=0, created=251, updated=0, deleted=0)" in status, status
    time.sleep(1.1)  # the client compares lastmod with file mtimes at one-second precision
    for i in range(3):
        _put(t.a, f"f{i:03d}.txt", f"updated {i}\n".encode() * 3)
    for i in range(5):
        _put(t.a, f"new{i}.txt", f"new {i}\n".encode())
    r = httpx.delete(f"{t.a.url}/content/{C}/f010.txt", headers=AUTH)
    assert r.status_code == 200
    t.caught_up()
    sm = Sitemap()
    pages = sorted(sm.parse_xml(io.BytesIO(httpx.get(
        f"{front}/resourcesync/{C}/changelist.xml").content)).uris(),
        key=lambda u: int(u.rsplit("/", 1)[1].split("?")[0].removesuffix(".xml")))
    assert sm.parsed_index and len(pages) == 3
    statuses = [_first_status(_resync(work, "--incremental", "--delete", "-v",
                                      "--changelist-uri", page, front, str(dst)))
                for page in pages]
    assert "CHANGES APPLIED" in statuses[-1], statuses
    assert (dst / "content" / C / "f001.txt").read_bytes() == b"updated 1\n" * 3
    assert (dst / "content" / C / "new4.txt").read_bytes() == b"new 4\n"
    assert not (dst / "content" / C / "f010.txt").exists()
    audit = _first_status(_resync(work, "--audit", "--capabilitylist", cap, front, str(dst)))
    assert "IN SYNC (same=255, to create=0, to update=0, to delete=0)" in audit, audit
    for path in (dst / "content" / C).iterdir():
        expected = httpx.get(f"{front}/content/{C}/{path.name}").content
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(expected).digest()

    # the notifier killed mid-batch, another started: the hub has every change
    records = [{"uri": f"http://example.org/topo/{i}", "collection": C, "length": i}
               for i in range(3000)]
    killed = False
    for start in range(0, len(records), 500):
        r = httpx.post(f"{t.a.url}/ingest", json=records[start:start + 500], headers=AUTH,
                       timeout=60)
        assert r.status_code == 200
        if start == 1000 and not killed:
            assert t.notifier is not None
            t.notifier.send_signal(signal.SIGKILL)
            t.notifier.wait()
            killed = True
            t.start_notifier()
    assert killed
    topic = f"{front}/resourcesync/{C}/notifications.xml"
    t.caught_up()
    expected = _change_list_entries(front)
    deadline = time.monotonic() + 60
    while not expected <= (at_hub := _hub_entries(t.hub, topic)):
        assert time.monotonic() < deadline, f"{len(expected - at_hub)} changes never notified"
        time.sleep(0.5)
