-- Pre-rendered document fragments and per-part counts for the ResourceSync documents.
--
-- A 50,000-URL page is mostly formatting: dates, hashes, escaping. Doing it once per row at
-- write time, in PostgreSQL, lets a page be served by concatenating stored strings (about
-- 71 ms for 50,000 fragments against 140 ms formatting per row, docs/benchmarks.md). The SQL here
-- must produce exactly the bytes `sitemaps/entries.py` produces; a test compares them.
--
--   resources.url_xml   the resource's Resource List `<url>…</url>\n` (NULL while deleted)
--   resources.xml_len   its length in bytes (0 while deleted): sizes parts against 50 MB
--   changes.url_xml     the change's Change List `<url>…</url>\n`
--   resource_parts      live entries and bytes per (leaf collection, ord / page size): the
--                       Resource List Index is built from it without scanning resources

CREATE FUNCTION headwater_xml_esc(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(replace(value,
        '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')
$$;

-- W3C date-time, UTC, always microseconds, upper-case Z (sitemaps/format.py `w3c`).
-- STABLE like to_char itself: a SQL function declared more strictly than its body is never
-- inlined, and a call per date then costs more than the formatting (these only run in
-- triggers and queries, never in indexes, so STABLE is all they need).
CREATE FUNCTION headwater_w3c(value timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- `md5:… sha-1:… sha-256:…`, or NULL when no digest is known.
CREATE FUNCTION headwater_hash(md5 text, sha1 text, sha256 text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(concat_ws(' ', 'md5:' || md5, 'sha-1:' || sha1, 'sha-256:' || sha256), '')
$$;

-- ` name="value"` or '' for NULL.
CREATE FUNCTION headwater_attr(name text, value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(' ' || name || '="' || headwater_xml_esc(value) || '"', '')
$$;

-- The same for values that never need escaping (digits, hex, date-times, fixed words):
-- five replace() calls per attribute are most of the cost of a fragment.
CREATE FUNCTION headwater_attr_raw(name text, value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(' ' || name || '="' || value || '"', '')
$$;

-- `<rs:ln rel=… href=… [type=…]/>` for each link, in list order.
CREATE FUNCTION headwater_links_xml(links jsonb) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
        '<rs:ln' || headwater_attr('rel', l.v ->> 'rel') || headwater_attr('href', l.v ->> 'href')
        || headwater_attr('type', l.v ->> 'type') || '/>', '' ORDER BY l.i), '')
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(links) = 'array' THEN links END)
         WITH ORDINALITY AS l(v, i)
$$;

CREATE FUNCTION headwater_resource_url(
    uri text, lastmod timestamptz, md5 text, sha1 text, sha256 text, length bigint, type text,
    links jsonb
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '<url><loc>' || headwater_xml_esc(uri) || '</loc>'
        || coalesce('<lastmod>' || headwater_w3c(lastmod) || '</lastmod>', '')
        || CASE WHEN coalesce(md5, sha1, sha256, length::text, type) IS NULL THEN ''
                ELSE '<rs:md' || headwater_attr_raw('hash', headwater_hash(md5, sha1, sha256))
                     || headwater_attr_raw('length', length::text)
                     || headwater_attr('type', type) || '/>' END
        -- most rows have no links: skip the (never inlined) set-returning subquery
        || CASE WHEN links IS NULL THEN '' ELSE headwater_links_xml(links) END
        || E'</url>\n'
$$;

CREATE FUNCTION headwater_change_url(
    uri text, change text, datetime timestamptz, lastmod timestamptz, md5 text, sha1 text,
    sha256 text, length bigint, type text
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '<url><loc>' || headwater_xml_esc(uri) || '</loc>'
        || CASE WHEN change = 'deleted' THEN ''
                ELSE coalesce('<lastmod>' || headwater_w3c(lastmod) || '</lastmod>', '') END
        || '<rs:md' || headwater_attr_raw('change', change)
        || headwater_attr_raw('datetime', headwater_w3c(datetime))
        || CASE WHEN change = 'deleted' THEN ''
                ELSE headwater_attr_raw('hash', headwater_hash(md5, sha1, sha256))
                     || headwater_attr_raw('length', length::text)
                     || headwater_attr('type', type)
                END
        || E'/></url>\n'
$$;

ALTER TABLE resources ADD COLUMN url_xml text, ADD COLUMN xml_len integer NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN url_xml text;

CREATE FUNCTION headwater_render_resource_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.deleted THEN
        NEW.url_xml := NULL;
        NEW.xml_len := 0;
    ELSE
        NEW.url_xml := headwater_resource_url(NEW.uri, NEW.lastmod, NEW.md5, NEW.sha1,
                                              NEW.sha256, NEW.length, NEW.type, NEW.links);
        NEW.xml_len := octet_length(NEW.url_xml);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER resources_render BEFORE INSERT OR UPDATE ON resources
    FOR EACH ROW EXECUTE FUNCTION headwater_render_resource_v1();

CREATE FUNCTION headwater_render_change_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.url_xml := headwater_change_url(NEW.uri, NEW.change, NEW.datetime, NEW.lastmod, NEW.md5,
                                        NEW.sha1, NEW.sha256, NEW.length, NEW.type);
    RETURN NEW;
END;
$$;

CREATE TRIGGER changes_render BEFORE INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION headwater_render_change_v1();

CREATE TABLE resource_parts (
    collection_id integer NOT NULL REFERENCES collections (id),
    part          bigint NOT NULL,
    entries       bigint NOT NULL,
    bytes         bigint NOT NULL,
    PRIMARY KEY (collection_id, part)
);

-- Statement-level, from the transition tables: one aggregated upsert per write statement
-- (writers hold the log append lock, so these upserts never race).
CREATE FUNCTION headwater_resource_parts_insert_v1() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := (SELECT value::bigint FROM meta WHERE key = 'page_size');
BEGIN
    IF n IS NULL THEN
        RAISE EXCEPTION 'meta.page_size is not set: run the migrations first';
    END IF;
    INSERT INTO resource_parts AS p (collection_id, part, entries, bytes)
    SELECT collection_id, ord / n, count(*), sum(xml_len)
    FROM new_rows WHERE NOT deleted
    GROUP BY 1, 2
    ON CONFLICT (collection_id, part) DO UPDATE
        SET entries = p.entries + EXCLUDED.entries, bytes = p.bytes + EXCLUDED.bytes;
    RETURN NULL;
END;
$$;

CREATE FUNCTION headwater_resource_parts_update_v1() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := (SELECT value::bigint FROM meta WHERE key = 'page_size');
BEGIN
    IF n IS NULL THEN
        RAISE EXCEPTION 'meta.page_size is not set: run the migrations first';
    END IF;
    INSERT INTO resource_parts AS p (collection_id, part, entries, bytes)
    SELECT d.collection_id, d.part, sum(d.e), sum(d.b)
    FROM (
        SELECT collection_id, ord / n AS part, 1 AS e, xml_len::bigint AS b
        FROM new_rows WHERE NOT deleted
        UNION ALL
        SELECT collection_id, ord / n, -1, -xml_len::bigint
        FROM old_rows WHERE NOT deleted
    ) d
    GROUP BY d.collection_id, d.part
    HAVING sum(d.e) <> 0 OR sum(d.b) <> 0
    ON CONFLICT (collection_id, part) DO UPDATE
        SET entries = p.entries + EXCLUDED.entries, bytes = p.bytes + EXCLUDED.bytes;
    RETURN NULL;
END;
$$;

CREATE TRIGGER resources_parts_insert AFTER INSERT ON resources
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION headwater_resource_parts_insert_v1();

CREATE TRIGGER resources_parts_update AFTER UPDATE ON resources
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION headwater_resource_parts_update_v1();

-- Rows written before this migration (none on a fresh database).
UPDATE resources SET url_xml = NULL WHERE NOT deleted;  -- the row trigger renders each row
UPDATE changes SET url_xml = headwater_change_url(uri, change, datetime, lastmod, md5, sha1,
                                                  sha256, length, type);
DELETE FROM resource_parts;
INSERT INTO resource_parts (collection_id, part, entries, bytes)
SELECT collection_id, ord / (SELECT value::bigint FROM meta WHERE key = 'page_size'),
       count(*), sum(xml_len)
FROM resources WHERE NOT deleted
GROUP BY 1, 2;

-- Identifies this database in the sealed-page cache, so a data folder reused with another
-- database never serves the other's pages.
INSERT INTO meta (key, value) VALUES ('instance_id', gen_random_uuid()::text)
ON CONFLICT (key) DO NOTHING;

-- The plain sitemaps.org entry (search engines): loc and lastmod, no rs: elements.
CREATE FUNCTION headwater_plain_url(uri text, lastmod timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '<url><loc>' || headwater_xml_esc(uri) || '</loc>'
        || coalesce('<lastmod>' || headwater_w3c(lastmod) || '</lastmod>', '') || E'</url>\n'
$$;
