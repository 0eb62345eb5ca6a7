-- name: instance_id
-- This database's identity (keys the sealed-page cache).
SELECT value FROM meta WHERE key = 'instance_id'

-- name: collection
-- One collection by name. $1: name.
SELECT id, name, change_seq, member_seq, created_at FROM collections WHERE name = $1

-- name: descendants
-- A collection and every descendant, in name order. $1: name.
SELECT id, name FROM collections
WHERE name = $1 OR starts_with(name, $1 || ':')
ORDER BY name

-- name: collections_after
-- Collection names after a key, for keyset walks. $1: last name seen ('' first), $2: limit.
SELECT name FROM collections WHERE name > $1 ORDER BY name LIMIT $2

-- name: collections_stamp
-- What the collection listings depend on: collections are only ever added.
SELECT coalesce(max(id), 0) AS max_id, count(*) AS n, max(created_at) AS newest FROM collections

-- name: set_head
-- The newest change of a set (descendants included). $1: set id.
SELECT s.position, c.datetime
FROM set_changes s JOIN changes c ON c.position = s.position
WHERE s.set_id = $1
ORDER BY s.seq DESC LIMIT 1

-- name: resource_parts
-- Live entries and bytes per part of the given collections. $1: collection ids.
SELECT c.name AS collection, p.collection_id, c.member_seq, p.part, p.entries, p.bytes
FROM resource_parts p JOIN collections c ON c.id = p.collection_id
WHERE p.collection_id = ANY($1::int[]) AND p.entries > 0
ORDER BY c.name, p.part

-- name: resource_chunk
-- Pre-rendered Resource List entries of one ord range of one collection, in ord order.
-- $1: collection id, $2: first ord, $3: end ord (exclusive).
SELECT string_agg(url_xml, '' ORDER BY ord)
FROM resources
WHERE collection_id = $1 AND ord >= $2 AND ord < $3 AND NOT deleted

-- name: plain_chunk
-- sitemaps.org entries of one ord range, for URIs under this server only.
-- $1: collection id, $2: first ord, $3: end ord (exclusive), $4: URI prefix.
SELECT string_agg(headwater_plain_url(uri, lastmod), '' ORDER BY ord)
FROM resources
WHERE collection_id = $1 AND ord >= $2 AND ord < $3 AND NOT deleted AND starts_with(uri, $4)

-- name: subpart_range
-- The ord range of byte-cut sub-part $5 of a part: entries go to floor(bytes before / budget).
-- $1: collection id, $2: part's first ord, $3: part's end ord, $4: byte budget, $5: sub-part.
SELECT min(ord) AS lo, max(ord) + 1 AS hi
FROM (
    -- sum(integer) is bigint, so this is integer division
    SELECT ord, (sum(xml_len) OVER (ORDER BY ord) - xml_len) / $4::bigint AS bin
    FROM resources
    WHERE collection_id = $1 AND ord >= $2 AND ord < $3 AND NOT deleted
) t
WHERE bin = $5::bigint

-- name: change_chunk
-- Pre-rendered Change List entries of a set's sequence range, in log order.
-- $1: set id, $2: first seq, $3: end seq (exclusive).
SELECT string_agg(c.url_xml, '' ORDER BY s.seq)
FROM set_changes s JOIN changes c ON c.position = s.position
WHERE s.set_id = $1 AND s.seq >= $2 AND s.seq < $3

-- name: page_times
-- For Change List page bounds: the datetime of the newest change below each given end seq,
-- and of the set's first change. $1: set id, $2: end seqs.
SELECT e.end_seq,
       (SELECT c.datetime FROM set_changes s JOIN changes c ON c.position = s.position
        WHERE s.set_id = $1 AND s.seq < e.end_seq ORDER BY s.seq DESC LIMIT 1) AS last
FROM unnest($2::bigint[]) AS e(end_seq)

-- name: first_change
-- The datetime of a set's first change. $1: set id.
SELECT c.datetime FROM set_changes s JOIN changes c ON c.position = s.position
WHERE s.set_id = $1 ORDER BY s.seq LIMIT 1

-- name: log_head
-- The head of the whole log (the plain sitemap depends on every collection).
SELECT position, datetime FROM log_head

-- name: plain_parts
-- Fallback when the server's prefix is not the one the counters keep (two servers with other
-- base URLs on one database): parts holding at least one live resource under this server. A
-- part with such a resource near its start costs one index probe; a part of other hosts'
-- URIs only is scanned once (at most a page of rows). $1: page size, $2: URI prefix.
SELECT c.name AS collection, p.collection_id, c.member_seq, p.part, p.entries, p.bytes
FROM resource_parts p JOIN collections c ON c.id = p.collection_id
WHERE p.entries > 0 AND EXISTS (
    SELECT 1 FROM resources r
    WHERE r.collection_id = p.collection_id AND r.ord >= p.part * $1
      AND r.ord < (p.part + 1) * $1 AND NOT r.deleted AND starts_with(r.uri, $2))
ORDER BY c.name, p.part

-- name: plain_parts_counted
-- The same from the counters (migration 0009): parts with a live resource under the stored
-- prefix, read from resource_parts alone. Valid only when $1 is meta.sitemap_prefix (checked
-- in the query, so a stale caller gets the fallback's answer, never a wrong one).
-- $1: URI prefix.
SELECT c.name AS collection, p.collection_id, c.member_seq, p.part, p.entries, p.bytes
FROM resource_parts p JOIN collections c ON c.id = p.collection_id
WHERE p.local_entries > 0
  AND (SELECT value FROM meta WHERE key = 'sitemap_prefix') = $1
ORDER BY c.name, p.part

-- name: sitemap_prefix
-- The URI prefix resource_parts.local_entries counts (NULL: none yet).
SELECT value FROM meta WHERE key = 'sitemap_prefix'

-- name: recount_sitemap_prefix
-- Store a new prefix and recount every part under it: one pass over resources, run at start
-- only when the base URL changed, under the log's append lock. $1: prefix, $2: page size.
WITH stored AS (
    INSERT INTO meta (key, value) VALUES ('sitemap_prefix', $1)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
)
UPDATE resource_parts p
SET local_entries = (
    SELECT count(*) FROM resources r
    WHERE r.collection_id = p.collection_id AND r.ord >= p.part * $2
      AND r.ord < (p.part + 1) * $2 AND NOT r.deleted AND starts_with(r.uri, $1))

-- name: part_version
-- A Resource List part's version (bumped by every write touching one of its rows, migration
-- 0012): names its cached entries file. $1: collection id, $2: part.
SELECT version FROM resource_parts WHERE collection_id = $1 AND part = $2
