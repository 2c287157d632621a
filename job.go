package credtrack

import "time"

// Job is a durable unit of background work. Jobs are rows claimed with
// FOR UPDATE SKIP LOCKED (PostgreSQL) or by the single writer (SQLite), so
// several server processes never run one job twice. Args never hold PHI.
type Job struct {
	ID          string
	OrgID       string // "" for jobs not tied to one organization
	Kind        string
	Key         string // idempotency key: at most one job per (kind, key)
	Args        []byte // JSON
	State       string // queued, running, done, failed
	Attempts    int
	RunAfter    time.Time
	LockedUntil time.Time
	LastError   string
	Progress    int // 0–100
	CreatedAt   time.Time
}
