-- Queries of the notifier (tailing the log, its cursors) and of the notification topic.

-- name: ensure_cursor
-- A hub's cursor, created at position 0 (the whole log is notified) the first time. $1: hub.
INSERT INTO notifier_cursors (hub) VALUES ($1) ON CONFLICT (hub) DO NOTHING

-- name: cursor
-- $1: hub.
SELECT position, pending_position FROM notifier_cursors WHERE hub = $1

-- name: changes_after
-- The next changes after the cursor, in log order (keyset on the primary key): the entry
-- pre-rendered at write time, or (only where it is missing) the columns to render it from.
-- $1: cursor position, $2: how many.
SELECT c.position, col.name AS collection, c.uri, c.change, c.datetime,
       CASE WHEN c.url_xml IS NULL THEN c.lastmod END AS lastmod,
       CASE WHEN c.url_xml IS NULL THEN c.md5 END AS md5,
       CASE WHEN c.url_xml IS NULL THEN c.sha1 END AS sha1,
       CASE WHEN c.url_xml IS NULL THEN c.sha256 END AS sha256,
       CASE WHEN c.url_xml IS NULL THEN c.length END AS length,
       CASE WHEN c.url_xml IS NULL THEN c.type END AS type,
       c.url_xml AS xml
FROM changes c
JOIN collections col ON col.id = c.collection_id
WHERE c.position > $1
ORDER BY c.position
LIMIT $2

-- name: begin_batch
-- Record the end of the batch about to be sent ($3), and return each of its channels' id,
-- creation time and the last `until` sent to this hub (NULL: never). One round trip.
-- $1: hub, $2: channel names, $3: the batch's last position.
WITH pending AS (
    UPDATE notifier_cursors SET pending_position = $3 WHERE hub = $1
)
SELECT col.id, col.name, col.created_at, nc.until
FROM collections col
LEFT JOIN notifier_channels nc ON nc.collection_id = col.id AND nc.hub = $1
WHERE col.name = ANY($2::text[])

-- name: advance
-- Everything up to $2 was accepted by hub $1; the channels $3 were sent up to `until` $4,
-- the next notification's `from`. One statement, so one atomic commit.
WITH cursor AS (
    UPDATE notifier_cursors
    SET position = $2, pending_position = NULL, last_success = now(),
        consecutive_failures = 0, last_error = NULL
    WHERE hub = $1 AND position < $2
)
INSERT INTO notifier_channels (hub, collection_id, until)
SELECT $1, id, $4 FROM unnest($3::integer[]) AS id
ON CONFLICT (hub, collection_id) DO UPDATE SET until = EXCLUDED.until

-- name: record_failure
-- $1: hub, $2: 1 when the refusal is permanent (else 0), $3: what happened.
UPDATE notifier_cursors
SET consecutive_failures = consecutive_failures + 1, last_failure = now(),
    permanent_failures = permanent_failures + $2, last_error = $3
WHERE hub = $1

-- name: state
-- Per configured hub: its cursor, the head of the log, and the datetime of the oldest change
-- it has not yet accepted (for lag in seconds). $1: hubs.
SELECT h.hub, coalesce(cur.position, 0) AS position, cur.last_success, cur.last_failure,
       coalesce(cur.consecutive_failures, 0) AS consecutive_failures,
       coalesce(cur.permanent_failures, 0) AS permanent_failures, cur.last_error,
       head.position AS head, clock_timestamp() AS now,
       (SELECT c.datetime FROM changes c
        WHERE c.position = coalesce(cur.position, 0) + 1) AS oldest_pending
FROM unnest($1::text[]) AS h(hub)
LEFT JOIN notifier_cursors cur ON cur.hub = h.hub
CROSS JOIN log_head head

-- name: min_cursor
-- The oldest cursor among the given hubs (0 for a hub that never ran). $1: hubs.
SELECT coalesce(min(coalesce(cur.position, 0)), 0)
FROM unnest($1::text[]) AS h(hub)
LEFT JOIN notifier_cursors cur ON cur.hub = h.hub

-- name: collection
-- $1: name.
SELECT id, name, created_at, change_seq FROM collections WHERE name = $1

-- name: seq_probe
-- The first entry of set $1 at or after sequence number $2 (sequences have gaps where a page
-- was sealed by age), with its log position.
SELECT seq, position FROM set_changes WHERE set_id = $1 AND seq >= $2 ORDER BY seq LIMIT 1

-- name: topic_before
-- Up to $3 entries of set $1 before sequence $2, newest first.
SELECT sc.seq, col.name AS collection, c.position, c.uri, c.change, c.datetime, c.lastmod,
       c.md5, c.sha1, c.sha256, c.length, c.type, c.url_xml AS xml
FROM set_changes sc
JOIN changes c ON c.position = sc.position
JOIN collections col ON col.id = c.collection_id
WHERE sc.set_id = $1 AND sc.seq < $2
ORDER BY sc.seq DESC
LIMIT $3

-- name: topic_from
-- Up to $3 entries of set $1 from sequence $2 on, oldest first.
SELECT sc.seq, col.name AS collection, c.position, c.uri, c.change, c.datetime, c.lastmod,
       c.md5, c.sha1, c.sha256, c.length, c.type, c.url_xml AS xml
FROM set_changes sc
JOIN changes c ON c.position = sc.position
JOIN collections col ON col.id = c.collection_id
WHERE sc.set_id = $1 AND sc.seq >= $2
ORDER BY sc.seq
LIMIT $3
