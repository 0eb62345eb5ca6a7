-- Dumps: what the builder reads and records, and what the dump documents list.

-- name: collection
-- One collection by name. $1: name.
SELECT id, name, change_seq FROM collections WHERE name = $1

-- name: collection_names
-- Every collection name, in name order (the builder's pass over the store).
SELECT name FROM collections ORDER BY name

-- name: descendant_ids
-- A collection and every descendant. $1: name.
SELECT id FROM collections WHERE name = $1 OR starts_with(name, $1 || ':') ORDER BY id

-- name: set_head
-- Datetime of the newest change of a set (descendants included). $1: set id.
SELECT c.datetime
FROM set_changes s JOIN changes c ON c.position = s.position
WHERE s.set_id = $1
ORDER BY s.seq DESC LIMIT 1

-- name: local_resources_all
-- Live, locally stored resources of some collections, in (collection, ord) order: read through
-- one cursor by the Resource Dump's spool. $1: collection ids.
SELECT id, collection_id, ord, uri, content_key, type, lastmod
FROM resources
WHERE collection_id = ANY($1::int[]) AND NOT deleted AND content_key IS NOT NULL
ORDER BY collection_id, ord

-- name: hosted_elsewhere_resources
-- Live resources of some collections without bytes in the store (a Resource Dump cannot hold
-- them). $1: collection ids.
SELECT count(*) FROM resources
WHERE collection_id = ANY($1::int[]) AND NOT deleted AND content_key IS NULL

-- name: hosted_elsewhere_changes
-- Created/updated changes of a set in a seq range without bytes in the store (a Change Dump
-- cannot hold them), leaving out those whose bytes were taken down (purged: by design no
-- package may hold them). $1: set id, $2: first seq, $3: end seq.
SELECT count(*)
FROM set_changes s JOIN changes c ON c.position = s.position
WHERE s.set_id = $1 AND s.seq >= $2 AND s.seq < $3
  AND c.change <> 'deleted' AND c.content_key IS NULL
  AND NOT EXISTS (SELECT 1 FROM purges p WHERE p.uri = c.uri)

-- name: record_withheld
-- A build that packs nothing because of what it could not hold. $1: build id, $2: count.
UPDATE dump_builds SET hosted_elsewhere = $2, completed = clock_timestamp() WHERE id = $1

-- name: withheld
-- Why a collection's dumps are not (wholly) offered: the count its newest Resource Dump build
-- could not hold, and the changes without bytes over every Change List page whose build could
-- not hold them all. $1: collection id.
SELECT (SELECT b.hosted_elsewhere FROM dump_builds b
        WHERE b.collection_id = $1 AND b.kind = 'resourcedump' AND b.completed IS NOT NULL
        ORDER BY b.completed DESC, b.id DESC LIMIT 1) AS resourcedump,
       (SELECT sum(b.hosted_elsewhere) FROM dump_builds b
        WHERE b.collection_id = $1 AND b.kind = 'changedump' AND b.completed IS NOT NULL
          AND b.hosted_elsewhere > 0) AS changedump

-- name: local_bytes
-- Approximate bytes of a resource dump (for progress only). $1: collection ids.
SELECT coalesce(sum(length), 0)::bigint FROM resources
WHERE collection_id = ANY($1::int[]) AND NOT deleted AND content_key IS NOT NULL

-- name: set_changes_range
-- Changes of a set in a seq range, in log order. $1: set id, $2: first seq, $3: end seq.
SELECT s.seq, c.position, c.change, c.datetime, c.uri, c.lastmod, c.content_key, c.type,
       c.content_key IS NULL AND EXISTS (SELECT 1 FROM purges p WHERE p.uri = c.uri) AS purged
FROM set_changes s JOIN changes c ON c.position = s.position
WHERE s.set_id = $1 AND s.seq >= $2 AND s.seq < $3
ORDER BY s.seq

-- name: resources_by_uri
-- Live, locally stored resources among given URIs, in the order asked.
-- $1: URIs, $2: collection ids the request may see.
SELECT r.id, r.uri, r.content_key, r.type, r.lastmod
FROM unnest($1::text[]) WITH ORDINALITY AS q(uri, n)
JOIN resources r ON r.uri = q.uri
WHERE r.collection_id = ANY($2::int[]) AND NOT r.deleted AND r.content_key IS NOT NULL
ORDER BY q.n

-- name: lock_collection
-- The builder's per-collection lock (session level). $1: lock class, $2: collection id.
SELECT pg_advisory_lock($1, $2)

-- name: try_lock_collection
-- As lock_collection, but give up at once when another builder holds it.
SELECT pg_try_advisory_lock($1, $2)

-- name: unlock_collection
SELECT pg_advisory_unlock($1, $2)

-- name: latest_resourcedump
-- The newest completed Resource Dump build of a collection. $1: collection id.
SELECT b.id, b.at, b.completed, b.hosted_elsewhere,
       (SELECT count(*) FROM dump_packages p WHERE p.build_id = b.id) AS packages
FROM dump_builds b
WHERE b.collection_id = $1 AND b.kind = 'resourcedump' AND b.completed IS NOT NULL
ORDER BY b.completed DESC, b.id DESC LIMIT 1

-- name: built_pages
-- Change List pages of a collection whose Change Dump is complete. $1: collection id.
SELECT page FROM dump_builds
WHERE collection_id = $1 AND kind = 'changedump' AND completed IS NOT NULL
ORDER BY page

-- name: next_changedump_seq
-- The next listing seq of a collection's Change Dump. $1: collection id.
SELECT coalesce(max(seq) + 1, 0) FROM dump_packages
WHERE collection_id = $1 AND kind = 'changedump'

-- name: insert_build
-- Start a build. $1: collection id, $2: kind, $3: at, $4: page, $5: from, $6: until.
INSERT INTO dump_builds (collection_id, kind, at, page, from_time, until_time)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id

-- name: insert_package
-- Record one package of a build (in the transaction that completes it).
INSERT INTO dump_packages (build_id, collection_id, kind, part, seq, name, at, from_time,
                           until_time, length, sha256, files, entries, manifest_length)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)

