-- Collections, resources (current state) and the append-only change log.
--
-- Ordering rules every reader relies on (see docs/design.md):
--   * changes.position is gap-free and assigned, with changes.datetime, under the log append lock
--     just before commit: visibility order = position order = datetime order.
--   * set_changes gives every collection (set) its own dense sequence over the log, descendants
--     included: Change List page k of a set is seq in [k*N, (k+1)*N).
--   * resources.ord is a dense per-collection ordinal: Resource List part k of a collection is
--     ord in [k*N, (k+1)*N); a parent's index lists the parts of itself and each descendant.

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE collections (
    id             serial PRIMARY KEY,
    name           text COLLATE "C" NOT NULL UNIQUE,
    parent_id      integer REFERENCES collections (id),
    depth          smallint NOT NULL,
    -- next ordinal for a resource placed directly in this collection
    member_seq     bigint NOT NULL DEFAULT 0,
    -- next sequence number in this collection's change list (descendants included)
    change_seq     bigint NOT NULL DEFAULT 0,
    -- datetime of the first change on the open change-list page (for sealing by age)
    page_opened_at timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE resources (
    id             bigserial PRIMARY KEY,
    uri            text NOT NULL UNIQUE,
    collection_id  integer NOT NULL REFERENCES collections (id),
    ord            bigint NOT NULL,
    -- sha-256 of the bytes in the local content store; NULL when hosted elsewhere
    content_key    text,
    length         bigint,
    type           text,
    md5            text,
    sha1           text,
    sha256         text,
    lastmod        timestamptz NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    metadata       jsonb,
    links          jsonb,
    oai_identifier text UNIQUE,
    -- the newest change of this resource: its log position and datetime (the OAI datestamp)
    last_position  bigint NOT NULL,
    datestamp      timestamptz NOT NULL,
    UNIQUE (collection_id, ord)
);

CREATE INDEX resources_datestamp ON resources (datestamp, id);

CREATE TABLE changes (
    position      bigint PRIMARY KEY,
    resource_id   bigint NOT NULL REFERENCES resources (id),
    collection_id integer NOT NULL REFERENCES collections (id),
    change        text NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
    datetime      timestamptz NOT NULL,
    -- the resource as it was at this change (fixity at that time)
    uri           text NOT NULL,
    lastmod       timestamptz,
    content_key   text,
    length        bigint,
    type          text,
    md5           text,
    sha1          text,
    sha256        text
);

CREATE INDEX changes_resource ON changes (resource_id, position);
CREATE INDEX changes_datetime ON changes (datetime);

CREATE TABLE set_changes (
    set_id   integer NOT NULL REFERENCES collections (id),
    seq      bigint NOT NULL,
    position bigint NOT NULL REFERENCES changes (position),
    PRIMARY KEY (set_id, seq)
);

-- One row: the head of the log, updated under the append lock.
CREATE TABLE log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position  bigint NOT NULL,
    datetime  timestamptz
);
INSERT INTO log_head (position, datetime) VALUES (0, NULL);

-- Wakes listeners (the notifier) after each commit that appends to the log.
CREATE FUNCTION headwater_notify_log_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('headwater_changes', NEW.position::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER log_head_notify AFTER UPDATE ON log_head
    FOR EACH ROW EXECUTE FUNCTION headwater_notify_log_v1();
