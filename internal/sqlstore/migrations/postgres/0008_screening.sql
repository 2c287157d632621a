-- 0008: exclusion lists, screening candidates, alerts and monitoring runs
-- (issue 6).
--
-- The exclusion lists (OIG LEIE, SAM.gov) are public, global data: they
-- belong to no organization, so list_versions, list_entries, list_current
-- and monitoring_runs carry no org_id and no row-level security. Every
-- import makes a new version; its entries are written under the new
-- version's ID and list_current is switched to it in the same transaction,
-- so a reader sees the old list or the new one, never a part. Entries of
-- versions no longer in force are deleted (their metadata stays, so a
-- screening result still names the version it used).
--
-- screening_candidates and alerts are tenant data: strict RLS as in 0004.

CREATE TABLE list_versions (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    base_id     TEXT NOT NULL DEFAULT '',
    origin      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    file_rows   INTEGER NOT NULL,
    entries     INTEGER NOT NULL,
    added       INTEGER NOT NULL,
    removed     INTEGER NOT NULL,
    imported_at BIGINT NOT NULL,
    imported_by TEXT NOT NULL
);
CREATE INDEX list_versions_source ON list_versions (source, imported_at);

-- Entries are read and written a whole version at a time, so they are
-- stored in chunks of up to 2,000 (sqlstore/screening.go encodes them),
-- not one row each: an 83,000-row LEIE is 42 rows.
CREATE TABLE list_entries (
    version_id TEXT NOT NULL REFERENCES list_versions (id),
    chunk      INTEGER NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (version_id, chunk)
);

CREATE TABLE list_current (
    source      TEXT PRIMARY KEY,
    version_id  TEXT NOT NULL REFERENCES list_versions (id),
    switched_at BIGINT NOT NULL
);

CREATE TABLE screening_candidates (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    provider_id     TEXT NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    entry_key       TEXT NOT NULL,
    entry_hash      TEXT NOT NULL,
    list_version_id TEXT NOT NULL,
    score           INTEGER NOT NULL,
    reasons         TEXT NOT NULL,
    entry           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open',
    listed          BOOLEAN NOT NULL DEFAULT TRUE,
    decision        TEXT NOT NULL DEFAULT '',
    decided_by      TEXT NOT NULL DEFAULT '',
    decided_at      BIGINT,
    seen_run        TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (org_id, provider_id, source, entry_key)
);
CREATE INDEX screening_candidates_status ON screening_candidates (org_id, status, created_at);

CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    severity   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    link       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    acked_at   BIGINT,
    acked_by   TEXT NOT NULL DEFAULT '',
    UNIQUE (org_id, key)
);
CREATE INDEX alerts_org_created ON alerts (org_id, created_at);

CREATE TABLE monitoring_runs (
    id          TEXT PRIMARY KEY,
    trigger     TEXT NOT NULL,
    leie_version TEXT NOT NULL DEFAULT '',
    sam_version TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    orgs_total  INTEGER NOT NULL DEFAULT 0,
    orgs_done   INTEGER NOT NULL DEFAULT 0,
    providers   INTEGER NOT NULL DEFAULT 0,
    new_hits    INTEGER NOT NULL DEFAULT 0,
    cursor      TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX monitoring_runs_started ON monitoring_runs (started_at);

ALTER TABLE screening_candidates ENABLE ROW LEVEL SECURITY;
ALTER TABLE screening_candidates FORCE ROW LEVEL SECURITY;
CREATE POLICY screening_candidates_org ON screening_candidates
    USING (org_id = credtrack_org()) WITH CHECK (org_id = credtrack_org());

ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY alerts_org ON alerts
    USING (org_id = credtrack_org()) WITH CHECK (org_id = credtrack_org());

GRANT SELECT, INSERT, UPDATE, DELETE ON list_versions, list_entries, list_current, screening_candidates,
    alerts, monitoring_runs TO credtrack_app;
