-- A version per Resource List part, bumped in the write transaction of every statement that
-- touches one of the part's rows (insert, update, delete-by-flag, a move between collections),
-- even when every count and byte length stays the same. The read path keeps each part's
-- rendered entries as a file named by this version (docs/resourcesync.md, "Cached parts"), so
-- a write makes the next request miss: a cached part is never stale. The counters of 0009 are
-- kept as they were; the update trigger now also writes the parts whose counts did not move.

ALTER TABLE resource_parts ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION headwater_resource_parts_insert_v2() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := (SELECT value::bigint FROM meta WHERE key = 'page_size');
    prefix text := (SELECT value FROM meta WHERE key = 'sitemap_prefix');
BEGIN
    IF n IS NULL THEN
        RAISE EXCEPTION 'meta.page_size is not set: run the migrations first';
    END IF;
    INSERT INTO resource_parts AS p (collection_id, part, entries, bytes, records, local_entries,
                                     version)
    SELECT collection_id, ord / n,
           count(*) FILTER (WHERE NOT deleted),
           coalesce(sum(xml_len) FILTER (WHERE NOT deleted), 0),
           count(*),
           count(*) FILTER (WHERE NOT deleted AND starts_with(uri, prefix)),
           1
    FROM new_rows
    GROUP BY 1, 2
    ON CONFLICT (collection_id, part) DO UPDATE
        SET entries = p.entries + EXCLUDED.entries, bytes = p.bytes + EXCLUDED.bytes,
            records = p.records + EXCLUDED.records,
            local_entries = p.local_entries + EXCLUDED.local_entries,
            version = p.version + 1;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION headwater_resource_parts_update_v2() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := (SELECT value::bigint FROM meta WHERE key = 'page_size');
    prefix text := (SELECT value FROM meta WHERE key = 'sitemap_prefix');
BEGIN
    IF n IS NULL THEN
        RAISE EXCEPTION 'meta.page_size is not set: run the migrations first';
    END IF;
    -- every part a row left or entered, counts moved or not: its bytes may differ at equal length
    INSERT INTO resource_parts AS p (collection_id, part, entries, bytes, records, local_entries,
                                     version)
    SELECT d.collection_id, d.part, sum(d.e), sum(d.b), sum(d.r), sum(d.l), 1
    FROM (
        SELECT collection_id, ord / n AS part, (NOT deleted)::int AS e,
               CASE WHEN deleted THEN 0 ELSE xml_len::bigint END AS b, 1 AS r,
               (NOT deleted AND coalesce(starts_with(uri, prefix), false))::int AS l
        FROM new_rows
        UNION ALL
        SELECT collection_id, ord / n, -(NOT deleted)::int,
               CASE WHEN deleted THEN 0 ELSE -xml_len::bigint END, -1,
               -(NOT deleted AND coalesce(starts_with(uri, prefix), false))::int
        FROM old_rows
    ) d
    GROUP BY d.collection_id, d.part
    ON CONFLICT (collection_id, part) DO UPDATE
        SET entries = p.entries + EXCLUDED.entries, bytes = p.bytes + EXCLUDED.bytes,
            records = p.records + EXCLUDED.records,
            local_entries = p.local_entries + EXCLUDED.local_entries,
            version = p.version + 1;
    RETURN NULL;
END;
$$;
