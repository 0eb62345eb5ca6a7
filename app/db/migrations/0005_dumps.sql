-- Resource Dump and Change Dump packages.
--
-- A build packs one collection: a Resource Dump as of `at`, or one sealed Change List page.
-- Its packages are recorded in the same transaction that marks the build completed, after
-- every ZIP was written under a temporary name, fsynced and renamed: a build that died half
-- way has no package rows, so nothing of it is listed or served.

CREATE TABLE dump_builds (
    id            bigserial PRIMARY KEY,
    collection_id integer NOT NULL REFERENCES collections (id),
    kind          text NOT NULL CHECK (kind IN ('resourcedump', 'changedump')),
    -- resource dump: datetime of the newest change of the collection it reflects
    at            timestamptz,
    -- change dump: the Change List page it packs, and that page's from/until
    page          bigint,
    from_time     timestamptz,
    until_time    timestamptz,
    started       timestamptz NOT NULL DEFAULT now(),
    completed     timestamptz
);

CREATE INDEX dump_builds_latest ON dump_builds (collection_id, kind, completed DESC);
CREATE UNIQUE INDEX dump_builds_page ON dump_builds (collection_id, page)
    WHERE kind = 'changedump' AND completed IS NOT NULL;

CREATE TABLE dump_packages (
    id              bigserial PRIMARY KEY,
    build_id        bigint NOT NULL REFERENCES dump_builds (id) ON DELETE CASCADE,
    collection_id   integer NOT NULL REFERENCES collections (id),
    kind            text NOT NULL CHECK (kind IN ('resourcedump', 'changedump')),
    -- position of the package in its build
    part            integer NOT NULL,
    -- listing order: the part for a resource dump (within its build); for a change dump a
    -- dense per-collection sequence over every page, so the Change Dump is a keyset walk
    seq             bigint NOT NULL,
    -- file stem under the collection's dump folder, and in the package's URL
    name            text NOT NULL,
    at              timestamptz,
    from_time       timestamptz,
    until_time      timestamptz,
    length          bigint NOT NULL,
    sha256          text NOT NULL,
    files           integer NOT NULL,
    entries         integer NOT NULL,
    manifest_length bigint NOT NULL,
    created         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection_id, name),
    UNIQUE (build_id, part)
);

CREATE UNIQUE INDEX dump_packages_changedump ON dump_packages (collection_id, seq)
    WHERE kind = 'changedump';
