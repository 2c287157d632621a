-- 0005: per-organization data keys (issue 5, SECURITY.md §3). Each
-- organization's keyset of AES-256-GCM keys (Tink) is stored wrapped by a
-- key derived from the master key, with the organization ID as associated
-- data (seal/keyset.go). org_id '' is the instance keyset, for sealed values
-- outside any organization (users' TOTP seeds). generation grows with every
-- change so that other processes know to reload it.
CREATE TABLE org_keys (
    org_id     TEXT PRIMARY KEY,
    keyset     BLOB NOT NULL,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per organization and rotation (credtrack keys rotate): the new
-- primary key, and the persisted cursor of the re-encryption so that a
-- restarted run continues where it stopped. pass 1 re-encrypts; a later
-- pass, started once every server has had time to load the new primary,
-- re-encrypts values sealed meanwhile under the old key and must find none
-- before the old keys are disabled. state: running, completed.
CREATE TABLE key_rotations (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    state        TEXT NOT NULL,
    new_key_id   BIGINT NOT NULL,
    pass         INTEGER NOT NULL DEFAULT 1,
    pass_started BIGINT NOT NULL,
    phase        INTEGER NOT NULL DEFAULT 0,
    cursor       TEXT NOT NULL DEFAULT '',
    rows_done    BIGINT NOT NULL DEFAULT 0,
    rows_total   BIGINT NOT NULL DEFAULT 0,
    reencrypted  BIGINT NOT NULL DEFAULT 0,
    stale_found  BIGINT NOT NULL DEFAULT 0,
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX key_rotations_org ON key_rotations (org_id, state);
