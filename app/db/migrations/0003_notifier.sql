-- The notifier's durable state: one cursor per hub over the global change log, and the last
-- `until` sent on each channel (collection) to that hub.
--
-- The change log is the outbox: a hub's cursor moves, in one transaction with the channels'
-- `until`s, only after the hub answered 2xx for every notification up to `position`. The
-- failure columns are for visibility (/readyz, /metrics, the status page), never for skipping.

CREATE TABLE notifier_cursors (
    hub                  text PRIMARY KEY,
    -- every change with a position <= this one was accepted by the hub
    position             bigint NOT NULL DEFAULT 0,
    -- the end of the batch being sent (NULL when none): after a crash the same batch is sent
    -- again with the same `from`/`until`, so a destination sees an exact repeat, never an
    -- overlapping interval
    pending_position     bigint,
    last_success         timestamptz,
    last_failure         timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    -- answers that will not succeed by retrying (4xx other than 408/425/429), counted not skipped
    permanent_failures   bigint NOT NULL DEFAULT 0,
    last_error           text
);

-- Consecutive notifications on a channel cover consecutive intervals: the next `from` is the
-- `until` stored here.
CREATE TABLE notifier_channels (
    hub           text NOT NULL REFERENCES notifier_cursors (hub) ON DELETE CASCADE,
    collection_id integer NOT NULL REFERENCES collections (id),
    until         timestamptz NOT NULL,
    PRIMARY KEY (hub, collection_id)
);
