-- 0001: the foundation schema. Times are BIGINT unix microseconds (UTC) on
-- both backends so that they sort, compare and scan the same way; dates are
-- TEXT 'YYYY-MM-DD'. Every tenant-owned table carries org_id, and every
-- sensitive identifier is stored sealed (*_enc) with a keyed blind index
-- (*_bidx) where it must be searchable.

CREATE TABLE instance_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE organizations (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('team', 'personal')),
    expiring_window_days INTEGER NOT NULL DEFAULT 90,
    created_at           BIGINT NOT NULL
);
CREATE INDEX organizations_name ON organizations (name);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL DEFAULT '',
    password_hash     TEXT NOT NULL DEFAULT '',
    email_verified_at BIGINT,
    created_at        BIGINT NOT NULL,
    disabled_at       BIGINT
);

CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'coordinator', 'provider', 'auditor')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    invited_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT
);
CREATE INDEX invitations_org ON invitations (org_id);

-- One-time links: set-password (from `user create`), password reset,
-- email verification. Only the SHA-256 of the token is kept.
CREATE TABLE user_tokens (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    purpose    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id),
    org_id       TEXT REFERENCES organizations (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    mfa_at       BIGINT,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_org ON api_tokens (org_id);

CREATE TABLE providers (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    user_id     TEXT REFERENCES users (id),
    first_name  TEXT NOT NULL,
    middle_name TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL,
    suffix      TEXT NOT NULL DEFAULT '',
    sort_name   TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    profession  TEXT NOT NULL,
    specialty   TEXT NOT NULL DEFAULT '',
    employer    TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT '',
    npi_enc     BLOB,
    npi_bidx    BLOB,
    npi_last4   TEXT NOT NULL DEFAULT '',
    ssn_enc     BLOB,
    ssn_bidx    BLOB,
    ssn_last4   TEXT NOT NULL DEFAULT '',
    dob_enc     BLOB,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX providers_org_name ON providers (org_id, sort_name);
CREATE INDEX providers_org_npi ON providers (org_id, npi_bidx);
CREATE INDEX providers_org_ssn ON providers (org_id, ssn_bidx);

CREATE TABLE credentials (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    provider_id   TEXT NOT NULL REFERENCES providers (id),
    type          TEXT NOT NULL,
    issuer        TEXT NOT NULL DEFAULT '',
    jurisdiction  TEXT NOT NULL DEFAULT '',
    number_enc    BLOB,
    number_bidx   BLOB,
    number_last4  TEXT NOT NULL DEFAULT '',
    issued_on     TEXT NOT NULL DEFAULT '',
    expires_on    TEXT NOT NULL DEFAULT '',
    verified_at   BIGINT,
    verified_by   TEXT NOT NULL DEFAULT '',
    notes         TEXT NOT NULL DEFAULT '',
    details       TEXT NOT NULL DEFAULT '{}',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX credentials_org_provider ON credentials (org_id, provider_id);
CREATE INDEX credentials_org_expiry ON credentials (org_id, expires_on);
CREATE INDEX credentials_org_number ON credentials (org_id, type, number_bidx);

CREATE TABLE documents (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    provider_id   TEXT NOT NULL REFERENCES providers (id),
    credential_id TEXT REFERENCES credentials (id),
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        BLOB NOT NULL,
    blob_key      TEXT NOT NULL,
    key_enc       BLOB NOT NULL,
    uploaded_by   TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX documents_org_provider ON documents (org_id, provider_id);
CREATE INDEX documents_org_sha ON documents (org_id, sha256);

CREATE TABLE verifications (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    provider_id   TEXT NOT NULL REFERENCES providers (id),
    credential_id TEXT REFERENCES credentials (id),
    source        TEXT NOT NULL,
    request       TEXT NOT NULL DEFAULT '{}',
    result        TEXT NOT NULL,
    findings      TEXT NOT NULL DEFAULT '[]',
    http_status   INTEGER,
    latency_ms    INTEGER,
    response_sha256 BLOB,
    response_enc  BLOB,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX verifications_org_provider ON verifications (org_id, provider_id, created_at);

-- The audit log. org_id '' is the chain of events outside any organization
-- (a failed sign-in for an unknown address). Append-only: the triggers
-- below refuse UPDATE and DELETE.
-- On SQLite the random event ID is deliberately not indexed: an index on
-- random keys dirties a random page per event, which the encrypted WAL
-- pays for on every commit. Events are found by (org_id, seq) instead.
CREATE TABLE audit_events (
    id          TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_role  TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '',
    target_id   TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}',
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL,
    UNIQUE (org_id, seq)
);
CREATE INDEX audit_events_org_at ON audit_events (org_id, at);
CREATE INDEX audit_events_org_target ON audit_events (org_id, target_type, target_id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- The head of each organization's audit chain; locked while an event is
-- appended so that concurrent writers never fork the chain.
CREATE TABLE audit_heads (
    org_id TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL,
    hash   BLOB NOT NULL
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    org_id       TEXT,
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    args         TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL DEFAULT 'queued',
    attempts     INTEGER NOT NULL DEFAULT 0,
    progress     INTEGER NOT NULL DEFAULT 0,
    run_after    BIGINT NOT NULL,
    locked_until BIGINT,
    locked_by    TEXT NOT NULL DEFAULT '',
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_ready ON jobs (state, run_after);
