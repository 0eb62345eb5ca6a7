"""A sealed Change List page, once on disk, is served without touching the database."""

from __future__ import annotations


async def test_repeat_requests_for_a_sealed_page_need_no_database(app, client, auth):
    batch = [{"uri": f"https://example.org/m/{i}", "collection": "memo"} for i in range(1001)]
    assert (await client.post("/ingest", json=batch, headers=auth)).status_code == 200
    first = await client.get("/resourcesync/memo/changelist/0.xml")
    assert first.status_code == 200 and "until=" in first.text.split("<url>", 1)[0]
    await app.state.pool.close()  # from here on, any database access fails
    again = await client.get("/resourcesync/memo/changelist/0.xml")
    assert again.status_code == 200
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert "immutable" in again.headers["cache-control"]
    gz = await client.get("/resourcesync/memo/changelist/0.xml",
                          headers={"Accept-Encoding": "gzip"})
    assert gz.status_code == 200 and gz.headers.get("content-encoding") == "gzip"
    assert (await client.get("/resourcesync/memo/changelist/0.xml",
                             headers={"If-None-Match": first.headers["etag"]})).status_code == 304
