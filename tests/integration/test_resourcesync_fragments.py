"""The fragments PostgreSQL pre-renders at write time are byte for byte what the Python
builders in `sitemaps/entries.py` produce, for every shape of row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.write.changeset import Doc
from app.write.writer import write_batch
from sitemaps.entries import ChangeRow, ResourceRow, change_url, resource_url
from sitemaps.fixity import Fixity
from tests.conftest import PAGE_SIZE

BASE = "http://127.0.0.1:8000"
DOCS = [
    Doc(uri=f"{BASE}/a?x=1&y=<2>&z=\"q\"&w='s'", collection="vc:a",
        fixity=Fixity(12, "application/ld+json", "0" * 32, "1" * 40, "2" * 64),
        lastmod=datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC),
        links=[{"rel": "describedby", "href": f"{BASE}/m?a=1&b=2", "type": "text/x&y"},
               {"rel": "alternate", "href": f"{BASE}/alt"},
               {"rel": "duplicate", "href": "gsiftp://grid.example/a&b", "type": "text/html",
                "length": 7, "hash": "md5:" + "3" * 32, "modified": "2013-01-03T18:00:00.000000Z",
                "pri": 2},
               {"rel": "http://example.org/rel?a=1&b=2", "href": f"{BASE}/r", "pri": 999999}]),
    Doc(uri=f"{BASE}/é/ü?q=ß", collection="vc:b"),
    Doc(uri=f"{BASE}/only-length", collection="vc", fixity=Fixity(length=0)),
    Doc(uri=f"{BASE}/only-type", collection="vc", fixity=Fixity(type="text/html"),
        lastmod=datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)),
    Doc(uri=f"{BASE}/" + "l" * 2000, collection="vc", fixity=Fixity(sha256="f" * 64)),
]


async def test_resource_and_change_fragments_match_python(db):
    await write_batch(db, DOCS, page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
    # an update and a deletion too
    await write_batch(db, [Doc(uri=DOCS[1].uri, collection="vc:b",
                               fixity=Fixity(md5="9" * 32)),
                           Doc(uri=DOCS[2].uri, collection="vc", deleted=True)],
                      page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
    rows = await db.fetch("SELECT * FROM resources ORDER BY id")
    assert len(rows) == len(DOCS)
    for r in rows:
        if r["deleted"]:
            assert r["url_xml"] is None and r["xml_len"] == 0
            continue
        fixity = Fixity(r["length"], r["type"], r["md5"], r["sha1"], r["sha256"])
        expected = resource_url(ResourceRow(r["uri"], r["lastmod"], fixity, r["links"] or ()))
        assert r["url_xml"] == expected
        assert r["xml_len"] == len(expected.encode())
    changes = await db.fetch("SELECT * FROM changes ORDER BY position")
    assert {c["change"] for c in changes} == {"created", "updated", "deleted"}
    for c in changes:
        fixity = Fixity(c["length"], c["type"], c["md5"], c["sha1"], c["sha256"])
        expected = change_url(ChangeRow(c["uri"], c["change"], c["datetime"], c["lastmod"],
                                        fixity))
        assert c["url_xml"] == expected


async def test_resource_parts_follow_moves_and_deletes(db):
    opts = {"page_size": PAGE_SIZE, "seal_after": timedelta(hours=24)}
    await write_batch(db, DOCS, **opts)

    async def parts() -> dict[tuple[str, int], tuple[int, int]]:
        rows = await db.fetch(
            "SELECT c.name, p.part, p.entries, p.bytes FROM resource_parts p "
            "JOIN collections c ON c.id = p.collection_id WHERE p.entries <> 0")
        return {(r["name"], r["part"]): (r["entries"], r["bytes"]) for r in rows}

    async def truth() -> dict[tuple[str, int], tuple[int, int]]:
        rows = await db.fetch(
            "SELECT c.name, r.ord / $1 AS part, count(*) AS n, sum(r.xml_len) AS b "
            "FROM resources r JOIN collections c ON c.id = r.collection_id "
            "WHERE NOT r.deleted GROUP BY 1, 2", PAGE_SIZE)
        return {(r["name"], r["part"]): (r["n"], r["b"]) for r in rows}

    assert await parts() == await truth()
    await write_batch(db, [Doc(uri=DOCS[0].uri, collection="vc:b"),          # moved
                           Doc(uri=DOCS[3].uri, collection="vc", deleted=True),
                           Doc(uri=DOCS[4].uri, collection="vc", fixity=Fixity(sha256="e" * 64),
                               links=[{"rel": "describedby", "href": f"{BASE}/x"}])], **opts)
    assert await parts() == await truth()
    assert ("vc:a", 0) not in await parts()


@pytest.mark.parametrize("value", [
    "a\ufffeb", "a\uffffb", "x\x01y\x08z\x0b\x0c\x0e\x1f", "tab\tlf\ncr\r&<>\"'", "\ufffd\x7f",
])
async def test_sql_escaping_drops_what_xml_forbids_like_python(db, value):
    """Migration 0010: `headwater_xml_esc` drops what XML 1.0 forbids, byte for byte as
    `sitemaps/format.py` `esc` does (the fragments must equal the Python rendering)."""
    from sitemaps.format import esc

    assert await db.fetchval("SELECT headwater_xml_esc($1)", value) == esc(value)
    assert not any(ch in esc(value) for ch in "\ufffe\uffff\x01\x08\x0b\x0c\x0e\x1f")


async def test_migration_0010_re_renders_fragments_stored_with_forbidden_characters(db):
    """Fragments rendered before migration 0010 may hold U+FFFF: the migration renders them
    again and changes the instance id, so no ETag or cached sealed page of the old bytes is
    reused."""
    from importlib import resources

    await write_batch(db, [Doc(uri=f"{BASE}/old\uffffone", collection="vc:old")],
                      page_size=PAGE_SIZE, seal_after=timedelta(hours=24))
    # what the old escaping stored (the render trigger, off for this, would redo it)
    await db.execute("ALTER TABLE resources DISABLE TRIGGER resources_render")
    await db.execute("UPDATE resources SET url_xml = replace(url_xml, 'oldone', "
                     "'old' || chr(65535) || 'one')")
    await db.execute("ALTER TABLE resources ENABLE TRIGGER resources_render")
    await db.execute("UPDATE changes SET url_xml = replace(url_xml, 'oldone', "
                     "'old' || chr(65535) || 'one')")
    assert await db.fetchval("SELECT count(*) FROM resources WHERE url_xml LIKE '%' || "
                             "chr(65535) || '%'") == 1
    before = await db.fetchval("SELECT value FROM meta WHERE key = 'instance_id'")
    sql = resources.files("app.db").joinpath("migrations/0010_xml_safe_text.sql").read_text()
    await db.execute(sql)
    for table in ("resources", "changes"):
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE url_xml LIKE '%' || "
                                 "chr(65535) || '%'") == 0, table
    assert (await db.fetchval("SELECT url_xml FROM resources")).startswith(
        f"<url><loc>{BASE}/oldone</loc>")
    assert await db.fetchval("SELECT value FROM meta WHERE key = 'instance_id'") != before
