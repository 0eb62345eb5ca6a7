-- The change log's rows are written only by `app/writer.py::write_batch`, under the log's append
-- lock, in the same transaction as the resource rows and collections they point at; resources
-- and collections are never deleted. The foreign keys on the log therefore never refuse a row,
-- yet each costs a lookup per row written: with two or three `set_changes` rows per change they
-- were about half of the time of a bulk COPY of the same rows (docs/benchmarks.md, Ingest).
-- `resources.collection_id` keeps its foreign key: one check per resource row, not per change.
-- `tests/integration/test_changelog_invariant.py` checks the references the writer keeps.

ALTER TABLE changes DROP CONSTRAINT IF EXISTS changes_resource_id_fkey;
ALTER TABLE changes DROP CONSTRAINT IF EXISTS changes_collection_id_fkey;
ALTER TABLE set_changes DROP CONSTRAINT IF EXISTS set_changes_set_id_fkey;
ALTER TABLE set_changes DROP CONSTRAINT IF EXISTS set_changes_position_fkey;
