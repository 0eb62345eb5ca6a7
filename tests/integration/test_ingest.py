"""POST /ingest against real PostgreSQL: atomic batches, problems, change derivation."""

from __future__ import annotations

import orjson


def rec(i: int, **extra):
    return {"uri": f"https://example.org/doc/{i}", "collection": "vc:a", **extra}


async def counts(db):
    return (
        await db.fetchval("SELECT count(*) FROM resources"),
        await db.fetchval("SELECT count(*) FROM changes"),
    )


async def test_batch_is_written_with_changes(client, auth, db):
    r = await client.post("/ingest", json=[rec(i, md5="a" * 32) for i in range(5)], headers=auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 5, "changed": 5, "unchanged": 0}
    assert await counts(db) == (5, 5)
    rows = await db.fetch("SELECT position, change FROM changes ORDER BY position")
    assert [r["position"] for r in rows] == [1, 2, 3, 4, 5]
    assert {r["change"] for r in rows} == {"created"}
    # the leaf and its parent each list the five changes
    sets = await db.fetch(
        "SELECT c.name, count(*) FROM set_changes s JOIN collections c ON c.id = s.set_id "
        "GROUP BY c.name ORDER BY c.name")
    assert [(s["name"], s["count"]) for s in sets] == [("vc", 5), ("vc:a", 5)]


async def test_resending_a_batch_is_harmless(client, auth, db):
    batch = [rec(i, sha256="b" * 64, metadata={"title": f"T{i}"}) for i in range(3)]
    await client.post("/ingest", json=batch, headers=auth)
    r = await client.post("/ingest", json=batch, headers=auth)
    assert r.json() == {"received": 3, "changed": 0, "unchanged": 3}
    assert await counts(db) == (3, 3)


async def test_update_and_delete_are_derived(client, auth, db):
    await client.post("/ingest", json=[rec(1, length=1), rec(2)], headers=auth)
    r = await client.post("/ingest", json=[rec(1, length=2), rec(2, deleted=True)], headers=auth)
    assert r.json()["changed"] == 2
    rows = await db.fetch("SELECT uri, change FROM changes ORDER BY position")
    assert [r["change"] for r in rows] == ["created", "created", "updated", "deleted"]
    assert await db.fetchval("SELECT deleted FROM resources WHERE uri = $1", rec(2)["uri"])


async def test_one_bad_record_rejects_the_batch(client, auth, db):
    batch = [rec(i) for i in range(10)]
    batch[7]["sha256"] = "abc"
    r = await client.post("/ingest", json=batch, headers=auth)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["title"]
    assert body["errors"][0]["pointer"] == "/7/sha256"
    assert await counts(db) == (0, 0)


