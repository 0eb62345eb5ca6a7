-- name: resource_for_content
-- The current row behind a content URI. $1: published uri.
SELECT r.uri, c.name AS collection, r.content_key, r.length, r.type, r.md5, r.sha256,
       r.lastmod, r.deleted
FROM resources r JOIN collections c ON c.id = r.collection_id
WHERE r.uri = $1
