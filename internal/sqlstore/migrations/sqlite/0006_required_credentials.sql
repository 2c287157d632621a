-- 0006: an organization's required credential types per profession
-- (issue 5), as JSON: {"RN": ["state_license", "certification"], …}. A
-- profession that is not a key uses the defaults of
-- credtrack.RequiredCredentials; '{}' means the defaults everywhere. The
-- organizations table has no RLS (see 0004), so no policy is needed.
ALTER TABLE organizations ADD COLUMN required_credentials TEXT NOT NULL DEFAULT '{}';