async def test_ndjson(client, auth, db):
    body = b"\n".join(orjson.dumps(rec(i)) for i in range(4)) + b"\n"
    r = await client.post("/ingest", content=body,
                          headers={**auth, "Content-Type": "application/x-ndjson"})
    assert r.json()["changed"] == 4
    bad = orjson.dumps(rec(1)) + b"\n" + orjson.dumps(rec(2, uri="nope")) + b"\n"
    r = await client.post("/ingest", content=bad,
                          headers={**auth, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/1/uri"


async def test_malformed_json_is_422(client, auth):
    r = await client.post("/ingest", content=b"[{]",
                          headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["title"] == "malformed JSON"


async def test_unknown_change_key_is_refused(client, auth, db):
    r = await client.post("/ingest", json=[rec(1, change="modified")], headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"pointer": "/0/change", "detail": "unknown key"}]
    assert await counts(db) == (0, 0)


async def test_auth_is_required(client, db):
    r = await client.post("/ingest", json=[rec(1)])
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = await client.post("/ingest", json=[rec(1)], headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert await counts(db) == (0, 0)


async def test_oversized_body_is_413(app, client, auth, db):
    app.state.settings.max_body = 2048
    r = await client.post("/ingest", json=[rec(i) for i in range(100)], headers=auth)
    assert r.status_code == 413
    assert await counts(db) == (0, 0)


async def test_too_many_records_is_413(app, client, auth, db):
    app.state.settings.max_batch = 5
    r = await client.post("/ingest", json=[rec(i) for i in range(6)], headers=auth)
    assert r.status_code == 413
    assert await counts(db) == (0, 0)


async def test_move_between_collections(client, auth, db):
    await client.post("/ingest", json=[rec(1)], headers=auth)
    await client.post("/ingest", json=[{**rec(1), "collection": "vc:b"}], headers=auth)
    rows = await db.fetch(
        "SELECT ch.change, c.name FROM changes ch JOIN collections c ON c.id = ch.collection_id "
        "ORDER BY position")
    assert [(r["change"], r["name"]) for r in rows] == [
        ("created", "vc:a"), ("deleted", "vc:a"), ("created", "vc:b")]
    # the common parent sees all three; each leaf sees its own
    per_set = dict(await db.fetch(
        "SELECT c.name, count(*) FROM set_changes s JOIN collections c ON c.id = s.set_id "
        "GROUP BY c.name"))
    assert per_set == {"vc": 3, "vc:a": 2, "vc:b": 1}


async def test_duplicate_oai_identifier_is_a_problem(client, auth, db):
    await client.post("/ingest", json=[rec(1, oai_identifier="oai:x:1")], headers=auth)
    r = await client.post("/ingest", json=[rec(2, oai_identifier="oai:x:1")], headers=auth)
    assert r.status_code == 422
    assert await counts(db) == (1, 1)


async def test_datetimes_strictly_increase(client, auth, db):
    for i in range(3):
        await client.post("/ingest", json=[rec(j + 100 * i) for j in range(50)], headers=auth)
    rows = await db.fetch("SELECT datetime FROM changes ORDER BY position")
    stamps = [r["datetime"] for r in rows]
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
    assert await db.fetchval("SELECT position FROM log_head") == 150


async def test_stored_state_round_trips_through_create_and_update(client, auth, db):
    """New rows go in by COPY, changed rows by a jsonb parameter: both store every field as
    sent (metadata as lists, links, a lastmod with an offset), and clearing a field clears it."""
    full = rec(7, length=10, type="text/html; charset=utf-8", md5="A" * 32, sha1="b" * 40,
               sha256="c" * 64, lastmod="2026-01-02T03:04:05.123456+01:00",
               metadata={"title": "T", "creator": ["x", "y"]},
               links=[{"rel": "describedby", "href": "https://example.org/d.xml",
                       "type": "application/xml"}],
               oai_identifier="oai:example.org:7")
    stored = ("SELECT length, type, md5, sha1, sha256, lastmod, metadata, links, oai_identifier, "
              "deleted FROM resources WHERE uri = $1")
    for round_ in range(2):  # created, then updated with the same values from another state
        if round_:
            r = await client.post("/ingest", json=[rec(7, length=1)], headers=auth)
            assert r.json()["changed"] == 1
        r = await client.post("/ingest", json=[full], headers=auth)
        assert r.json()["changed"] == 1, r.text
        row = await db.fetchrow(stored, full["uri"])
        assert row["length"] == 10 and row["type"] == "text/html"
        assert (row["md5"], row["sha1"], row["sha256"]) == ("a" * 32, "b" * 40, "c" * 64)
        assert row["lastmod"].isoformat() == "2026-01-02T02:04:05.123456+00:00"
        assert row["metadata"] == {"title": ["T"], "creator": ["x", "y"]}
        assert row["links"] == full["links"]
        assert row["oai_identifier"] == "oai:example.org:7" and not row["deleted"]
    # an update that leaves fields out clears them (a record is the whole state)
    r = await client.post("/ingest", json=[rec(7)], headers=auth)
    assert r.json()["changed"] == 1
    row = await db.fetchrow(stored, full["uri"])
    assert row["md5"] is None and row["oai_identifier"] is None and row["length"] is None
    # SQL NULL, not a JSON null (which would decode to None as well)
    assert await db.fetchval("SELECT metadata IS NULL AND links IS NULL FROM resources "
                             "WHERE uri = $1", full["uri"])
    log = await db.fetch("SELECT change, md5, length FROM changes ORDER BY position")
    assert [(c["change"], c["md5"], c["length"]) for c in log] == [
        ("created", "a" * 32, 10), ("updated", None, 1), ("updated", "a" * 32, 10),
        ("updated", None, None)]
