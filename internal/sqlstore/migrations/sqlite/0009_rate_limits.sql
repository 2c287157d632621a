-- 0009: per-address throttles shared by every node (issue 7, scale-out).
-- One token bucket per throttle and client address (key = "login:" +
-- address or IPv6 /64): tokens left after the last request and when that
-- was (unix microseconds). A bucket idle for ten minutes is full again and
-- is deleted by the sweep. On SQLite, a single-node backend, the server
-- keeps these buckets in memory instead; the table exists so both
-- backends have the same schema.
CREATE TABLE rate_limits (
    key        TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_at BIGINT NOT NULL
);
