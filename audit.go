package credtrack

import (
	"context"
	"time"
)

// Outcome is the result of an audited action.
type Outcome string

// Outcomes recorded in the audit log.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeDenied  Outcome = "denied"
)

// AuditEvent is one entry of an organization's append-only audit log.
// Details never hold secrets or plaintext sensitive identifiers: record IDs
// or masked values only.
type AuditEvent struct {
	ID         string
	OrgID      string // "" for events outside any organization (a failed login)
	Seq        int64  // position in the organization's hash chain
	At         time.Time
	ActorKind  ActorKind
	ActorID    string
	ActorRole  Role
	Action     string // stable dotted name, e.g. "credential.read"
	TargetType string
	TargetID   string
	Outcome    Outcome
	IP         string
	UserAgent  string
	RequestID  string
	Details    map[string]string
	PrevHash   []byte
	Hash       []byte
}

// AuditFilter selects audit events for the viewer and exports.
type AuditFilter struct {
	ActorID    string
	Action     string
	TargetType string
	TargetID   string
	Outcome    Outcome
	From, To   time.Time
	Limit      int
	Offset     int
}

// AuditService reads and appends the audit log of the organization in ctx.
// There is deliberately no update or delete.
type AuditService interface {
	// RecordEvent appends ev on its own (for events with no data write, such
	// as a denied request). Writes record their events in their own
	// transaction instead.
	RecordEvent(ctx context.Context, ev *AuditEvent) error
	// FindAuditEvents returns one page of events, newest first, and the total.
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, int, error)
}
