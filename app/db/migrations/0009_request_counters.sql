-- Counters that let cheap public requests cost the same at any store size (docs/design.md,
-- "Maintained counters"):
--
--   resource_parts.records        every resource row of the part, deleted ones included: the
--                                 OAI-PMH completeListSize of an unfiltered or collection list
--   resource_parts.local_entries  live resources whose URI starts with meta.sitemap_prefix (the
--                                 base URL + '/'): the parts /sitemap.xml lists, found without
--                                 scanning resources. The prefix is a setting, so the server
--                                 stores it and recounts when it changes (app/counters.py).
--   change_hours                  changes per UTC hour, added by the writer: the status page's
--                                 change rate without counting a day of the log per request

ALTER TABLE resource_parts
    ADD COLUMN records bigint NOT NULL DEFAULT 0,
    ADD COLUMN local_entries bigint NOT NULL DEFAULT 0;

CREATE TABLE change_hours (
    hour    timestamptz PRIMARY KEY,  -- date_trunc('hour', datetime, 'UTC')
    changes bigint NOT NULL
);

CREATE FUNCTION headwater_resource_parts_insert_v2() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := (SELECT value::bigint FROM meta WHERE key = 'page_size');
    prefix text := (SELECT value FROM meta WHERE key = 'sitemap_prefix');
BEGIN
    IF n IS NULL THEN
        RAISE EXCEPTION 'meta.page_size is not set: run the migrations first';
    END IF;
    INSERT INTO resource_parts AS p (collection_id, part, entries, bytes, records, local_entries)
    SELECT collection_id, ord / n,
           count(*) FILTER (WHERE NOT deleted),
           coalesce(sum(xml_len) FILTER (WHERE NOT deleted), 0),
           count(*),
           count(*) FILTER (WHERE NOT deleted AND starts_with(uri, prefix))
    FROM new_rows
    GROUP BY 1, 2
    ON CONFLICT (collection_id, part) DO UPDATE
        SET entries = p.entries + EXCLUDED.entries, bytes = p.bytes + EXCLUDED.bytes,
            records = p.records + EXCLUDED.records,
            local_entries = p.local_entries + EXCLUDED.local_entries;
    RETURN NULL;
END;
$$;

CREATE FUNCTION headwater_resource_parts_update_v2() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := (SELECT value::bigint FROM meta WHERE key = 'page_size');
    prefix text := (SELECT value FROM meta WHERE key = 'sitemap_prefix');
BEGIN
    IF n IS NULL THEN
        RAISE EXCEPTION 'meta.page_size is not set: run the migrations first';
    END IF;
    INSERT INTO resource_parts AS p (collection_id, part, entries, bytes, records, local_entries)
    SELECT d.collection_id, d.part, sum(d.e), sum(d.b), sum(d.r), sum(d.l)
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
    HAVING sum(d.e) <> 0 OR sum(d.b) <> 0 OR sum(d.r) <> 0 OR sum(d.l) <> 0
    ON CONFLICT (collection_id, part) DO UPDATE
        SET entries = p.entries + EXCLUDED.entries, bytes = p.bytes + EXCLUDED.bytes,
            records = p.records + EXCLUDED.records,
            local_entries = p.local_entries + EXCLUDED.local_entries;
    RETURN NULL;
END;
$$;

DROP TRIGGER resources_parts_insert ON resources;
DROP TRIGGER resources_parts_update ON resources;
DROP FUNCTION headwater_resource_parts_insert_v1();
DROP FUNCTION headwater_resource_parts_update_v1();

CREATE TRIGGER resources_parts_insert AFTER INSERT ON resources
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION headwater_resource_parts_insert_v2();

CREATE TRIGGER resources_parts_update AFTER UPDATE ON resources
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION headwater_resource_parts_update_v2();

-- Rows written before this migration: one pass, by part.
INSERT INTO resource_parts AS p (collection_id, part, entries, bytes, records)
SELECT collection_id, ord / (SELECT value::bigint FROM meta WHERE key = 'page_size'),
       0, 0, count(*)
FROM resources
GROUP BY 1, 2
ON CONFLICT (collection_id, part) DO UPDATE SET records = EXCLUDED.records;

-- The status page shows the last day: the last two are enough to start from.
INSERT INTO change_hours (hour, changes)
SELECT date_trunc('hour', datetime, 'UTC'), count(*)
FROM changes WHERE datetime > now() - interval '48 hours'
GROUP BY 1;
