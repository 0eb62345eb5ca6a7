-- Dumps cover what they promise (ResourceSync 1.1 §11, §13.2; docs/dumps.md): a Resource Dump
-- holds every resource of its Resource List, a Change Dump the bytes of every change in its
-- interval. A build counts what it cannot pack because Headwater holds no bytes for it (a
-- resource hosted elsewhere, a created/updated change without bytes); a build that counts any
-- packs nothing. A collection's Resource Dump is neither advertised nor served while its newest
-- build is such a one; its Change Dump lists only the pages packed after the last such page.

ALTER TABLE dump_builds ADD COLUMN hosted_elsewhere bigint NOT NULL DEFAULT 0;

-- the last page a Change Dump must start after, found by one index probe per request
CREATE INDEX dump_builds_withheld ON dump_builds (collection_id, page)
    WHERE kind = 'changedump' AND hosted_elsewhere > 0;

-- Builds made before this migration left such entries out silently: count them now, so their
-- packages stop being listed. A Change Dump page is immutable: its count is exact. A Resource
-- Dump is counted against the current state; the next build replaces it anyway.
UPDATE dump_builds b SET hosted_elsewhere = (
    SELECT count(*)
    FROM set_changes s JOIN changes c ON c.position = s.position
    WHERE s.set_id = b.collection_id
      AND s.seq >= b.page * (SELECT value::bigint FROM meta WHERE key = 'page_size')
      AND s.seq < (b.page + 1) * (SELECT value::bigint FROM meta WHERE key = 'page_size')
      AND c.change <> 'deleted' AND c.content_key IS NULL)
WHERE b.kind = 'changedump';

UPDATE dump_builds b SET hosted_elsewhere = (
    SELECT count(*)
    FROM collections me
    JOIN collections c ON c.name = me.name OR starts_with(c.name, me.name || ':')
    JOIN resources r ON r.collection_id = c.id
    WHERE me.id = b.collection_id AND NOT r.deleted AND r.content_key IS NULL)
WHERE b.kind = 'resourcedump';