-- name: complete_build
-- $1: build id.
UPDATE dump_builds SET completed = clock_timestamp() WHERE id = $1

-- name: dead_builds
-- Builds of a collection that will never complete (their builder is gone: the caller holds
-- the collection lock) and resource dumps older than the newest $2 completed ones.
-- $1: collection id, $2: completed resource dumps to keep, $3: the running build.
SELECT id FROM dump_builds
WHERE collection_id = $1 AND id <> $3 AND (
    completed IS NULL
    OR (kind = 'resourcedump' AND id NOT IN (
        SELECT id FROM dump_builds
        WHERE collection_id = $1 AND kind = 'resourcedump' AND completed IS NOT NULL
        ORDER BY completed DESC, id DESC LIMIT $2)))

-- name: delete_builds
-- $1: build ids.
DELETE FROM dump_builds WHERE id = ANY($1::bigint[])

-- name: package_names
-- Every package file name of a collection that is recorded. $1: collection id.
SELECT name FROM dump_packages WHERE collection_id = $1

-- name: package
-- One listed package of a collection by name. $1: collection id, $2: name.
SELECT p.name, p.length, p.sha256, p.created, p.manifest_length, p.kind
FROM dump_packages p JOIN dump_builds b ON b.id = p.build_id
WHERE p.collection_id = $1 AND p.name = $2 AND b.completed IS NOT NULL

-- name: build_packages
-- Packages of one build in a part range. $1: build id, $2: first part, $3: end part.
SELECT name, length, sha256, created, at, from_time, until_time
FROM dump_packages WHERE build_id = $1 AND part >= $2 AND part < $3
ORDER BY part

-- name: changedump_cut
-- The last Change List page whose build could not hold every change (NULL when none): the
-- Change Dump starts after it (docs/dumps.md). $1: collection id.
SELECT max(page) FROM dump_builds
WHERE collection_id = $1 AND kind = 'changedump' AND completed IS NOT NULL
  AND hosted_elsewhere > 0

-- name: changedump_start
-- The listing seq of the first package of the first page packed after page $2 (NULL when none
-- is). Pages are packed in page order, so later pages' packages have later seqs.
-- $1: collection id, $2: page.
SELECT min(p.seq) FROM dump_packages p
WHERE p.build_id = (SELECT b.id FROM dump_builds b
                    WHERE b.collection_id = $1 AND b.kind = 'changedump'
                      AND b.completed IS NOT NULL AND b.page > $2
                    ORDER BY b.page LIMIT 1)

-- name: changedump_state
-- What the Change Dump depends on, from listing seq $2 on: package count, newest package,
-- first from. $1: collection id.
SELECT count(*) AS packages, max(created) AS newest,
       (SELECT from_time FROM dump_packages q
        WHERE q.collection_id = $1 AND q.kind = 'changedump' AND q.seq = $2) AS first_from
FROM dump_packages WHERE collection_id = $1 AND kind = 'changedump' AND seq >= $2

-- name: changedump_packages
-- Change Dump packages in a listing range. $1: collection id, $2: first seq, $3: end seq.
SELECT name, length, sha256, created, at, from_time, until_time
FROM dump_packages
WHERE collection_id = $1 AND kind = 'changedump' AND seq >= $2 AND seq < $3
ORDER BY seq

-- name: changedump_part_from
-- `from` of the first package of a Change Dump part. $1: collection id, $2: seq.
SELECT from_time FROM dump_packages
WHERE collection_id = $1 AND kind = 'changedump' AND seq = $2

-- name: collections_with_unbuilt_pages
-- Collections with a sealed Change List page that has no Change Dump yet. $1: page size.
SELECT c.name FROM collections c
WHERE c.change_seq / $1 > (SELECT count(*) FROM dump_builds b
                           WHERE b.collection_id = c.id AND b.kind = 'changedump'
                             AND b.completed IS NOT NULL)
ORDER BY c.name

-- name: collections_due_resourcedump
-- Collections whose newest Resource Dump is missing or older than $1 (an interval).
SELECT c.name FROM collections c
WHERE NOT EXISTS (SELECT 1 FROM dump_builds b
                  WHERE b.collection_id = c.id AND b.kind = 'resourcedump'
                    AND b.completed > now() - $1::interval)
ORDER BY c.name

-- name: first_position_from
-- The first log position at or after a datetime. $1: datetime.
SELECT min(position) FROM changes WHERE datetime >= $1

-- name: first_position_after
-- The first log position strictly after a datetime. $1: datetime.
SELECT min(position) FROM changes WHERE datetime > $1

-- name: seq_at_or_after
-- The first existing seq of a set at or after $2, and its position (seqs have gaps where a
-- page was sealed by age). $1: set id, $2: seq.
SELECT seq, position FROM set_changes WHERE set_id = $1 AND seq >= $2 ORDER BY seq LIMIT 1

-- name: count_seq_range
-- Changes of a set in a seq range, counted up to a cap. $1: set id, $2/$3: seq range, $4: cap.
SELECT count(*) FROM (
    SELECT 1 FROM set_changes WHERE set_id = $1 AND seq >= $2 AND seq < $3 LIMIT $4
) t

-- name: collection_id
-- $1: name.
SELECT id FROM collections WHERE name = $1
