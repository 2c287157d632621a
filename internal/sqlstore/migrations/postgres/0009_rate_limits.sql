-- 0009: per-address throttles shared by every node (issue 7, scale-out).
-- One token bucket per throttle and client address (key = "login:" +
-- address or IPv6 /64): tokens left after the last request and when that
-- was (unix microseconds). Each request takes a token with one atomic
-- upsert (ratelimit.go), so any number of serve processes behind a load
-- balancer enforce one limit per address, not one per process. A bucket
-- idle for ten minutes is full again and is deleted by the sweep.
-- Operational state, not tenant data: no row-level security.
CREATE TABLE rate_limits (
    key        TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at BIGINT NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO credtrack_app;
