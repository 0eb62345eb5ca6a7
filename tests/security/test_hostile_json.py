"""Huge and deeply nested JSON: a clear 4xx problem, nothing written, the server unharmed.

`POST /ingest` is tested in detail; every other operation that takes a JSON body (found in the
OpenAPI schema, so routes that land later are covered) gets the same hostile bodies and must
answer with a 4xx, never a 5xx.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEPTH = 100_000


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


HOSTILE = {
    "nested arrays": _nested(DEPTH),
    "nested objects": _nested_objects(DEPTH),
    "nested in metadata": b'[{"uri": "http://example.org/n", "collection": "j", "metadata": '
                          b'{"title": ' + _nested(DEPTH) + b"}}]",
    "unclosed nesting": b"[" * DEPTH,
    "many keys": ("[{" + ",".join(f'"k{i}": {i}' for i in range(100_000)) + "}]").encode(),
    "huge string": b'[{"uri": "http://example.org/' + b"a" * 3_000_000 + b'", "collection": "j"}]',
    "huge number": b'[{"uri": "http://example.org/n", "collection": "j", "length": 1'
                   + b"0" * 5000 + b"}]",
    "float overflow": b'[{"uri": "http://example.org/n", "collection": "j", "length": 1e999}]',
    "not json": b"\xff\xfe\x00garbage",
    "empty": b"",
}


async def test_ingest_refuses_hostile_json(client, db):
    for name, body in HOSTILE.items():
        response = await client.post("/ingest", content=body, headers={
            **AUTH, "Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (name, response.status_code,
                                                   response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json"), name
    assert await db.fetchval("SELECT count(*) FROM changes") == 0


async def test_ingest_refuses_a_body_over_the_limit(client, db, settings):
    record = {"uri": "http://example.org/" + "b" * 1900, "collection": "j"}
    one = json.dumps(record).encode()
    body = b"[" + b",".join([one] * (settings.max_body // len(one) + 10)) + b"]"
    assert len(body) > settings.max_body
    declared = await client.post("/ingest", content=body, headers={
        **AUTH, "Content-Type": "application/json"})
    assert declared.status_code == 413

    async def chunks():  # no Content-Length: the limit holds while streaming
        for start in range(0, len(body), 1 << 20):
            yield body[start:start + (1 << 20)]

    streamed = await client.post("/ingest", content=chunks(), headers={
        **AUTH, "Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT count(*) FROM changes") == 0


async def test_ingest_refuses_too_many_records(client, db, settings):
    body = json.dumps([{"uri": f"http://example.org/{i}", "collection": "j"}
                       for i in range(settings.max_batch + 1)])
    response = await client.post("/ingest", content=body, headers={
        **AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    ndjson = "\n".join(json.dumps({"uri": f"http://example.org/{i}", "collection": "j"})
                       for i in range(settings.max_batch + 1))
    response = await client.post("/ingest", content=ndjson, headers={
        **AUTH, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 413
    assert await db.fetchval("SELECT count(*) FROM changes") == 0


def _body_operations(schema: dict) -> list[tuple[str, str, bool]]:
    """(method, path, declares JSON) for every POST, and every operation declaring a JSON body,
    besides /ingest."""
    out = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            content = (op.get("requestBody") or {}).get("content") or {}
            declares = "application/json" in content
            if path != "/ingest" and (declares or method == "post"):
                concrete = path.replace("{collection}", "j").replace("{path}", "x")
                out.append((method.upper(), concrete.replace("{name}", "x"), declares))
    return out


async def test_every_body_operation_refuses_hostile_json(client):
    schema = (await client.get("/openapi.json")).json()
    operations = _body_operations(schema)
    if not operations:
        pytest.skip("no operation besides /ingest takes a body yet")
    for method, path, declares in operations:
        for name in ("nested arrays", "nested objects", "unclosed nesting", "huge string",
                     "not json"):
            response = await client.request(method, path, content=HOSTILE[name], headers={
                **AUTH, "Content-Type": "application/json"})
            where = (method, path, name, response.status_code, response.text[:200])
            assert response.status_code < 500, where
            if declares:
                assert 400 <= response.status_code < 500, where
    assert (await client.get("/healthz")).status_code == 200


def test_live_server_survives_hostile_json(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        for name in ("nested arrays", "nested objects", "many keys"):
            r = c.post("/ingest", content=HOSTILE[name], headers={
                **AUTH, "Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (name, r.status_code)
        assert c.get("/readyz").status_code == 200
