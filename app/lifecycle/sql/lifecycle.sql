-- Lifecycle: purge, garbage collection, backup, retirement.

-- name: lock_store
-- The store lock, exclusive (purge, GC). $1: lock key.
SELECT pg_advisory_lock($1)

-- name: lock_store_shared
-- The store lock, shared (a backup copying the store). $1: lock key.
SELECT pg_advisory_lock_shared($1)

-- name: unlock_store
SELECT pg_advisory_unlock($1)

-- name: unlock_store_shared
SELECT pg_advisory_unlock_shared($1)

-- name: collection_ids
-- Every collection id, in id order (locks are always taken in this order).
SELECT id, name FROM collections ORDER BY id

-- name: lock_dumps
-- One dump builder lock per collection, blocking. $1: lock class, $2: collection id.
SELECT pg_advisory_lock($1, $2)

-- name: unlock_dumps
SELECT pg_advisory_unlock($1, $2)

-- name: resources_for_purge
-- The rows behind the URIs to purge. $1: uris.
SELECT r.id, r.uri, c.name AS collection, r.deleted
FROM resources r JOIN collections c ON c.id = r.collection_id
WHERE r.uri = ANY($1::text[])
ORDER BY r.id

-- name: keys_of_resources
-- Every content key a resource held, at any version. $1: resource ids.
SELECT DISTINCT content_key FROM changes
WHERE resource_id = ANY($1::bigint[]) AND content_key IS NOT NULL
UNION
SELECT content_key FROM resources
WHERE id = ANY($1::bigint[]) AND content_key IS NOT NULL

-- name: keys_still_live
-- Keys a live resource (not deleted, not purged) still publishes. $1: keys, $2: purged ids.
SELECT DISTINCT content_key FROM resources
WHERE content_key = ANY($1::text[]) AND NOT deleted AND id <> ALL($2::bigint[])

-- name: forget_resource_keys
-- A purged resource's versions no longer name bytes (the Change List entries stay; their
-- fixity is history). $1: resource ids.
UPDATE changes SET content_key = NULL
WHERE resource_id = ANY($1::bigint[]) AND content_key IS NOT NULL

-- name: forget_keys
-- Purged bytes: no version of any resource names them any more. $1: keys.
UPDATE changes SET content_key = NULL WHERE content_key = ANY($1::text[])

-- name: forget_deleted_resource_keys
-- Deleted rows (the purged ones, and any other deleted row holding purged bytes).
-- $1: resource ids, $2: keys.
UPDATE resources SET content_key = NULL
WHERE deleted AND content_key IS NOT NULL
  AND (id = ANY($1::bigint[]) OR content_key = ANY($2::text[]))

-- name: insert_purge
-- $1: uri, $2: reason, $3: token name, $4: position, $5: keys, $6: files removed.
INSERT INTO purges (uri, reason, token_name, position, content_keys, files_removed)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id

-- name: purge_files_removed
-- After the files left the store. $1: purge ids, $2: files removed.
UPDATE purges SET files_removed = $2 WHERE id = ANY($1::bigint[])

-- name: purge_reason
-- Why a URI was taken down, when it was (the newest purge). $1: uri.
SELECT reason, purged_at FROM purges WHERE uri = $1 ORDER BY id DESC LIMIT 1

-- name: recent_purges
-- The newest purges, for the status page. $1: how many.
SELECT uri, reason, token_name, purged_at, files_removed FROM purges
ORDER BY id DESC LIMIT $1

-- name: all_packages
-- Every recorded dump package (its build, collection and kind). Keyset: $1 last id, $2 limit.
SELECT p.id, p.build_id, p.collection_id, p.kind, p.name, c.name AS collection
FROM dump_packages p JOIN collections c ON c.id = p.collection_id
WHERE p.id > $1 ORDER BY p.id LIMIT $2

-- name: delete_builds
-- $1: build ids (their packages go with them).
DELETE FROM dump_builds WHERE id = ANY($1::bigint[])

