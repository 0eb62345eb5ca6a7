"""Resumption tokens and sets over real PostgreSQL, with a tiny page size so paging shows."""

from __future__ import annotations

import os
import stat

import pytest

from app.oai import repository, tokens
from app.oai.secret import load_secret, secret_file
from app.oai.sets import domain_leaf, mime_leaf
from app.settings import load_settings
from tests.conftest import PAGE_SIZE, TOKEN
from tests.integration.test_oai_protocol import NS, error_codes, ingest, oai

OAI_PAGE = 3


@pytest.fixture
def settings(database_url, data_dir):
    return load_settings(database_url=database_url, data_dir=data_dir, write_tokens=[TOKEN],
                         page_size=PAGE_SIZE, base_url="http://127.0.0.1:8000",
                         oai_page_size=OAI_PAGE)


def doc_(i: int, collection: str = "vc:a", host: str = "www.example.org", **extra):
    return {"uri": f"https://{host}/d/{i}", "collection": collection, **extra}


def identifiers(doc) -> list[str]:
    return [e.text for e in doc.iterfind(".//o:header/o:identifier", NS)]


def token_of(doc):
    return doc.find(".//o:resumptionToken", NS)


async def harvest(client, **args) -> tuple[list[str], list]:
    """Follow tokens to the end: (identifiers in order, each resumptionToken element)."""
    seen, marks = [], []
    doc = await oai(client, **args)
    while True:
        if error_codes(doc):
            return seen, marks
        seen += identifiers(doc)
        tok = token_of(doc)
        if tok is None:
            return seen, marks
        marks.append(tok)
        if not tok.text:
            return seen, marks
        doc = await oai(client, verb=args["verb"], resumptionToken=tok.text)


async def test_paging_across_tokens(client, auth, db):
    await ingest(client, auth, [doc_(i) for i in range(8)])
    seen, marks = await harvest(client, verb="ListRecords", metadataPrefix="oai_dc")
    ids = [r["id"] for r in await db.fetch("SELECT id FROM resources ORDER BY datestamp, id")]
    assert seen == [f"oai:headwater.local:{i}" for i in ids]
    assert [(m.get("cursor"), m.get("completeListSize")) for m in marks] == \
        [("0", "8"), ("3", "8"), ("6", "8")]
    assert marks[0].get("expirationDate") and marks[0].text
    assert marks[-1].text is None and marks[-1].get("expirationDate") is None


async def test_reusing_a_token_returns_the_same_page(client, auth):
    await ingest(client, auth, [doc_(i) for i in range(7)])
    first = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    text = token_of(first).text
    again = [identifiers(await oai(client, verb="ListIdentifiers", resumptionToken=text))
             for _ in range(2)]
    assert again[0] == again[1] and len(again[0]) == OAI_PAGE
    assert not set(again[0]) & set(identifiers(first))


async def test_complete_list_size_is_counted_once(client, auth):
    await ingest(client, auth, [doc_(i) for i in range(7)])
    first = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    await ingest(client, auth, [doc_(i) for i in range(100, 105)])
    second = await oai(client, verb="ListIdentifiers", resumptionToken=token_of(first).text)
    # carried in the token, not counted again (new records still arrive at the end)
    assert token_of(second).get("completeListSize") == "7"


