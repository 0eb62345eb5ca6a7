"""Control characters, NUL, lone surrogates and invalid UTF-8 in ingest records.

PostgreSQL `text` cannot hold NUL and XML 1.0 cannot carry C0 controls other than tab, LF and CR,
so such values are refused up front with 422 naming the field — never a 500, never ill-formed XML.
"""

from __future__ import annotations

import json

import pytest

# C0 controls and DEL, and the two noncharacters XML 1.0 also forbids (U+FFFE, U+FFFF)
BAD_CHARS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\x7f", "\ufffe",
             "\uffff"]


def _record(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {"uri": "http://example.org/ok", "collection": "sec"}
    base.update(extra)
    return base


def _cases(ch: str) -> list[tuple[dict[str, object], str]]:
    return [
        (_record(uri=f"http://example.org/a{ch}b"), "/0/uri"),
        (_record(type=f"text/html; charset=a{ch}b"), "/0/type"),
        (_record(metadata={"title": f"a{ch}b"}), "/0/metadata/title"),
        (_record(metadata={"creator": ["fine", f"a{ch}b"]}), "/0/metadata/creator/1"),
        (_record(links=[{"rel": f"a{ch}b", "href": "http://example.org/x"}]), "/0/links/0/rel"),
        (_record(links=[{"rel": "alternate", "href": f"http://example.org/{ch}"}]),
         "/0/links/0/href"),
        (_record(links=[{"rel": "alternate", "href": "http://example.org/x",
                         "type": f"text/plain;x={ch}"}]), "/0/links/0/type"),
        (_record(oai_identifier=f"oai:example.org:a{ch}b"), "/0/oai_identifier"),
    ]


@pytest.mark.parametrize("ch", BAD_CHARS, ids=[f"{ord(c):02x}" for c in BAD_CHARS])
async def test_control_character_refused_naming_the_field(client, auth, db, ch):
    for record, pointer in _cases(ch):
        response = await client.post("/ingest", content=json.dumps([record]), headers={
            **auth, "Content-Type": "application/json"})
        assert response.status_code == 422, (pointer, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        pointers = [e["pointer"] for e in response.json()["errors"]]
        assert pointer in pointers, (pointer, pointers)
    assert await db.fetchval("SELECT count(*) FROM changes") == 0
    assert await db.fetchval("SELECT count(*) FROM resources") == 0


@pytest.mark.parametrize("ndjson_line", [
    b'{"uri": "http://example.org/\\u0000", "collection": "sec"}',
    b'{"uri": "http://example.org/\\uffff", "collection": "sec"}',
    '{"uri": "http://example.org/x", "collection": "sec", "metadata": {"title": "\ufffe"}}'
    .encode(),
    b'{"uri": "http://example.org/x", "collection": "sec", "metadata": {"title": "\\u0007"}}',
])
async def test_control_character_refused_in_ndjson(client, auth, db, ndjson_line):
    response = await client.post("/ingest", content=ndjson_line, headers={
        **auth, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"].startswith("/0/")
    assert await db.fetchval("SELECT count(*) FROM resources") == 0


@pytest.mark.parametrize("body", [
    b'[{"uri": "http://example.org/\\ud800", "collection": "sec"}]',  # lone high surrogate
    b'[{"uri": "http://example.org/\\udfff", "collection": "sec"}]',  # lone low surrogate
    b'[{"uri": "http://example.org/\xed\xa0\x80", "collection": "sec"}]',  # CESU surrogate bytes
    b'[{"uri": "http://example.org/\xff\xfe", "collection": "sec"}]',  # not UTF-8 at all
    b'[{"uri": "http://example.org/x", "collection": "sec", "metadata": {"title": "\xc3"}}]',
])
async def test_invalid_unicode_refused(client, auth, db, body):
    response = await client.post("/ingest", content=body, headers={
        **auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT count(*) FROM resources") == 0


async def test_tab_newline_and_carriage_return_are_allowed_in_metadata(client, auth, db):
    record = _record(metadata={"description": "line one\nline\ttwo\r\nthree"})
    response = await client.post("/ingest", content=json.dumps([record]), headers={
        **auth, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    stored = await db.fetchval("SELECT metadata FROM resources")
    assert stored["description"] == ["line one\nline\ttwo\r\nthree"]


@pytest.mark.parametrize("encoded", ["%EF%BF%BF", "%EF%BF%BE", "%01", "a%7Fb"])
async def test_forbidden_character_refused_in_a_content_path(client, auth, db, encoded):
    response = await client.put(f"/content/sec/x{encoded}.txt", content=b"x", headers=auth)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "path" in response.json()["title"]
    assert await db.fetchval("SELECT count(*) FROM resources") == 0


@pytest.mark.parametrize("ctype", [
    "text/html; charset=\x01", "not a type", "text/", "text/html<script>", "/plain",
])
async def test_upload_content_type_checked_like_ingest_type(client, auth, db, ctype):
    response = await client.put("/content/sec/file.txt", content=b"x", headers={
        **auth, "Content-Type": ctype})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["title"] == "invalid Content-Type"
    assert body["errors"][0]["pointer"] == "/headers/content-type"
    assert await db.fetchval("SELECT count(*) FROM resources") == 0
    fine = await client.put("/content/sec/file.txt", content=b"x", headers={
        **auth, "Content-Type": "Text/Plain; charset=utf-8"})
    assert fine.status_code == 201 and await db.fetchval("SELECT type FROM resources") == \
        "text/plain"
