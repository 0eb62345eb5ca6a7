"""`/oai` against real PostgreSQL: every verb, every error condition, the envelope rules, and
schema validity of every response (OAI-PMH.xsd with oai_dc.xsd, oai-identifier.xsd and, for the
`rs` format and the Source Description pointer, the sitemaps.org + ResourceSync schemas).
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from sitemaps.format import w3c
from tests.conftest import schema_path

NS = {
    "o": "http://www.openarchives.org/OAI/2.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "rs": "http://www.openarchives.org/rs/terms/",
    "id": "http://www.openarchives.org/OAI/2.0/oai-identifier",
}
BASE = "http://127.0.0.1:8000/oai"


@cache
def _schemas(folder: str) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """(the shared wrapper as is, a wrapper that also imports the sitemaps/ResourceSync one)."""
    shared = Path(folder)
    plain = etree.XMLSchema(etree.parse(str(shared / "oai-pmh-responses.xsd")))
    uri = shared.as_uri()
    wrapper = f"""<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
            targetNamespace="http://www.openarchives.org/OAI/2.0/" elementFormDefault="qualified">
  <xsd:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/"
              schemaLocation="{uri}/oai_dc.xsd"/>
  <xsd:import namespace="http://www.openarchives.org/OAI/2.0/oai-identifier"
              schemaLocation="{uri}/oai-identifier.xsd"/>
  <xsd:import namespace="http://www.sitemaps.org/schemas/sitemap/0.9"
              schemaLocation="{uri}/resourcesync-documents.xsd"/>
  <xsd:include schemaLocation="{uri}/OAI-PMH.xsd"/>
