-- 0010: credential expiry reminders (internal/reminders). One row per
-- reminder issued: a credential's expiry date and the threshold (days
-- before expiry, 0 = on expiry) it was sent at. The primary key is what
-- makes a reminder go out at most once, whatever the number of server
-- processes or reruns; a renewed credential (a new expiry date) starts
-- afresh. credential_id has no foreign key on purpose: deleting a
-- credential or provider needs no change here, and an orphan row only
-- remembers a reminder that was sent. Tenant data: the strict policy of 0004.
CREATE TABLE expiry_reminders (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    credential_id TEXT NOT NULL,
    expires_on    TEXT NOT NULL,
    threshold     INTEGER NOT NULL,
    sent_at       BIGINT NOT NULL,
    PRIMARY KEY (org_id, credential_id, expires_on, threshold)
);

ALTER TABLE expiry_reminders ENABLE ROW LEVEL SECURITY;
ALTER TABLE expiry_reminders FORCE ROW LEVEL SECURITY;
CREATE POLICY expiry_reminders_org ON expiry_reminders
    USING (org_id = credtrack_org()) WITH CHECK (org_id = credtrack_org());

GRANT SELECT, INSERT, UPDATE, DELETE ON expiry_reminders TO credtrack_app;
