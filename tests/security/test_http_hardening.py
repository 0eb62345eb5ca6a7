"""Slow uploads, bearer tokens, secrets in logs and security headers on HTML."""

from __future__ import annotations

import hmac
import json
import socket
import time
import types

import httpx
import pytest

from tests.conftest import TOKEN

SECRET_KEY = "s3cret-signing-key-" + "k" * 24


def _raw_request(port: int, head: bytes, body_part: bytes, wait: float) -> bytes:
    """Send headers and part of a body, then stall; return whatever the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body_part)
        sock.settimeout(wait)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and received.endswith(b"}"):
                    break
        except TimeoutError:
            pass
        return received


async def test_slow_upload_gets_408_and_nothing_is_kept(live_server_factory, data_dir, db):
    server = live_server_factory(HEADWATER_BODY_READ_TIMEOUT="1s")
    head = (f"PUT /content/slow/file.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: 100000\r\n\r\n").encode()
    started = time.monotonic()
    answer = _raw_request(server.port, head, b"x" * 10, wait=15)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 15
    assert b"application/problem+json" in answer
    assert await db.fetchval("SELECT count(*) FROM resources") == 0
    assert list((data_dir / "content" / "tmp").iterdir()) == []
    # the server is not tied up by the stalled client
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


async def test_slow_ingest_body_gets_408(live_server_factory, db):
    server = live_server_factory(HEADWATER_BODY_READ_TIMEOUT="1s")
    head = (f"POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n").encode()
    answer = _raw_request(server.port, head, b'[{"uri": "http://ex', wait=15)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert await db.fetchval("SELECT count(*) FROM changes") == 0


async def test_wrong_tokens_of_every_length_are_refused(client, db):
    body = json.dumps([{"uri": "http://example.org/t", "collection": "tok"}])
    for length in [0, 1, 5, len(TOKEN) - 1, len(TOKEN), len(TOKEN) + 1, 64, 4096]:
        wrong = (TOKEN * (length // len(TOKEN) + 1))[:length]
        if wrong == TOKEN:
            wrong = TOKEN[:-1] + "y"  # same length, last byte differs
        response = await client.post("/ingest", content=body, headers={
            "Authorization": f"Bearer {wrong}", "Content-Type": "application/json"})
        assert response.status_code in (401, 403), length
        assert response.headers["content-type"].startswith("application/problem+json")
    for header in [f"bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:10]}",
                   f"Bearer  {TOKEN.upper()}"]:
        response = await client.post("/ingest", content=body, headers={
            "Authorization": header, "Content-Type": "application/json"})
        assert response.status_code in (401, 403), header
    assert await db.fetchval("SELECT count(*) FROM resources") == 0


async def test_every_configured_token_is_compared_without_short_circuit(
    settings, monkeypatch
):
    """What a test can prove about constant time: the comparison goes through
    `hmac.compare_digest` (constant time for equal lengths) once for *every* configured token,
    whether the first, the last or none matches — no early exit that would reveal which token
    matched or how many there are. It cannot prove timing on this noisy machine."""
    from app.http import auth
    from app.main import create_app

    tokens = ["first-" + "a" * 30, "second-" + "b" * 30, "third-" + "c" * 30]
    app = create_app(settings.model_copy(update={"write_tokens": tokens}))
    app.state.write_tokens = [t.encode() for t in tokens]
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)

    class _Req:
        def __init__(self, token: str):
            self.headers = {"authorization": f"Bearer {token}"}
            self.app = app
            self.state = types.SimpleNamespace()  # the token's name is recorded there

    for given, accepted in [(tokens[0], True), (tokens[2], True), ("nope", False)]:
        calls.clear()
        try:
            await auth.require_writer(_Req(given))  # type: ignore[arg-type]
            ok = True
        except Exception:
            ok = False
        assert ok is accepted
        assert [b for _, b in calls] == [t.encode() for t in tokens]


async def test_no_secret_in_debug_logs(live_server_factory, tmp_path):
    server = live_server_factory(HEADWATER_LOG_LEVEL="DEBUG", HEADWATER_SECRET_KEY=SECRET_KEY)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    record = [{"uri": "http://example.org/log", "collection": "logs"}]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/ingest", json=record, headers=auth).status_code == 200
        client.put("/content/logs/a.txt", content=b"hello", headers=auth)
        client.delete("/content/logs/a.txt", headers=auth)
        client.post("/ingest", json=[{"bad": 1}], headers=auth)  # a 422 is logged too
        client.post("/ingest", json=record, headers={"Authorization": f"Bearer {TOKEN}zz"})
        client.get("/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_dc"})
        client.get("/", headers=auth)
    server.stop()
    log = server.log.read_text()
    assert '"level": "DEBUG"' in log or '"level": "INFO"' in log, "the log captured nothing"
    assert TOKEN not in log
    assert SECRET_KEY not in log
    assert "Bearer" not in log


@pytest.mark.parametrize("path", ["/", "/docs"])
async def test_security_headers_on_html(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp or "default-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_oai_post_body_is_bounded(client):
    """A form body beyond the OAI-PMH route's limit is refused with 413, not read whole."""
    body = b"verb=Identify&x=" + b"a" * 1024 * 1024  # 16 times app/routes/oai.py's limit
    response = await client.post("/oai", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    async def chunks():  # no Content-Length: the running count must stop it
        yield body[:1000]
        yield body[1000:]

    chunked = await client.post("/oai", content=chunks(), headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 413
    small = await client.post("/oai", content=b"verb=Identify", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert small.status_code == 200 and b"<Identify>" in small.content


def test_slow_oai_post_body_gets_408_and_holds_no_document_slot(live_server_factory):
    """A client trickling its POST /oai body is cut off after HEADWATER_BODY_READ_TIMEOUT, and
    while it trickles it holds none of the document slots (here: the only one)."""
    server = live_server_factory(HEADWATER_BODY_READ_TIMEOUT="3s",
                                 HEADWATER_DOCUMENT_CONCURRENCY="1")
    head = (b"POST /oai HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(head + b"verb=Iden")
        time.sleep(0.5)
        other = httpx.get(server.url + "/oai", params={"verb": "Identify"}, timeout=10)
        assert other.status_code == 200, other.text  # the slot was free
        sock.settimeout(20)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"application/problem+json" in answer


def test_request_target_counts_toward_the_head_limit(live_server_factory):
    """A request line longer than HEADWATER_MAX_HEADER_SIZE is refused with 431 like a large
    header would be (app/http/limits.py RequestGuard)."""
    from tests.security.rawhttp import exchange

    server = live_server_factory(HEADWATER_MAX_HEADER_SIZE="2048")
    long_query = "/healthz?" + "q" * 8000
    refused = exchange(server.port, "GET", "/resourcesync/a/capabilitylist.xml?" + "q" * 8000)
    assert refused.status == 431, refused
    assert exchange(server.port, "GET", long_query[:100]).status == 200


@pytest.mark.parametrize("ctype", ["text/html", "image/svg+xml", "application/octet-stream"])
async def test_uploaded_content_is_served_sandboxed(client, auth, ctype):
    """Uploaded bytes run no script on this origin: a sandbox CSP without script-src
    'unsafe-inline' (the /docs policy), and nosniff."""
    page = b"<html><script>alert(document.domain)</script></html>"
    put = await client.put("/content/sec/page", content=page, headers={
        **auth, "Content-Type": ctype})
    assert put.status_code == 201, put.text
    response = await client.get("/content/sec/page")
    assert response.status_code == 200 and response.content == page
    csp = [d.strip() for d in response.headers["content-security-policy"].split(";")]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