-- name: renumber_changedump_negative
-- Step one of making a collection's Change Dump seq dense again in (page, part) order after
-- pages were rebuilt: park every seq at a distinct negative value. $1: collection id.
WITH ordered AS (
    SELECT p.id, row_number() OVER (ORDER BY b.page, p.part) - 1 AS seq
    FROM dump_packages p JOIN dump_builds b ON b.id = p.build_id
    WHERE p.collection_id = $1 AND p.kind = 'changedump'
)
UPDATE dump_packages p SET seq = -1 - o.seq FROM ordered o WHERE p.id = o.id

-- name: renumber_changedump_positive
-- Step two: the parked values become the dense sequence. $1: collection id.
UPDATE dump_packages SET seq = -1 - seq
WHERE collection_id = $1 AND kind = 'changedump' AND seq < 0

-- name: create_gc_candidates
-- The store files a GC pass considers (old enough), for one anti-join with the rows.
CREATE TEMP TABLE gc_candidates (key text PRIMARY KEY) ON COMMIT DROP

-- name: analyze_gc_candidates
-- Statistics for the planner: the anti-join below is a hash join either way round.
ANALYZE gc_candidates

-- name: unreferenced_candidates
-- Candidates no resource version names.
SELECT g.key FROM gc_candidates g
WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.content_key = g.key)
  AND NOT EXISTS (SELECT 1 FROM changes c WHERE c.content_key = g.key)

-- name: referenced_keys
-- Every content key a row names (the backup copies exactly these).
SELECT content_key FROM resources WHERE content_key IS NOT NULL
UNION
SELECT content_key FROM changes WHERE content_key IS NOT NULL

-- name: backup_head
-- The log position and datetime the backup's snapshot holds.
SELECT position, datetime FROM log_head

-- name: export_snapshot
SELECT pg_export_snapshot()

-- name: backup_packages
-- Dump packages of completed builds (their files are copied when still on disk).
SELECT p.collection_id, p.name FROM dump_packages p
JOIN dump_builds b ON b.id = p.build_id WHERE b.completed IS NOT NULL

-- name: builds_with_packages
-- Completed builds and their package names (restore drops builds whose files are missing).
SELECT b.id, b.collection_id, array_agg(p.name) AS names
FROM dump_builds b JOIN dump_packages p ON p.build_id = b.id
GROUP BY b.id, b.collection_id

-- name: subtree
-- A collection and its descendants. $1: name.
SELECT id, name FROM collections WHERE name = $1 OR starts_with(name, $1 || ':') ORDER BY id

-- name: live_batch
-- Live resources of some collections after a keyset id. $1: ids, $2: last id, $3: limit.
SELECT r.id, r.uri, c.name AS collection
FROM resources r JOIN collections c ON c.id = r.collection_id
WHERE r.collection_id = ANY($1::int[]) AND r.id > $2 AND NOT r.deleted
ORDER BY r.id LIMIT $3

-- name: mark_retired
-- $1: collection id, $2: reason, $3: token name, $4: deletions appended.
INSERT INTO retired_collections (collection_id, reason, token_name, deleted)
VALUES ($1, $2, $3, $4)
ON CONFLICT (collection_id) DO UPDATE
    SET reason = EXCLUDED.reason, token_name = EXCLUDED.token_name,
        retired_at = EXCLUDED.retired_at,
        deleted = retired_collections.deleted + EXCLUDED.deleted

-- name: is_retired
-- Whether a collection, or one of its ancestors, is retired. $1: name.
SELECT r.retired_at FROM retired_collections r JOIN collections c ON c.id = r.collection_id
WHERE c.name = $1 OR starts_with($1, c.name || ':')
ORDER BY r.retired_at LIMIT 1

-- name: collection_by_name
-- $1: name.
SELECT id FROM collections WHERE name = $1

-- name: server_version
-- The server's version number (picks the matching pg_dump/pg_restore).
SELECT current_setting('server_version_num')::int

-- name: schema_present
-- Whether the database already holds the service's tables (restore refuses it).
SELECT to_regclass('public.log_head') IS NOT NULL

-- name: retired_names
-- Names of the retired collections (the status page marks them).
SELECT c.name FROM retired_collections r JOIN collections c ON c.id = r.collection_id
