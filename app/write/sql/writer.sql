-- name: append_lock
-- Serialise log appends for the rest of the transaction. $1: lock key.
SELECT pg_advisory_xact_lock($1)

-- name: log_head
-- The head of the log and the database clock, read under the append lock.
SELECT position, datetime, clock_timestamp() AS now FROM log_head

-- name: collections_by_name
-- Counters of the named collections. $1: names.
SELECT id, name, member_seq, change_seq, page_opened_at
FROM collections WHERE name = ANY($1::text[])

-- name: insert_collection
-- Create one collection if missing. $1: name, $2: parent name or NULL, $3: depth.
INSERT INTO collections (name, parent_id, depth)
VALUES ($1, (SELECT id FROM collections WHERE name = $2), $3)
ON CONFLICT (name) DO NOTHING

-- name: resources_by_uri
-- Current state of the given URIs. $1: uris.
SELECT r.id, r.uri, c.name AS collection, r.content_key, r.length, r.type, r.md5, r.sha1,
       r.sha256, r.lastmod, r.deleted, r.metadata, r.links, r.oai_identifier
FROM resources r JOIN collections c ON c.id = r.collection_id
WHERE r.uri = ANY($1::text[])

-- name: reserve_resource_ids
-- Ids for the batch's new resources, drawn up front so their rows and their changes can be
-- written with COPY. $1: how many.
SELECT array_agg(nextval(pg_get_serial_sequence('resources', 'id')))
FROM generate_series(1, $1)

-- name: update_resources
-- Changed rows, by id. $1: a jsonb array of objects with the resources columns (id first);
-- ord null keeps the old one.
UPDATE resources r
SET collection_id = u.collection_id, ord = coalesce(u.ord, r.ord), content_key = u.content_key,
    length = u.length, type = u.type, md5 = u.md5, sha1 = u.sha1, sha256 = u.sha256,
    lastmod = u.lastmod, deleted = u.deleted, metadata = u.metadata, links = u.links,
    oai_identifier = u.oai_identifier, last_position = u.last_position, datestamp = u.datestamp
FROM jsonb_to_recordset($1::jsonb)
     AS u(id bigint, collection_id int, ord bigint, content_key text, length bigint, type text,
          md5 text, sha1 text, sha256 text, lastmod timestamptz, deleted bool, metadata jsonb,
          links jsonb, oai_identifier text, last_position bigint, datestamp timestamptz)
WHERE r.id = u.id

-- name: update_collection_counters
-- Arrays: id, member_seq, change_seq, page_opened_at.
UPDATE collections c
SET member_seq = u.member_seq, change_seq = u.change_seq, page_opened_at = u.page_opened_at
FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::timestamptz[])
     AS u(id, member_seq, change_seq, page_opened_at)
WHERE c.id = u.id

-- name: update_log_head
-- $1: new head position, $2: its datetime.
UPDATE log_head SET position = $1, datetime = $2

-- name: count_change_hours
-- Add a batch's changes to their UTC hours (under the append lock: no two writers race).
-- $1: hours, $2: changes in each.
INSERT INTO change_hours AS h (hour, changes)
SELECT * FROM unnest($1::timestamptz[], $2::bigint[])
ON CONFLICT (hour) DO UPDATE SET changes = h.changes + EXCLUDED.changes

-- name: seal_stale_pages
-- Seal every open change-list page whose first change is older than the limit, by moving the
-- collection's sequence to the next page boundary. $1: page size, $2: max age (interval).
UPDATE collections
SET change_seq = (change_seq / $1 + 1) * $1
WHERE change_seq % $1 <> 0 AND page_opened_at < clock_timestamp() - $2::interval
RETURNING name
