-- name: log_head
-- The newest position and datetime of the change log.
SELECT position, datetime FROM log_head

-- name: collection_counts
-- Live (non-deleted) resources directly in each collection, from the per-part counters the
-- Resource List keeps (migration 0002), so the page costs the same at any store size.
SELECT c.name, c.depth,
       coalesce((SELECT sum(p.entries) FROM resource_parts p WHERE p.collection_id = c.id),
                0)::bigint AS resources
FROM collections c
ORDER BY c.name

-- name: changes_per_hour
-- Changes per UTC hour over the last day, from the counters the writer keeps (migration
-- 0009): at most 25 rows read, whatever the write rate.
SELECT hour, changes AS n
FROM change_hours
WHERE hour > date_trunc('hour', clock_timestamp() - interval '24 hours', 'UTC')
ORDER BY hour

-- name: dump_status
-- Completed dump packages per collection and kind.
SELECT c.name AS collection, p.kind, count(*) AS packages, sum(p.length) AS bytes,
       max(b.completed) AS newest
FROM dump_packages p
JOIN dump_builds b ON b.id = p.build_id
JOIN collections c ON c.id = p.collection_id
WHERE b.completed IS NOT NULL
GROUP BY c.name, p.kind
ORDER BY c.name, p.kind

-- name: dumps_withheld
-- Dumps not offered because their newest build (Resource Dump) or a packed page (Change Dump)
-- held entries without bytes here, with that count (docs/dumps.md).
SELECT c.name AS collection, w.kind, w.missing
FROM collections c
CROSS JOIN LATERAL (
    SELECT 'resourcedump' AS kind,
           (SELECT b.hosted_elsewhere FROM dump_builds b
            WHERE b.collection_id = c.id AND b.kind = 'resourcedump' AND b.completed IS NOT NULL
            ORDER BY b.completed DESC, b.id DESC LIMIT 1) AS missing
    UNION ALL
    SELECT 'changedump',
           (SELECT sum(b.hosted_elsewhere) FROM dump_builds b
            WHERE b.collection_id = c.id AND b.kind = 'changedump' AND b.completed IS NOT NULL
              AND b.hosted_elsewhere > 0)
) w
WHERE w.missing > 0
ORDER BY c.name, w.kind
