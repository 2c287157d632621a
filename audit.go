package credtrack

import (
	"context"
	"sync"
	"sync/atomic"
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

// AuditMark counts the audit events written on behalf of one request.
// Web and API middleware put one in each request's context; the store
// marks it whenever it records an event with that context. A route whose
// handler recorded nothing still gets a generic event from the
// middleware, so a new route cannot silently go unaudited.
type AuditMark struct {
	n     atomic.Int64
	mu    sync.Mutex
	actor Actor
}

// Actor returns the last actor put into a context carrying this mark:
// the middleware that wrote no event uses it to say who made the request.
func (m *AuditMark) Actor() Actor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.actor
}

// Count returns how many events were recorded.
func (m *AuditMark) Count() int64 { return m.n.Load() }

type auditMarkKey struct{}

// NewContextWithAuditMark returns a context carrying a fresh mark.
func NewContextWithAuditMark(ctx context.Context) (context.Context, *AuditMark) {
	m := &AuditMark{}
	return context.WithValue(ctx, auditMarkKey{}, m), m
}

// MarkAudited records that an event was written for ctx's request.
func MarkAudited(ctx context.Context) {
	if m, ok := ctx.Value(auditMarkKey{}).(*AuditMark); ok {
		m.n.Add(1)
	}
}
