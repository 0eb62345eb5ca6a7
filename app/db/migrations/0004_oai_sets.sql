-- OAI-PMH: derived set columns, the set registry and the keyset indexes for selective harvests.
--
--   resources.oai_domain  host labels reversed, joined by ':' ('cz:webarchiv:www'): the leaf of
--                         the resource's `domain:` set; NULL when the URI has no host
--   resources.oai_mime    '<type>:<subtype>' of its media type ('text:html'), parameters dropped;
--                         NULL without a type
--   oai_sets              every set spec at every level of each hierarchy ('collection:a',
--                         'collection:a:b', 'domain:cz', 'domain:cz:webarchiv', 'mime:text', …),
--                         so ListSets and a parent set's expansion never scan `resources`
--
-- Characters outside [A-Za-z0-9_.!~*'()-] become '-' (docs/rules.md §2). `app/oai/sets.py` computes
-- the same values in Python; a test holds the two to each other.

-- Written as single expressions (no FROM, no sub-select) so the planner inlines them: they run
-- on every written row, and an opaque SQL function call costs several times more.
CREATE FUNCTION headwater_oai_label(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT regexp_replace(value, '[^A-Za-z0-9_.!~*''()-]', '-', 'g')
$$;

-- The elements of a one-dimensional array in reverse order: `array_reverse` of PostgreSQL 18,
-- for 14-17 as well. PL/pgSQL rather than a SQL sub-select, so the caller below still inlines
-- (a sub-select would make every written row pay a full function call: ~3x slower).
CREATE FUNCTION headwater_array_reverse(a text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    r text[] := '{}';
BEGIN
    FOR i IN REVERSE coalesce(array_upper(a, 1), 0) .. coalesce(array_lower(a, 1), 1) LOOP
        r := r || a[i];
    END LOOP;
    RETURN r;
END;
$$;

-- '.' is kept by the label rule, so labelling the whole host then splitting on '.' equals
-- labelling each label.
-- This body first called `array_reverse`, new in PostgreSQL 18; databases migrated then keep
-- that body, which returns the same value for every input (a test compares both on 18), so no
-- later migration replaces it.
-- The helper is named with its schema: pg_restore runs with an empty search_path, and this
-- function computes a stored generated column while the data is loaded (an unqualified name
-- would not be found there). A SQL function, still inlined: the name is fixed at creation.
DO $do$
BEGIN
    EXECUTE format($f$
CREATE FUNCTION headwater_oai_domain(uri text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT nullif(array_to_string(%I.headwater_array_reverse(array_remove(string_to_array(
        regexp_replace(lower(substring(uri FROM
            '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]/?#]*\]|[^:/?#]*)')),
            '[^A-Za-z0-9_.!~*''()-]', '-', 'g'),
        '.'), '')), ':'), '')
$$$f$, current_schema());
END
$do$;

-- Label everything but '/', then the first '/' separates type from subtype and any other
-- becomes '-' (as labelling the subtype would).
CREATE FUNCTION headwater_oai_mime(type text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(split_part(type, ';', 1), '/') > 0 THEN
        regexp_replace(regexp_replace(
            regexp_replace(lower(btrim(split_part(type, ';', 1))),
                           '[^A-Za-z0-9_.!~*''()/-]', '-', 'g'),
            '/', ':'), '/', '-', 'g')
    END
$$;

ALTER TABLE resources
    ADD COLUMN oai_domain text COLLATE "C" GENERATED ALWAYS AS (headwater_oai_domain(uri)) STORED,
    ADD COLUMN oai_mime text COLLATE "C" GENERATED ALWAYS AS (headwater_oai_mime(type)) STORED;

-- Keysets (datestamp, id) within one exact set value: every page costs the same at any depth.
CREATE INDEX resources_oai_collection ON resources (collection_id, datestamp, id);
CREATE INDEX resources_oai_domain ON resources (oai_domain, datestamp, id);
CREATE INDEX resources_oai_mime ON resources (oai_mime, datestamp, id);

CREATE TABLE oai_sets (
    spec text COLLATE "C" PRIMARY KEY
);

-- Every level of a ':'-separated spec: 'domain:cz:a' → 'domain:cz', 'domain:cz:a'.
CREATE FUNCTION headwater_oai_levels(kind text, leaf text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT kind || ':' || array_to_string(labels[1:n], ':')
    FROM (SELECT string_to_array(leaf, ':') AS labels) AS l,
         generate_series(1, cardinality(labels)) AS n
$$;

-- Statement-level, once per batch: the distinct new values only, so a 10,000-row batch costs a
-- handful of index probes, not 10,000.
CREATE FUNCTION headwater_oai_register_resources() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oai_sets (spec)
    SELECT DISTINCT s.spec
    FROM (SELECT DISTINCT oai_domain, oai_mime FROM new_rows) AS n,
         LATERAL (SELECT headwater_oai_levels('domain', n.oai_domain)
                  UNION ALL SELECT headwater_oai_levels('mime', n.oai_mime)) AS s(spec)
    WHERE NOT EXISTS (SELECT 1 FROM oai_sets o WHERE o.spec = s.spec)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER resources_oai_sets_insert AFTER INSERT ON resources
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION headwater_oai_register_resources();
CREATE TRIGGER resources_oai_sets_update AFTER UPDATE ON resources
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION headwater_oai_register_resources();

CREATE FUNCTION headwater_oai_register_collection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oai_sets (spec) VALUES ('collection:' || NEW.name) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER collections_oai_sets AFTER INSERT ON collections
    FOR EACH ROW EXECUTE FUNCTION headwater_oai_register_collection();

-- Databases migrated before this file: register what is already there.
INSERT INTO oai_sets (spec)
SELECT 'collection:' || name FROM collections
UNION
SELECT headwater_oai_levels('domain', oai_domain) FROM (SELECT DISTINCT oai_domain FROM resources) d
UNION
SELECT headwater_oai_levels('mime', oai_mime) FROM (SELECT DISTINCT oai_mime FROM resources) m
ON CONFLICT DO NOTHING;
