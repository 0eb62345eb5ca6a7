-- OAI-PMH queries. Lists are keyset pages over (datestamp, id): constant cost at any depth.
-- A set with several exact values (a parent collection, `domain:cz`, `mime:text`) takes the first
-- N keys of each value from its (value, datestamp, id) index and merges them: the cost grows with
-- the number of values, never with the depth of the page.

-- name: clock
-- When no writer holds the log's append lock ($1), every datestamp below clock_timestamp() is
-- already committed: that instant is a safe responseDate. Otherwise the newest committed change
-- is (datestamps of in-flight writers are later than it). On a replica (in recovery) the lock
-- says nothing about the primary's writers: only the replayed head counts.
SELECT pg_try_advisory_xact_lock_shared($1) AS quiet, clock_timestamp() AS now,
       h.datetime AS head, h.position, pg_is_in_recovery() AS replica
FROM log_head h

-- name: earliest
SELECT min(datestamp) FROM resources

-- name: sample_id
SELECT id, oai_identifier FROM resources ORDER BY id LIMIT 1

-- name: record_by_oai_identifier
-- $1 the identifier as published through resources.oai_identifier
SELECT r.id, r.uri, r.oai_identifier, r.datestamp, r.deleted, c.name AS collection, r.oai_domain,
       r.oai_mime, r.lastmod, r.length, r.type, r.md5, r.sha1, r.sha256, r.metadata, r.links
FROM resources r JOIN collections c ON c.id = r.collection_id
WHERE r.oai_identifier = $1

-- name: record_by_id
-- $1 resource id
SELECT r.id, r.uri, r.oai_identifier, r.datestamp, r.deleted, c.name AS collection, r.oai_domain,
       r.oai_mime, r.lastmod, r.length, r.type, r.md5, r.sha1, r.sha256, r.metadata, r.links
FROM resources r JOIN collections c ON c.id = r.collection_id
WHERE r.id = $1

-- name: page_all
-- $1,$2 keyset (datestamp, id) exclusive; $3 until (exclusive); $4 page size
SELECT r.id, r.uri, r.oai_identifier, r.datestamp, r.deleted, c.name AS collection, r.oai_domain,
       r.oai_mime, r.lastmod, r.length, r.type, r.md5, r.sha1, r.sha256, r.metadata, r.links
FROM (SELECT * FROM resources
      WHERE (datestamp, id) > ($1, $2) AND datestamp < $3
      ORDER BY datestamp, id LIMIT $4) r
JOIN collections c ON c.id = r.collection_id
ORDER BY r.datestamp, r.id

-- name: count_all
-- Counted up to a cap, so a first page costs the same at any store size.
-- $1 from (inclusive); $2 until (exclusive); $3 cap
SELECT count(*) FROM (
    SELECT 1 FROM resources WHERE datestamp >= $1 AND datestamp < $2 LIMIT $3) t

-- name: records_all
-- Every record (deleted ones included), from the per-part counters (migration 0009).
SELECT coalesce(sum(records), 0)::bigint FROM resource_parts

-- name: records_of_collections
-- The records of some collections, from the per-part counters. $1 collection ids
SELECT coalesce(sum(records), 0)::bigint FROM resource_parts
WHERE collection_id = ANY($1::integer[])

-- name: collection_ids
-- $1 a collection name: it and its descendants
SELECT id FROM collections
WHERE name = $1 OR (name >= $1 || ':' AND name < $1 || ';')

-- name: set_values
-- $1 'domain:' or 'mime:' || path: the exact values of that set and its descendants
SELECT substr(spec, strpos(spec, ':') + 1) AS value FROM oai_sets
WHERE spec = $1 OR (spec >= $1 || ':' AND spec < $1 || ';')

-- name: sets_page
-- $1 the last setSpec sent ('' at first); $2 page size
SELECT spec FROM oai_sets WHERE spec > $1 ORDER BY spec LIMIT $2

-- name: sets_count
SELECT count(*) FROM oai_sets

-- The three set kinds (collection, domain, mime) share one shape each: {column} and {type} are
-- filled once at import by app/oai/repository.py (collection_id/integer, oai_domain/text,
-- oai_mime/text); no request value ever reaches them.

-- name: page_by
-- Merge per-value keysets. $1 values; $2,$3 keyset; $4 until; $5 page size
SELECT r.id, r.uri, r.oai_identifier, r.datestamp, r.deleted, c.name AS collection, r.oai_domain,
       r.oai_mime, r.lastmod, r.length, r.type, r.md5, r.sha1, r.sha256, r.metadata, r.links
FROM (SELECT k.datestamp, k.id
      FROM unnest($1::{type}[]) AS v(value)
      CROSS JOIN LATERAL (
          SELECT datestamp, id FROM resources
          WHERE {column} = v.value AND (datestamp, id) > ($2, $3) AND datestamp < $4
          ORDER BY datestamp, id LIMIT $5) k
      ORDER BY k.datestamp, k.id LIMIT $5) p
JOIN resources r ON r.id = p.id
JOIN collections c ON c.id = r.collection_id
ORDER BY r.datestamp, r.id

-- name: scan_by
-- Sets with more exact values than the merge handles well: walk (datestamp, id) and filter.
-- $1 values; $2,$3 keyset; $4 until; $5 page size
SELECT r.id, r.uri, r.oai_identifier, r.datestamp, r.deleted, c.name AS collection, r.oai_domain,
       r.oai_mime, r.lastmod, r.length, r.type, r.md5, r.sha1, r.sha256, r.metadata, r.links
FROM (SELECT * FROM resources
      WHERE {column} = ANY($1::{type}[]) AND (datestamp, id) > ($2, $3) AND datestamp < $4
      ORDER BY datestamp, id LIMIT $5) r
JOIN collections c ON c.id = r.collection_id
ORDER BY r.datestamp, r.id

-- name: count_by
-- Counted up to a cap. $1 values; $2 from; $3 until; $4 cap
SELECT count(*) FROM (
    SELECT 1 FROM resources
    WHERE {column} = ANY($1::{type}[]) AND datestamp >= $2 AND datestamp < $3 LIMIT $4) t
