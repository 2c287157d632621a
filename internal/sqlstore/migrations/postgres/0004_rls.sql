-- 0004: row-level security (SECURITY.md §2 item 27, issue 3 "Tenant
-- isolation"). Every application transaction runs as credtrack_app
-- (NOSUPERUSER NOBYPASSRLS, see 0001) and sets the organization it acts in
-- with set_config('credtrack.org_id', <org>, true) right after SET LOCAL
-- ROLE (db.go, DB.begin). The setting is transaction-local, so a pooled
-- connection never carries one request's organization into the next; a
-- transaction without an organization sets '' and matches no row.
--
-- FORCE makes the policies apply to the table owner too, so a later
-- migration that must touch tenant rows across organizations has to run as
-- a superuser or a BYPASSRLS role, or set credtrack.org_id per org: that is
-- the point. The store's own SQL already filters every tenant query by the
-- org from the context; RLS is the second wall behind it, catching a query
-- that forgets the filter.
--
-- Decisions per table:
--
--   providers, credentials, documents, verifications: the tenant data proper.
--     Strict: visible and writable only when org_id equals the transaction's
--     organization. Nothing reaches them before an organization is known.
--
--   api_tokens: an API request is authenticated by looking the token's hash
--     up before its organization is known (the actor is still anonymous), so
--     a transaction with no organization may see any row, narrowed by the
--     unique hash it looks for. A transaction acting in an organization sees
--     and changes only that organization's tokens.
--
--   memberships, invitations: no RLS. Signing in lists every organization of
--     the user, switching organizations reads memberships of another org than
--     the current one, and accepting an invitation (found by its token hash)
--     may happen while signed in to a different organization. The store
--     filters them by org_id or by the user's own ID.
--
--   organizations: no RLS: the organization row is read to build the
--     organization switcher and the session's stage before an org is chosen;
--     it holds no tenant data beyond the name and settings.
--
--   users, sessions, user_tokens, recovery_codes, trusted_devices: not
--     tenant-owned (a person may belong to several organizations); looked up
--     by email, token hash or user ID before any organization is known.
--
--   audit_events, audit_heads: no RLS. The group-commit batcher (batch.go)
--     appends events of many organizations, and of the '' chain of sign-in
--     failures outside any organization, in one transaction with no actor;
--     the operator's chain verification walks every chain. The log is
--     protected by grants (credtrack_app may only INSERT and SELECT events)
--     and the append-only triggers, and every read path filters by org.
--
--   jobs, instance_meta, schema_migrations: operational, claimed across
--     organizations by the job runner.

CREATE FUNCTION credtrack_org() RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('credtrack.org_id', true), '')
$$;

ALTER TABLE providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE providers FORCE ROW LEVEL SECURITY;
CREATE POLICY providers_org ON providers
    USING (org_id = credtrack_org()) WITH CHECK (org_id = credtrack_org());

ALTER TABLE credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY credentials_org ON credentials
    USING (org_id = credtrack_org()) WITH CHECK (org_id = credtrack_org());

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
CREATE POLICY documents_org ON documents
    USING (org_id = credtrack_org()) WITH CHECK (org_id = credtrack_org());

ALTER TABLE verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE verifications FORCE ROW LEVEL SECURITY;
CREATE POLICY verifications_org ON verifications
    USING (org_id = credtrack_org()) WITH CHECK (org_id = credtrack_org());

-- api_tokens: see above; an empty organization is the pre-authentication
-- lookup by hash (and its last_used_at update in the same transaction).
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY api_tokens_org ON api_tokens
    USING (credtrack_org() IN ('', org_id)) WITH CHECK (credtrack_org() IN ('', org_id));

GRANT EXECUTE ON FUNCTION credtrack_org() TO credtrack_app;
