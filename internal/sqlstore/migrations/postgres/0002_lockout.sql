-- 0002: per-account lockout after repeated failed sign-ins (SECURITY.md
-- §1.1). The state lives on the user row, not in memory, so a lock holds
-- across restarts and on every node. failed_logins counts the failures of
-- the window that began at first_failed_at; locked_until is the end of the
-- current lock. Times are unix microseconds like everywhere else.

ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN first_failed_at BIGINT;
ALTER TABLE users ADD COLUMN locked_until BIGINT;

-- No new table: credtrack_app already holds SELECT and UPDATE on users.
