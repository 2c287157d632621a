-- 0007: primary-source verification (issue 6). The verifications table of
-- 0001 gains who asked for a call, the error of a failed call, and the
-- fields of a manual verification (the date the coordinator checked and the
-- attached screenshot or document); checks are the queue of requested
-- automated verifications, which become manual tasks when their source keeps
-- failing; source calls feed the source health page (no tenant data: source,
-- time, outcome, HTTP status, latency, a sanitized error).
ALTER TABLE verifications ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE verifications ADD COLUMN error TEXT NOT NULL DEFAULT '';
ALTER TABLE verifications ADD COLUMN verified_on TEXT NOT NULL DEFAULT '';
ALTER TABLE verifications ADD COLUMN document_id TEXT NOT NULL DEFAULT '';
ALTER TABLE verifications ADD COLUMN check_id TEXT NOT NULL DEFAULT '';
CREATE INDEX verifications_org_credential ON verifications (org_id, credential_id, created_at);

ALTER TABLE organizations ADD COLUMN verification_max_age_days INTEGER NOT NULL DEFAULT 120;

CREATE TABLE verification_checks (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    provider_id     TEXT NOT NULL REFERENCES providers (id),
    credential_id   TEXT REFERENCES credentials (id),
    source          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'manual', 'closed')),
    reason          TEXT NOT NULL DEFAULT '',
    requested_by    TEXT NOT NULL DEFAULT '',
    verification_id TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX verification_checks_org_state ON verification_checks (org_id, state, created_at);
CREATE INDEX verification_checks_source_state ON verification_checks (source, state);

CREATE TABLE psv_source_calls (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    ok          INTEGER NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    latency_ms  INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX psv_source_calls_source_at ON psv_source_calls (source, at);
