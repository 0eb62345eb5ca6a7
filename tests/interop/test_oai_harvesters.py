"""Third-party harvesters against a real server on loopback: `sickle` and `pyoai`'s client.

One server, 12,000 records across collections, hosts and media types, 500 per response: full
harvests across resumption tokens see each record exactly once; selective harvests by set and by
from/until see exactly the expected records; an incremental harvest from the first response's
responseDate sees exactly the later updates and deletes, and one racing a writer misses nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
import types
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from lxml import etree
from oaipmh.client import Client
from oaipmh.metadata import MetadataRegistry, oai_dc_reader
from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch

from tests.conftest import TOKEN

pytestmark = [pytest.mark.interop, pytest.mark.slow]

TOTAL = 12_000
OAI_NS = {"o": "http://www.openarchives.org/OAI/2.0/"}


def record(i: int) -> dict:
    collection = ("serials:harvest_2026_11", "serials:harvest_2026_12", "books")[i % 3]
    host = ("www.webarchiv.cz", "data.example.org")[i % 2]
    kind = ("text/html", "application/pdf", "text/plain", "image/png")[i % 4]
    return {"uri": f"https://{host}/r/{i}", "collection": collection, "type": kind,
            "metadata": {"title": f"Record {i}", "creator": ["Ústav", "Nakladatel & syn"]}}


def ingest(url: str, records: list[dict]) -> None:
    with httpx.Client(timeout=120) as client:
        for start in range(0, len(records), 10_000):
            r = client.post(f"{url}/ingest", json=records[start:start + 10_000],
                            headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200, r.text


def db_rows(database_url: str, sql: str, *args) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


def oai_id(rid: int) -> str:
    return f"oai:headwater.local:{rid}"


class _Evaluator:
    """lxml 6 dropped `XPathEvaluator.evaluate`, an alias of calling it, which pyoai 2.5.0 (the
    latest release) still uses; restoring the alias leaves the client's own logic untouched."""

    def __init__(self, *args, **kwargs):
        self._call = etree.XPathEvaluator(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    __call__ = evaluate


@pytest.fixture(autouse=True)
def pyoai_on_lxml6(monkeypatch):
    import oaipmh.client
    import oaipmh.metadata

    proxy = types.SimpleNamespace(**{k: getattr(etree, k) for k in dir(etree)
                                     if not k.startswith("__")})
    proxy.XPathEvaluator = _Evaluator
    monkeypatch.setattr(oaipmh.client, "etree", proxy)
    monkeypatch.setattr(oaipmh.metadata, "etree", proxy)


def pyoai_client(url: str) -> Client:
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    client = Client(f"{url}/oai", registry)
    client.updateGranularity()  # reads Identify: seconds
    return client


def response_date(iterator) -> datetime:
    text = iterator.oai_response.xml.findtext("o:responseDate", namespaces=OAI_NS)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_harvesters(live_server_factory, database_url):
    server = live_server_factory(HEADWATER_OAI_PAGE_SIZE="500")
    first, second = [record(i) for i in range(9_000)], [record(i) for i in range(9_000, TOTAL)]
    ingest(server.url, first)
    time.sleep(1.1)  # the second batch starts in a later second than the first one ends
    ingest(server.url, second)
    time.sleep(1.1)  # the harvest's responseDate falls after every datestamp so far
    rows = db_rows(database_url, "SELECT id, uri, collection_id, datestamp, oai_domain, "
                   "oai_mime FROM resources")
    assert len(rows) == TOTAL
    all_ids = {oai_id(r["id"]) for r in rows}
    sickle = Sickle(f"{server.url}/oai", max_retries=0, timeout=60)

    # full harvest with sickle, across 24 responses: each record exactly once
    records = sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False)
    seen = []
    for rec in records:
        seen.append(rec.header.identifier)
        if len(seen) == 1:
            harvest_started = response_date(records)
            assert rec.metadata["title"][0].startswith("Record ")
            assert rec.metadata["identifier"][0].startswith("https://")
    assert len(seen) == TOTAL and set(seen) == all_ids

    # full harvest with pyoai: the same
    client = pyoai_client(server.url)
    got = [header.identifier() for header, _, _ in client.listRecords(metadataPrefix="oai_dc")]
    assert len(got) == TOTAL and set(got) == all_ids

    # selective by set, parent sets included
    books = {oai_id(r["id"]) for r in rows if r["uri"].rsplit("/", 1)[1].isdigit()
             and int(r["uri"].rsplit("/", 1)[1]) % 3 == 2}
    assert {h.identifier for h in sickle.ListIdentifiers(
        metadataPrefix="oai_dc", set="collection:books")} == books
    serials = all_ids - books
    assert {h.identifier() for h in pyoai_client(server.url).listIdentifiers(
        metadataPrefix="oai_dc", set="collection:serials")} == serials
    cz = {oai_id(r["id"]) for r in rows if r["oai_domain"] == "cz:webarchiv:www"}
    assert {h.identifier for h in sickle.ListIdentifiers(
        metadataPrefix="oai_dc", set="domain:cz")} == cz
    text = {oai_id(r["id"]) for r in rows if r["oai_mime"].startswith("text:")}
    assert {h.identifier() for h in client.listIdentifiers(
        metadataPrefix="oai_dc", set="mime:text")} == text

    # selective by from/until: the second batch began in a later second than the first ended
    boundary = min(r["datestamp"] for r in rows if int(r["uri"].rsplit("/", 1)[1]) >= 9_000)
    cut = boundary.astimezone(UTC).replace(microsecond=0)
    later = {oai_id(r["id"]) for r in rows if r["datestamp"] >= cut}
    assert later == {oai_id(r["id"]) for r in rows if int(r["uri"].rsplit("/", 1)[1]) >= 9_000}
    assert {h.identifier() for h in client.listIdentifiers(
        metadataPrefix="oai_dc", from_=cut.replace(tzinfo=None))} == later
    until = datetime.fromtimestamp(cut.timestamp() - 1, UTC)
    assert {h.identifier for h in sickle.ListIdentifiers(
        metadataPrefix="oai_dc", until=until.strftime("%Y-%m-%dT%H:%M:%SZ"))} == all_ids - later

    # incremental: from = the first response's responseDate picks up exactly what changed since
    time.sleep(1.1)
    changed = [record(i) | {"metadata": {"title": f"Updated {i}"}} for i in range(0, 300, 3)]
    deleted = [record(i) | {"deleted": True} for i in range(1, 200, 4)]
    ingest(server.url, changed + deleted)
    touched = {r["uri"] for r in changed + deleted}
    expected = {oai_id(r["id"]) for r in rows if r["uri"] in touched}
    since = harvest_started.strftime("%Y-%m-%dT%H:%M:%SZ")
    got = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False,
                                  **{"from": since}))
    assert {r.header.identifier for r in got} == expected and len(got) == len(expected)
    assert sum(r.header.deleted for r in got) == len(deleted)
    assert all(r.metadata["title"][0].startswith("Updated") for r in got if not r.header.deleted)
    pyoai_got = list(pyoai_client(server.url).listRecords(
        metadataPrefix="oai_dc", from_=harvest_started.replace(tzinfo=None)))
    assert {h.identifier() for h, _, _ in pyoai_got} == expected
    assert sum(h.isDeleted() for h, _, _ in pyoai_got) == len(deleted)


