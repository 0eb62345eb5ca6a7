-- Lifecycle: takedowns (purges) and retired collections (docs/operations.md).
--
--   purges                one row per purged resource: what, when, why, by which token name,
--                         and how many stored files left the store
--   retired_collections   a collection whose resources were all deleted for good: its
--                         Capability List lists the Change List and archive only

CREATE TABLE purges (
    id            bigserial PRIMARY KEY,
    uri           text NOT NULL,
    reason        text NOT NULL,
    token_name    text NOT NULL,
    purged_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- log position of the `deleted` change the purge appended (NULL: it was already deleted)
    position      bigint,
    content_keys  text[] NOT NULL DEFAULT '{}',
    files_removed integer NOT NULL DEFAULT 0
);

CREATE INDEX purges_uri ON purges (uri, id);

CREATE TABLE retired_collections (
    collection_id integer PRIMARY KEY REFERENCES collections (id),
    reason        text NOT NULL,
    token_name    text NOT NULL,
    retired_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted       bigint NOT NULL DEFAULT 0
);
