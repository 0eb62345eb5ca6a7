"""Path traversal in every path parameter of every route in the OpenAPI schema.

The routes are discovered from the live server's schema, so routes that land later are covered
without editing this test. Every payload is sent raw (no client normalisation). No answer may be
a 5xx, none may carry the bytes of a file outside the content store, and no write may create a
file outside it.
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import TOKEN
from tests.security.rawhttp import exchange

SENTINEL = b"headwater-traversal-sentinel-7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

PAYLOADS = [
    "../../../../../../etc/passwd",
    "..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%5c..%5c..%5cetc%5cpasswd",
    "....//....//....//etc/passwd",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "..%00/..%00/etc/passwd",
    "%00",
    "/etc/passwd",
    "..",
    ".",
    "../sentinel.txt",
    "../../sentinel.txt",
    "..%2Fsentinel.txt",
    "content/../../sentinel.txt",
]


def _operations(schema: dict) -> list[tuple[str, str, list[str]]]:
    out = []
    for path, item in schema["paths"].items():
        params = re.findall(r"{([^}]+)}", path)
        if not params:
            continue
        for method in item:
            if method.upper() in ("GET", "HEAD", "PUT", "DELETE", "POST"):
                out.append((method.upper(), path, params))
    return out


def _fill(path: str, params: list[str], target: str, payload: str) -> str:
    out = path
    for name in params:
        value = payload if name == target else ("trav" if "collection" in name else "x.xml")
        out = out.replace("{" + name + "}", value)
    return out


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_traversal_in_every_path_parameter(live_server_factory, data_dir: Path, tmp_path: Path):
    (data_dir / "sentinel.txt").write_bytes(SENTINEL)
    (data_dir.parent / "sentinel.txt").write_bytes(SENTINEL)
    server = live_server_factory()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    httpx.post(server.url + "/ingest", json=[
        {"uri": "http://example.org/trav", "collection": "trav"}], headers=auth, timeout=30)
    httpx.put(server.url + "/content/trav/x.xml", content=b"<x/>", headers=auth, timeout=30)
    schema = httpx.get(server.url + "/openapi.json", timeout=10).json()
    operations = _operations(schema)
    assert operations, "no route with a path parameter in the schema"
    watched = tmp_path  # data_dir lives under tmp_path: any escaped write would land here
    before = _files(watched)

    jobs = []
    for method, path, params in operations:
        for param in params:
            for payload in PAYLOADS:
                jobs.append((method, _fill(path, params, param, payload)))

    def send(job: tuple[str, str]) -> tuple[str, object]:
        method, target = job
        body = b"escaped?" if method == "PUT" else b""
        return f"{method} {target}", exchange(server.port, method, target, headers=AUTH,
                                              body=body)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, jobs))
    for where, response in results:
        assert response.status == 0 or response.status < 500, \
            f"{where}: {response.status} {response.body[:300]!r}"
        assert SENTINEL not in response.body, f"{where} leaked a file"
        assert b"root:x:0:0" not in response.body, f"{where} leaked /etc/passwd"

    created = {p for p in _files(watched) - before if "server-" not in p.name}
    store = data_dir / "content"
    postgres = data_dir / "postgres"
    outside = [p for p in created if store not in p.parents and postgres not in p.parents]
    assert outside == [], f"files written outside the content store: {outside}"
    # anything stored is content-addressed: its name is the sha-256 of its bytes
    for p in created:
        if store in p.parents and "tmp" not in p.parts:
            assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name
    assert len(results) >= len(PAYLOADS)


ESCAPING = ["..", "%2e%2e", "a/../../b", "a%2Fb", "a\\b", "a%00b", "./a", "a//b", "a%5c..%5cb"]


def test_content_upload_refuses_escaping_paths(live_server, data_dir):
    for payload in ESCAPING:
        response = exchange(live_server.port, "PUT", f"/content/trav/{payload}/f.txt",
                            headers=AUTH, body=b"data")
        assert response.status in (0, 400, 404, 422), (payload, response.status,
                                                       response.body[:200])
    assert not any(p.name == "f.txt" for p in data_dir.rglob("*"))