def test_incremental_harvests_racing_a_writer_miss_nothing(live_server_factory, database_url):
    """A writer keeps changing records while a harvester repeats `from` = the previous first
    responseDate: after the writer stops and one last harvest, the harvester has seen every
    resource's final datestamp."""
    server = live_server_factory(HEADWATER_OAI_PAGE_SIZE="200")
    ingest(server.url, [record(i) for i in range(1_000)])
    stop = threading.Event()

    def writer() -> None:
        n = 0
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                batch = [record(i) | {"metadata": {"title": f"v{n} {i}"}}
                         for i in range(n % 900, n % 900 + 100)]
                batch += [record(10_000 + n)]  # and a new one each time
                client.post(f"{server.url}/ingest", json=batch,
                            headers={"Authorization": f"Bearer {TOKEN}"})
                n += 1

    sickle = Sickle(f"{server.url}/oai", max_retries=0, timeout=60)
    latest: dict[str, str] = {}  # identifier → newest datestamp seen

    def harvest(since: str | None) -> str:
        args = {"from": since} if since else {}
        try:
            it = sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False, **args)
        except NoRecordsMatch:  # nothing new since
            return since or ""
        started = response_date(it).strftime("%Y-%m-%dT%H:%M:%SZ")
        for header in it:
            latest[header.identifier] = max(latest.get(header.identifier, ""), header.datestamp)
        return started

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        since = None
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            since = harvest(since)
    finally:
        stop.set()
        thread.join()
    harvest(since)
    rows = db_rows(database_url, "SELECT id, datestamp FROM resources")
    final = {oai_id(r["id"]): r["datestamp"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
             for r in rows}
    assert len(final) > 1_000
    missed = {k: v for k, v in final.items() if latest.get(k) != v}
    assert not missed, f"{len(missed)} records' newest change was never harvested"


def test_every_verb_through_both_clients(live_server_factory):
    from sickle import oaiexceptions

    server = live_server_factory(HEADWATER_OAI_PAGE_SIZE="5")
    ingest(server.url, [record(i) for i in range(12)])
    sickle = Sickle(f"{server.url}/oai", max_retries=0, timeout=30)
    assert sickle.Identify().baseURL == f"{server.url}/oai"
    assert [f.metadataPrefix for f in sickle.ListMetadataFormats()] == ["oai_dc", "rs"]
    specs = [s.setSpec for s in sickle.ListSets()]  # more than 5: across tokens
    assert "collection:serials" in specs and "domain:cz:webarchiv:www" in specs
    assert len(specs) == len(set(specs)) > 5
    first = next(sickle.ListIdentifiers(metadataPrefix="oai_dc"))
    got = sickle.GetRecord(identifier=first.identifier, metadataPrefix="oai_dc")
    assert got.metadata["title"][0].startswith("Record ")
    for call, error in [
        (lambda: sickle.GetRecord(identifier="oai:headwater.local:999999",
                                  metadataPrefix="oai_dc"), oaiexceptions.IdDoesNotExist),
        (lambda: sickle.GetRecord(identifier=first.identifier, metadataPrefix="marc"),
         oaiexceptions.CannotDisseminateFormat),
        (lambda: next(sickle.ListRecords(resumptionToken="forged")),
         oaiexceptions.BadResumptionToken),
        (lambda: next(sickle.ListRecords(metadataPrefix="oai_dc", **{"from": "yesterday"})),
         oaiexceptions.BadArgument),
    ]:
        with pytest.raises(error):
            call()

    client = pyoai_client(server.url)
    assert client.identify().deletedRecord() == "persistent"
    assert [f[0] for f in client.listMetadataFormats()] == ["oai_dc", "rs"]
    assert sorted(s[0] for s in client.listSets()) == sorted(specs)
    header, metadata, _ = client.getRecord(identifier=first.identifier, metadataPrefix="oai_dc")
    assert header.identifier() == first.identifier
    assert metadata.getField("creator") == ["Ústav", "Nakladatel & syn"]