async def test_bad_resumption_tokens(client, auth, settings):
    await ingest(client, auth, [doc_(i) for i in range(7)])
    first = await oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    text = token_of(first).text
    body, _, mac = text.partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    key = load_secret(settings.secret_key, settings.data_dir)
    expired = tokens.encode(tokens.Token(verb="ListRecords", expires=1, cursor=3, total=7,
                                         prefix="oai_dc"), key)
    foreign = tokens.encode(tokens.Token(verb="ListRecords", expires=2**40, cursor=3, total=7,
                                         prefix="oai_dc"), b"k" * 32)
    for bad in (flipped, text[: len(text) // 2], "garbage", expired, foreign, text + "x"):
        doc = await oai(client, verb="ListRecords", resumptionToken=bad)
        assert error_codes(doc) == ["badResumptionToken"], bad
        assert doc.find("o:request", NS).get("resumptionToken") == bad
    # a ListRecords token does not continue ListIdentifiers
    doc = await oai(client, verb="ListIdentifiers", resumptionToken=text)
    assert error_codes(doc) == ["badResumptionToken"]


async def test_tokens_survive_a_restart(client, auth, app, settings):
    await ingest(client, auth, [doc_(i) for i in range(7)])
    first = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    app.state.oai_context = None  # a fresh worker: the key is read again from the data folder
    doc = await oai(client, verb="ListIdentifiers", resumptionToken=token_of(first).text)
    assert len(identifiers(doc)) == OAI_PAGE
    path = secret_file(settings.data_dir)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ----- sets -------------------------------------------------------------------------------

@pytest.fixture
async def mixed(client, auth):
    await ingest(client, auth, [
        doc_(1, "serials:harvest_2026_11", "www.webarchiv.cz", type="text/html"),
        doc_(2, "serials:harvest_2026_11", "www.webarchiv.cz", type="application/pdf"),
        doc_(3, "serials:harvest_2026_12", "data.webarchiv.cz", type="text/plain"),
        doc_(4, "serials", "nkp.cz", type="text/html"),
        doc_(5, "books", "www.example.org", type="application/atom+xml"),
        doc_(6, "books:old", "www.example.org"),
    ])


async def uris_in(client, db, set_spec: str) -> set[str]:
    seen, _ = await harvest(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                            set=set_spec)
    ids = [int(s.rsplit(":", 1)[1]) for s in seen]
    assert len(ids) == len(set(ids))
    rows = await db.fetch("SELECT uri FROM resources WHERE id = ANY($1)", ids)
    return {r["uri"].split("/")[-1] for r in rows}


@pytest.mark.parametrize("spec,expected", [
    ("collection:serials", {"1", "2", "3", "4"}),
    ("collection:serials:harvest_2026_11", {"1", "2"}),
    ("collection:books", {"5", "6"}),
    ("domain:cz", {"1", "2", "3", "4"}),
    ("domain:cz:webarchiv", {"1", "2", "3"}),
    ("domain:cz:webarchiv:www", {"1", "2"}),
    ("domain:org:example:www", {"5", "6"}),
    ("mime:text", {"1", "3", "4"}),
    ("mime:text:html", {"1", "4"}),
    ("mime:application:atom-xml", {"5"}),
])
async def test_selective_harvest_by_set(client, db, mixed, spec, expected, monkeypatch):
    assert await uris_in(client, db, spec) == expected
    # a set with more exact values than the merge takes is served by the filtered walk
    monkeypatch.setattr(repository, "MERGE_LIMIT", 1)
    assert await uris_in(client, db, spec) == expected


async def test_list_sets_lists_every_level(client, mixed):
    specs, names = [], []
    doc = await oai(client, verb="ListSets")
    while True:
        specs += [e.text for e in doc.iterfind(".//o:setSpec", NS)]
        names += [e.text for e in doc.iterfind(".//o:setName", NS)]
        tok = token_of(doc)
        if tok is None or not tok.text:
            break
        assert tok.get("completeListSize") == str(len(EXPECTED_SETS))
        doc = await oai(client, verb="ListSets", resumptionToken=tok.text)
    assert specs == sorted(specs) and len(specs) == len(set(specs))
    assert set(specs) == EXPECTED_SETS
    assert names[specs.index("domain:cz:webarchiv:www")] == "Host www.webarchiv.cz"


EXPECTED_SETS = {
    "collection:books", "collection:books:old", "collection:serials",
    "collection:serials:harvest_2026_11", "collection:serials:harvest_2026_12",
    "domain:cz", "domain:cz:nkp", "domain:cz:webarchiv", "domain:cz:webarchiv:www",
    "domain:cz:webarchiv:data", "domain:org", "domain:org:example", "domain:org:example:www",
    "mime:application", "mime:application:pdf", "mime:application:atom-xml",
    "mime:text", "mime:text:html", "mime:text:plain",
}


async def test_no_set_hierarchy_while_empty(client):
    doc = await oai(client, verb="ListSets")
    assert error_codes(doc) == ["noSetHierarchy"]


async def test_a_moved_record_keeps_its_identifier(client, auth, db, mixed):
    before = await uris_in(client, db, "collection:books")
    rid = await db.fetchval("SELECT id FROM resources WHERE uri LIKE '%/d/5'")
    await ingest(client, auth, [doc_(5, "serials:harvest_2026_12", "www.example.org",
                                     type="application/atom+xml")])
    assert await uris_in(client, db, "collection:books") == before - {"5"}
    assert "5" in await uris_in(client, db, "collection:serials")
    assert await db.fetchval("SELECT id FROM resources WHERE uri LIKE '%/d/5'") == rid


async def test_sql_and_python_derive_the_same_sets(db):
    uris = ["https://www.webarchiv.cz/a?b", "http://user@[::1]:80/x", "HTTP://Ex-ample.COM.:80",
            "urn:x", "https://a..b/", "https://xn--bcher-kva.example/ü", "http://host_1.org/",
            "https://ÚSTAV.cz/", "ftp://a:b@c.d:21/", "https://", "mailto:x@y.org"]
    for uri in uris:
        assert await db.fetchval("SELECT headwater_oai_domain($1)", uri) == domain_leaf(uri)
    for kind in ["text/html", "application/atom+xml; charset=utf-8", "bad", "Text/HTML",
                 "application/vnd.ms-excel", "a/b c", "a/b/c", "x:y/z;q=1", "/", "a/"]:
        assert await db.fetchval("SELECT headwater_oai_mime($1)", kind) == mime_leaf(kind)
