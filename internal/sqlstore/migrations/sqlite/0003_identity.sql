-- 0003: the rest of identity (issue 3). Sign-up records the 18+ attestation
-- and the date of birth check's outcome (never the date itself on the user);
-- TOTP MFA with single-use recovery codes and trusted devices; the org
-- setting that requires MFA of every member; revocable invitations.

-- adult_attested_at: when the person confirmed they are 18 or older (or
-- gave a date of birth showing it). NULL for accounts made by an operator
-- or an invitation before this migration.
ALTER TABLE users ADD COLUMN adult_attested_at BIGINT;
-- TOTP: the seed is sealed (seal package, column totp_secret_enc), pending
-- until confirmed by a code (totp_enabled_at set). totp_last_step is the
-- last accepted time step, so a code cannot be replayed.
ALTER TABLE users ADD COLUMN totp_secret_enc BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- require_mfa: every member must use TOTP, whatever the role (owner, admin
-- and coordinator always must).
ALTER TABLE organizations ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;

ALTER TABLE invitations ADD COLUMN revoked_at BIGINT;
ALTER TABLE invitations ADD COLUMN accepted_by TEXT;

-- Ten per enrolment; only a keyed hash of each code is kept.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    code_hash  BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- "Trust this device for 30 days": a random token in its own cookie, kept
-- hashed here; it skips the TOTP prompt on that browser only.
CREATE TABLE trusted_devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    token_hash   BLOB NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id);