</xsd:schema>"""
    extended = etree.XMLSchema(etree.fromstring(wrapper.encode(), base_url=uri + "/"))
    return plain, extended


def validate(body: bytes, *, plain: bool = False) -> etree._Element:
    """Parse a response and validate it; `plain=True` uses the shared wrapper unchanged."""
    folder = schema_path("oai-pmh-responses.xsd").parent
    schema = _schemas(str(folder))[0 if plain else 1]
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    doc = etree.fromstring(body)
    schema.assertValid(doc)
    return doc


async def oai(client, method: str = "GET", **args) -> etree._Element:
    if method == "GET":
        r = await client.get("/oai", params=args)
    else:
        r = await client.post("/oai", data=args)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    return validate(r.content)


def error_codes(doc) -> list[str]:
    return [e.get("code") for e in doc.findall("o:error", NS)]


def request_attrs(doc) -> dict[str, str]:
    return dict(doc.find("o:request", NS).attrib)


def rec(i: int, collection: str = "serials:harvest_2026_11", **extra):
    return {"uri": f"https://www.webarchiv.cz/doc/{i}", "collection": collection,
            "type": "text/html", **extra}


async def ingest(client, auth, records) -> None:
    r = await client.post("/ingest", json=records, headers=auth)
    assert r.status_code == 200, r.text


@pytest.fixture
async def small(client, auth):
    """Three live records in two collections, one deleted; metadata on the first."""
    await ingest(client, auth, [
        rec(1, metadata={"title": ["Zpravodaj <1>"], "creator": "Novák & syn",
                         "identifier": "urn:nbn:cz:1"},
            md5="a" * 32, sha256="b" * 64, length=12,
            links=[{"rel": "describedby", "href": "https://www.webarchiv.cz/meta/1"}]),
        rec(2),
        rec(3, collection="serials:other", uri="http://data.example.org/x.json",
            type="application/json"),
    ])
    await ingest(client, auth, [rec(2, deleted=True)])


# ----- Identify ---------------------------------------------------------------------------

async def test_identify(client, small, db):
    doc = await oai(client, verb="Identify")
    ident = doc.find("o:Identify", NS)
    assert ident.findtext("o:baseURL", namespaces=NS) == BASE
    assert ident.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert ident.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert ident.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert ident.findtext("o:adminEmail", namespaces=NS) == "admin@headwater.local"
    earliest = await db.fetchval("SELECT min(datestamp) FROM resources")
    assert ident.findtext("o:earliestDatestamp", namespaces=NS) == \
        earliest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ident.findtext(".//id:repositoryIdentifier", namespaces=NS) == "headwater.local"
    sample = ident.findtext(".//id:sampleIdentifier", namespaces=NS)
    assert sample.startswith("oai:headwater.local:")
    pointer = ident.find(".//rs:ln[@rel='resourcesync']", NS)
    assert pointer.get("href") == "http://127.0.0.1:8000/.well-known/resourcesync"
    # ResourceSync 1.1 §7: the container's urlset carries its one mandatory rs:md
    urlset = ident.find(".//sm:urlset", NS)
    assert [dict(m.attrib) for m in urlset.findall("rs:md", NS)] == [
        {"capability": "description"}]
    assert_md_before_urls(urlset)
    assert request_attrs(doc) == {"verb": "Identify"}


def assert_md_before_urls(urlset) -> None:
    """The top-level rs:md precedes the first <url> (the resync client refuses it after)."""
    tags = [etree.QName(e).localname for e in urlset]
    assert tags.index("md") < tags.index("url")


async def test_identify_on_an_empty_repository(client):
    doc = await oai(client, verb="Identify")
    assert doc.findtext(".//o:earliestDatestamp", namespaces=NS) == "2000-01-01T00:00:00Z"


async def test_identify_refuses_arguments(client):
    doc = await oai(client, verb="Identify", metadataPrefix="oai_dc")
    assert error_codes(doc) == ["badArgument"]
    assert request_attrs(doc) == {}


# ----- envelope and verbs -----------------------------------------------------------------

@pytest.mark.parametrize("query", ["", "verb=Nope", "verb=Identify&verb=Identify"])
async def test_bad_verb_has_no_request_attributes(client, query):
    r = await client.get("/oai?" + query)
    doc = validate(r.content)
    assert error_codes(doc) == ["badVerb"]
    assert request_attrs(doc) == {}
    assert doc.findtext("o:request", namespaces=NS) == BASE
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        doc.findtext("o:responseDate", namespaces=NS))


@pytest.mark.parametrize("args", [
    {"verb": "ListRecords"},  # missing metadataPrefix
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "foo": "bar"},  # illegal argument
    {"verb": "GetRecord", "metadataPrefix": "oai_dc"},  # missing identifier
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-13-01"},  # bad date
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-01-01T00:00:00.5Z"},
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-01-01",
     "until": "2026-02-01T00:00:00Z"},  # mixed granularity
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-02-01",
     "until": "2026-01-01"},  # from after until
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"},  # exclusive
    {"verb": "ListSets", "set": "collection:a"},
    {"verb": "ListMetadataFormats", "metadataPrefix": "oai_dc"},
])
async def test_bad_argument(client, args):
    doc = await oai(client, **args)
    assert error_codes(doc) == ["badArgument"]
    assert request_attrs(doc) == {}


async def test_repeated_argument_is_bad(client):
    r = await client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=rs")
    doc = validate(r.content)
    assert error_codes(doc) == ["badArgument"]
    assert request_attrs(doc) == {}


async def test_post_answers_like_get(client, small):
    got = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    posted = await oai(client, "POST", verb="ListIdentifiers", metadataPrefix="oai_dc")
    ids = lambda d: [e.text for e in d.iterfind(".//o:identifier", NS)]  # noqa: E731
    assert ids(got) == ids(posted) and len(ids(got)) == 3
    assert request_attrs(posted) == {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}


# ----- ListMetadataFormats -----------------------------------------------------------------

async def test_list_metadata_formats(client, small, db):
    doc = await oai(client, verb="ListMetadataFormats")
    prefixes = [e.text for e in doc.iterfind(".//o:metadataPrefix", NS)]
    assert prefixes == ["oai_dc", "rs"]
    rid = await db.fetchval("SELECT id FROM resources WHERE uri = $1", rec(1)["uri"])
    doc = await oai(client, verb="ListMetadataFormats", identifier=f"oai:headwater.local:{rid}")
    assert [e.text for e in doc.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc", "rs"]


async def test_list_metadata_formats_errors(client, small, db):
    doc = await oai(client, verb="ListMetadataFormats", identifier="oai:headwater.local:999999")
    assert error_codes(doc) == ["idDoesNotExist"]
    assert request_attrs(doc) == {"verb": "ListMetadataFormats",
                                  "identifier": "oai:headwater.local:999999"}
    deleted = await db.fetchval("SELECT id FROM resources WHERE deleted")
    doc = await oai(client, verb="ListMetadataFormats", identifier=f"oai:headwater.local:{deleted}")
    assert error_codes(doc) == ["noMetadataFormats"]


# ----- GetRecord ---------------------------------------------------------------------------

async def test_get_record_oai_dc(client, small, db):
    row = await db.fetchrow("SELECT id, datestamp FROM resources WHERE uri = $1", rec(1)["uri"])
    ident = f"oai:headwater.local:{row['id']}"
    r = await client.get("/oai", params={"verb": "GetRecord", "identifier": ident,
                                         "metadataPrefix": "oai_dc"})
    doc = validate(r.content, plain=True)  # the shared wrapper, unchanged, validates oai_dc
    header = doc.find(".//o:header", NS)
    assert header.findtext("o:identifier", namespaces=NS) == ident
    assert header.findtext("o:datestamp", namespaces=NS) == \
        row["datestamp"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [s.text for s in header.iterfind("o:setSpec", NS)] == [
        "collection:serials:harvest_2026_11", "domain:cz:webarchiv:www", "mime:text:html"]
    dc = doc.find(".//oai_dc:dc", NS)
    assert [e.text for e in dc.iterfind("dc:identifier", NS)] == [rec(1)["uri"], "urn:nbn:cz:1"]
    assert dc.findtext("dc:title", namespaces=NS) == "Zpravodaj <1>"
    assert dc.findtext("dc:creator", namespaces=NS) == "Novák & syn"


async def test_get_record_resourcesync_view(client, small, db):
    rid = await db.fetchval("SELECT id FROM resources WHERE uri = $1", rec(1)["uri"])
    doc = await oai(client, verb="GetRecord", identifier=f"oai:headwater.local:{rid}",
                    metadataPrefix="rs")
    urlset = doc.find(".//o:metadata/sm:urlset", NS)
    # ResourceSync 1.1 §7: the mandatory rs:md — a one-entry Resource List as of the datestamp
    datestamp = await db.fetchval("SELECT datestamp FROM resources WHERE id = $1", rid)
    assert [dict(m.attrib) for m in urlset.findall("rs:md", NS)] == [
        {"capability": "resourcelist", "at": w3c(datestamp)}]
    assert_md_before_urls(urlset)
    url = urlset.find("sm:url", NS)
    assert url.findtext("sm:loc", namespaces=NS) == rec(1)["uri"]
    md = url.find("rs:md", NS)
    assert md.get("hash") == f"md5:{'a' * 32} sha-256:{'b' * 64}"
    assert md.get("length") == "12" and md.get("type") == "text/html"
    ln = url.find("rs:ln", NS)
    assert (ln.get("rel"), ln.get("href")) == ("describedby", "https://www.webarchiv.cz/meta/1")


async def test_get_record_by_legacy_identifier(client, auth):
    await ingest(client, auth, [rec(7, oai_identifier="oai:old.example.org:abc/7")])
    doc = await oai(client, verb="GetRecord", identifier="oai:old.example.org:abc/7",
                    metadataPrefix="oai_dc")
    assert doc.findtext(".//o:header/o:identifier", namespaces=NS) == "oai:old.example.org:abc/7"


async def test_get_record_deleted_keeps_its_header(client, small, db):
    row = await db.fetchrow("SELECT r.id, c.datetime FROM resources r JOIN changes c "
                            "ON c.position = r.last_position WHERE r.deleted")
    doc = await oai(client, verb="GetRecord", identifier=f"oai:headwater.local:{row['id']}",
                    metadataPrefix="oai_dc")
    header = doc.find(".//o:header", NS)
    assert header.get("status") == "deleted"
    assert header.findtext("o:datestamp", namespaces=NS) == \
        row["datetime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc.find(".//o:metadata", NS) is None


async def test_get_record_errors(client, small, db):
    rid = await db.fetchval("SELECT min(id) FROM resources")
    doc = await oai(client, verb="GetRecord", identifier=f"oai:headwater.local:{rid}",
                    metadataPrefix="marc21")
    assert error_codes(doc) == ["cannotDisseminateFormat"]
    assert request_attrs(doc) == {"verb": "GetRecord", "identifier": f"oai:headwater.local:{rid}",
                                  "metadataPrefix": "marc21"}
    for missing in ("oai:headwater.local:424242", "oai:other.org:1", "nonsense"):
        doc = await oai(client, verb="GetRecord", identifier=missing, metadataPrefix="oai_dc")
        assert error_codes(doc) == ["idDoesNotExist"]


# ----- ListRecords / ListIdentifiers ------------------------------------------------------

async def test_list_records_and_identifiers(client, small):
    doc = await oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    records = doc.findall(".//o:record", NS)
    assert len(records) == 3
    assert doc.find(".//o:resumptionToken", NS) is None  # complete in one response
    deleted = [r for r in records if r.find("o:header", NS).get("status") == "deleted"]
    assert len(deleted) == 1 and deleted[0].find("o:metadata", NS) is None
    doc = await oai(client, verb="ListIdentifiers", metadataPrefix="rs")
    assert len(doc.findall(".//o:ListIdentifiers/o:header", NS)) == 3


async def test_list_errors(client, small):
    doc = await oai(client, verb="ListRecords", metadataPrefix="marc21")
    assert error_codes(doc) == ["cannotDisseminateFormat"]
    assert request_attrs(doc) == {"verb": "ListRecords", "metadataPrefix": "marc21"}
    doc = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                    **{"from": "2999-01-01"})
    assert error_codes(doc) == ["noRecordsMatch"]
    doc = await oai(client, verb="ListRecords", metadataPrefix="oai_dc", set="collection:nope")
    assert error_codes(doc) == ["noRecordsMatch"]
    doc = await oai(client, verb="ListRecords", metadataPrefix="oai_dc", set="unknown:kind")
    assert error_codes(doc) == ["noRecordsMatch"]


async def test_from_until_at_second_granularity(client, auth, db):
    await ingest(client, auth, [rec(i) for i in range(3)])
    stamps = await db.fetch("SELECT id, datestamp FROM resources ORDER BY id")
    second = stamps[0]["datestamp"].astimezone(UTC).replace(microsecond=0)
    text = second.strftime("%Y-%m-%dT%H:%M:%SZ")
    # the batch's datestamps share a second (or two): until=that second includes all of it
    doc = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                    **{"from": text, "until": text})
    expected = [s for s in stamps if s["datestamp"].replace(microsecond=0) == second]
    assert len(doc.findall(".//o:header", NS)) == len(expected)
    day = second.strftime("%Y-%m-%d")
    doc = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                    **{"from": day, "until": day})
    assert len(doc.findall(".//o:header", NS)) == 3
    later = second + timedelta(seconds=1)
    doc = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                    **{"from": later.strftime("%Y-%m-%dT%H:%M:%SZ")})
    after = [s for s in stamps if s["datestamp"] >= later]
    if after:
        assert len(doc.findall(".//o:header", NS)) == len(after)
    else:
        assert error_codes(doc) == ["noRecordsMatch"]


async def test_base_url_with_a_path_prefix(database_url, data_dir):
    import httpx

    from app.main import create_app
    from app.settings import load_settings

    settings = load_settings(database_url=database_url, data_dir=data_dir, page_size=1000,
                             base_url="https://archive.example.org/rs")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
            r = await c.get("/rs/oai", params={"verb": "Identify"})
    doc = validate(r.content)
    assert doc.findtext(".//o:baseURL", namespaces=NS) == "https://archive.example.org/rs/oai"
    assert doc.findtext("o:request", namespaces=NS) == "https://archive.example.org/rs/oai"
    # the host is a dotted name: it becomes the repository identifier
    assert doc.findtext(".//id:repositoryIdentifier", namespaces=NS) == "archive.example.org"
