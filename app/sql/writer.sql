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

-- name: insert_resources
-- New rows. Arrays: uri, collection_id, ord, content_key, length, type, md5, sha1, sha256,
-- lastmod, deleted, metadata (json text), links (json text), oai_identifier, last_position,
-- datestamp.
INSERT INTO resources (uri, collection_id, ord, content_key, length, type, md5, sha1, sha256,
                       lastmod, deleted, metadata, links, oai_identifier, last_position, datestamp)
SELECT u.uri, u.collection_id, u.ord, u.content_key, u.length, u.type, u.md5, u.sha1, u.sha256,
       u.lastmod, u.deleted, u.metadata::jsonb, u.links::jsonb, u.oai_identifier,
       u.last_position, u.datestamp
FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::bool[], $12::text[],
            $13::text[], $14::text[], $15::bigint[], $16::timestamptz[])
     AS u(uri, collection_id, ord, content_key, length, type, md5, sha1, sha256, lastmod,
          deleted, metadata, links, oai_identifier, last_position, datestamp)
RETURNING id, uri

-- name: update_resources
-- Changed rows, by id. Arrays as insert_resources with id first; ord NULL keeps the old one.
UPDATE resources r
SET collection_id = u.collection_id, ord = coalesce(u.ord, r.ord), content_key = u.content_key,
    length = u.length, type = u.type, md5 = u.md5, sha1 = u.sha1, sha256 = u.sha256,
    lastmod = u.lastmod, deleted = u.deleted, metadata = u.metadata::jsonb,
    links = u.links::jsonb, oai_identifier = u.oai_identifier,
    last_position = u.last_position, datestamp = u.datestamp
FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::bool[], $12::text[],
            $13::text[], $14::text[], $15::bigint[], $16::timestamptz[])
     AS u(id, collection_id, ord, content_key, length, type, md5, sha1, sha256, lastmod,
          deleted, metadata, links, oai_identifier, last_position, datestamp)
WHERE r.id = u.id

-- name: insert_changes
-- Append to the log. Arrays: position, resource_id, collection_id, change, datetime, uri,
-- lastmod, content_key, length, type, md5, sha1, sha256.
INSERT INTO changes (position, resource_id, collection_id, change, datetime, uri, lastmod,
                     content_key, length, type, md5, sha1, sha256)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::timestamptz[],
                     $6::text[], $7::timestamptz[], $8::text[], $9::bigint[], $10::text[],
                     $11::text[], $12::text[], $13::text[])

-- name: insert_set_changes
-- Each change in the change list of its collection and every ancestor. Arrays: set_id, seq,
-- position.
INSERT INTO set_changes (set_id, seq, position)
SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[])

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

-- name: seal_stale_pages
-- Seal every open change-list page whose first change is older than the limit, by moving the
-- collection's sequence to the next page boundary. $1: page size, $2: max age (interval).
UPDATE collections
SET change_seq = (change_seq / $1 + 1) * $1
WHERE change_seq % $1 <> 0 AND page_opened_at < clock_timestamp() - $2::interval
RETURNING name
