"""The status page, /metrics, request ids and security headers."""

from __future__ import annotations

import re

from lxml import html


async def seed(client, auth):
    batch = [{"uri": f"https://example.org/{c}/{i}", "collection": c}
             for c, n in (("vc:a", 3), ("vc:b", 2), ("other", 4)) for i in range(n)]
    batch.append({"uri": "https://example.org/other/0", "collection": "other", "deleted": True})
    r = await client.post("/ingest", json=batch, headers=auth)
    assert r.status_code == 200


async def test_status_page_shows_what_the_database_holds(client, auth, db):
    await seed(client, auth)
    r = await client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    doc = html.fromstring(r.text)
    counts = {row.get("data-collection"): int(row.find_class("resources")[0].text)
              for row in doc.xpath("//tr[@data-collection]")}
    assert counts == {"other": 3, "vc": 5, "vc:a": 3, "vc:b": 2}
    assert doc.get_element_by_id("log-position").text == str(
        await db.fetchval("SELECT position FROM log_head"))
    assert doc.get_element_by_id("changes-24h").text == "10"
    links = {a.get("href") for a in doc.xpath("//a")}
    assert "http://127.0.0.1:8000/.well-known/resourcesync" in links
    assert "http://127.0.0.1:8000/resourcesync/vc:a/capabilitylist.xml" in links
    assert "/docs" in links and "http://127.0.0.1:8000/oai?verb=Identify" in links
    # ResourceSync 1.1 §6.3.3: rel="resourcesync" links to Capability Lists, one per collection
    assert sorted(e.get("href") for e in doc.xpath("//link[@rel='resourcesync']")) == [
        f"http://127.0.0.1:8000/resourcesync/{c}/capabilitylist.xml"
        for c in ["other", "vc", "vc:a", "vc:b"]]
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    css = await client.get("/static/status.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert (await client.get("/static/..%2Fmain.py")).status_code == 404


async def test_empty_source_status_page(client):
    r = await client.get("/")
    assert r.status_code == 200 and "No collections yet" in r.text


async def test_metrics(client, auth):
    await seed(client, auth)
    await client.get("/content/demo/missing")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    ingest = r'headwater_http_requests_total\{method="POST",route="/ingest",status="200"\} [1-9]'
    assert re.search(ingest, text)
    content = r'route="/content/\{collection\}/\{path\}",status="404"'
    assert re.search(r'headwater_http_requests_total\{method="GET",' + content, text)
    bucket = '{le="0.005",method="POST",route="/ingest"}'
    assert "headwater_http_request_duration_seconds_bucket" + bucket in text
    assert "headwater_change_log_position 10.0" in text
    assert re.search(r'headwater_ingest_documents_total\{outcome="changed"\} [1-9]', text)


async def test_request_id_is_echoed_or_made(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


async def test_openapi_documents_each_operation_once(client):
    schema = (await client.get("/openapi.json")).json()
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert "get" in schema["paths"]["/content/{collection}/{path}"]
    assert "head" not in schema["paths"]["/content/{collection}/{path}"]


async def test_status_page_lists_built_dumps(app, client, auth, settings):
    from app.dumps.builder import Builder

    for i in range(3):
        r = await client.put(f"/content/arch/f{i}.txt", content=b"x" * (i + 1), headers=auth)
        assert r.status_code == 201
    await Builder(app.state.pool, settings, app.state.store).build_collection("arch")
    doc = html.fromstring((await client.get("/")).text)
    rows = [[td.text_content() for td in tr.findall("td")]
            for tr in doc.xpath("//section[@id='dumps']//tbody/tr")]
    assert [(r[0], r[1], r[2]) for r in rows] == [("arch", "resourcedump", "1")]
    assert int(rows[0][3]) > 6


async def test_unexpected_errors_are_problems_without_internals(app, settings):
    import httpx

    await app.state.pool.close()  # every route that needs the database now fails
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        r = await c.get("/content/demo/x")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 500 and "Traceback" not in r.text and "asyncpg" not in r.text
