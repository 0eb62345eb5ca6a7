-- rs:ln carries every attribute an ingest record's link may have (ResourceSync 1.1 §7, the
-- attributes the specification's own examples use): rel, href, type, then length, hash,
-- modified and pri, in the order `sitemaps/entries.py` (LINK_ATTRS) writes them; a test holds
-- the two to the same bytes. `modified` is stored already formatted (W3C, UTC, microseconds).
--
-- Links written before this migration hold only rel, href and type, for which this body renders
-- the same bytes as the one it replaces: stored fragments stay valid and nothing is re-rendered.

CREATE OR REPLACE FUNCTION headwater_links_xml(links jsonb) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
        '<rs:ln' || headwater_attr('rel', l.v ->> 'rel') || headwater_attr('href', l.v ->> 'href')
        || headwater_attr('type', l.v ->> 'type') || headwater_attr('length', l.v ->> 'length')
        || headwater_attr('hash', l.v ->> 'hash')
        || headwater_attr('modified', l.v ->> 'modified')
        || headwater_attr('pri', l.v ->> 'pri') || '/>', '' ORDER BY l.i), '')
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(links) = 'array' THEN links END)
         WITH ORDINALITY AS l(v, i)
$$;
