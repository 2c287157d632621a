-- 0004: row-level security, PostgreSQL only (see migrations/postgres/0004_rls.sql).
-- SQLite has no RLS and no roles: the embedded database is one file opened
-- by one process, so there is no second database user to fence off. Tenant
-- isolation there rests on the store itself: every tenant-owned query takes
-- its organization from the request's actor (credtrack.OrgIDFromContext)
-- and filters by org_id, and the store tests run against two organizations.
-- This file exists so that both backends keep the same migration numbers.
SELECT 1;
