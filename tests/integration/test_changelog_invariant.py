"""docs/rules.md §1.1: a reader that has seen positions up to P never later finds a committed
change below P, and datetimes follow positions. Many concurrent writers, one concurrent reader."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from app.db.connect import connect
from app.write.changeset import Doc
from app.write.writer import write_batch
from sitemaps.fixity import Fixity

WRITERS = 8
BATCHES = 25


async def _writer(url: str, n: int) -> int:
    conn = await connect(url)
    written = 0
    try:
        for b in range(BATCHES):
            size = random.randint(1, 40)
            docs = [Doc(uri=f"https://example.org/w{n}/b{b}/{i}", collection=f"c{n % 3}:x{n}")
                    for i in range(size)]
            result = await write_batch(conn, docs, page_size=50, seal_after=timedelta(hours=1))
            written += result.changed
            await asyncio.sleep(random.random() / 200)
    finally:
        await conn.close()
    return written


async def test_readers_never_see_a_change_below_what_they_saw(database_url):
    reader = await connect(database_url)
    seen = 0
    last_dt = None
    violations: list[str] = []
    stop = asyncio.Event()

    async def read() -> None:
        nonlocal seen, last_dt
        while True:
            finished = stop.is_set()
            below = await reader.fetchval("SELECT count(*) FROM changes WHERE position <= $1", seen)
            if below != seen:
                violations.append(f"{below} rows at or below {seen}")
            rows = await reader.fetch(
                "SELECT position, datetime FROM changes WHERE position > $1 ORDER BY position",
                seen)
            for r in rows:
                if r["position"] != seen + 1:
                    violations.append(f"gap: saw {seen}, next visible {r['position']}")
                if last_dt is not None and r["datetime"] <= last_dt:
                    violations.append(f"datetime went back at {r['position']}")
                seen, last_dt = r["position"], r["datetime"]
            if finished:
                return
            await asyncio.sleep(0)

    reading = asyncio.create_task(read())
    totals = await asyncio.gather(*(_writer(database_url, n) for n in range(WRITERS)))
    stop.set()
    await reading
    await reader.close()
    assert violations == []
    assert seen == sum(totals) > WRITERS * BATCHES


async def test_per_collection_sequences_are_dense(database_url):
    await asyncio.gather(*(_writer(database_url, n) for n in range(4)))
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT set_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi, "
            "bool_and(ok) AS ordered FROM ("
            "  SELECT set_id, seq, position > lag(position, 1, 0::bigint) "
            "         OVER (PARTITION BY set_id ORDER BY seq) AS ok FROM set_changes) s "
            "GROUP BY set_id")
        for r in rows:
            # no time-based sealing here (1 h), so every set's sequence is dense from 0
            assert (r["lo"], r["hi"]) == (0, r["n"] - 1)
            assert r["ordered"]
        counters = dict(await conn.fetch("SELECT id, change_seq FROM collections"))
        for r in rows:
            assert counters[r["set_id"]] == r["n"]
    finally:
        await conn.close()


async def test_quiet_pages_seal_by_age(database_url):
    from app.write.writer import seal_stale_pages

    conn = await connect(database_url)
    try:
        await write_batch(conn, [Doc(uri="https://e.org/1", collection="q")], page_size=50,
                          seal_after=timedelta(hours=1))
        assert await seal_stale_pages(conn, page_size=50, seal_after=timedelta(hours=1)) == []
        await asyncio.sleep(0.05)
        sealed = await seal_stale_pages(conn, page_size=50, seal_after=timedelta(milliseconds=10))
        assert sealed == ["q"]
        assert await conn.fetchval("SELECT change_seq FROM collections WHERE name='q'") == 50
        # the next change opens page 2
        await write_batch(conn, [Doc(uri="https://e.org/2", collection="q")], page_size=50,
                          seal_after=timedelta(hours=1))
        assert await conn.fetchval("SELECT max(seq) FROM set_changes") == 50
    finally:
        await conn.close()


async def test_log_rows_point_at_their_resource_and_every_ancestor(database_url):
    """The log keeps no foreign keys (migration 0006): the writer is what keeps its references
    whole. Creates, updates, moves and deletes, then every reference is checked."""
    conn = await connect(database_url)
    try:
        U = "https://example.org/r/"
        await write_batch(conn, [Doc(uri=f"{U}{i}", collection="a:b:c") for i in range(5)],
                          page_size=50, seal_after=timedelta(hours=1))
        await write_batch(conn, [
            Doc(uri=f"{U}0", collection="a:b:c", fixity=Fixity(md5="1" * 32)),  # updated
            Doc(uri=f"{U}1", collection="a:x"),  # moved: deleted in a:b:c, created in a:x
            Doc(uri=f"{U}2", collection="a:b:c", deleted=True),
            Doc(uri=f"{U}9", collection="z"),
        ], page_size=50, seal_after=timedelta(hours=1))
        assert await conn.fetchval(
            "SELECT count(*) FROM changes c LEFT JOIN resources r ON r.id = c.resource_id "
            "WHERE r.id IS NULL OR r.uri <> c.uri") == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM changes c LEFT JOIN collections k ON k.id = c.collection_id "
            "WHERE k.id IS NULL") == 0
        # each change is listed in exactly its leaf collection and that leaf's ancestors
        listed = await conn.fetch(
            "SELECT c.position, c.change, leaf.name AS leaf, "
            "       array_agg(s.name ORDER BY s.depth DESC) AS sets "
            "FROM changes c JOIN collections leaf ON leaf.id = c.collection_id "
            "LEFT JOIN set_changes sc ON sc.position = c.position "
            "LEFT JOIN collections s ON s.id = sc.set_id "
            "GROUP BY c.position, c.change, leaf.name ORDER BY c.position")
        assert len(listed) == 10
        for row in listed:
            parts = row["leaf"].split(":")
            assert row["sets"] == [":".join(parts[:k]) for k in range(len(parts), 0, -1)]
        assert [(r["change"], r["leaf"]) for r in listed[5:]] == [
            ("updated", "a:b:c"), ("deleted", "a:b:c"), ("created", "a:x"),
            ("deleted", "a:b:c"), ("created", "z"),
        ]
        assert await conn.fetchval(
            "SELECT count(*) FROM set_changes sc LEFT JOIN changes c USING (position) "
            "WHERE c.position IS NULL") == 0
    finally:
        await conn.close()
