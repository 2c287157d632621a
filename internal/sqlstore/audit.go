package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"credtrack"
)

// canonicalEvent is the exact byte form an audit hash covers. Field order
// is fixed by the struct, map keys are sorted by encoding/json, and times
// are integers, so the bytes are the same on every backend and platform.
type canonicalEvent struct {
	ID         string            `json:"id"`
	OrgID      string            `json:"org"`
	Seq        int64             `json:"seq"`
	At         int64             `json:"at"`
	ActorKind  string            `json:"actor_kind"`
	ActorID    string            `json:"actor_id"`
	ActorRole  string            `json:"actor_role"`
	Action     string            `json:"action"`
	TargetType string            `json:"target_type"`
	TargetID   string            `json:"target_id"`
	Outcome    string            `json:"outcome"`
	IP         string            `json:"ip"`
	UserAgent  string            `json:"ua"`
	RequestID  string            `json:"request_id"`
	Details    map[string]string `json:"details"`
}

func (db *DB) chainHash(prev []byte, ev *credtrack.AuditEvent) []byte {
	// The bytes of canonicalEvent as json.Marshal writes them (canonjson.go).
	buf := canonBufs.Get().(*[]byte)
	b := appendCanonical((*buf)[:0], ev)
	mac := hmac.New(sha256.New, db.auditKey)
	mac.Write(prev)
	mac.Write(b)
	*buf = b
	canonBufs.Put(buf)
	return mac.Sum(nil)
}

// canonBufs holds the scratch buffers of chainHash.
var canonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// audit appends an event for the actor in the transaction's context. It is
// called inside the transaction of the change it describes, so the change
// and its event commit or roll back together.
func (tx *Tx) audit(action, targetType, targetID string, outcome credtrack.Outcome, details map[string]string) error {
	a := credtrack.ActorFromContext(tx.ctx)
	return tx.appendEvent(&credtrack.AuditEvent{
		OrgID: a.OrgID, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
		Action: action, TargetType: targetType, TargetID: targetID, Outcome: outcome,
		IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID, Details: details,
	})
}

// appendEvent links ev into its organization's chain. The chain head row
// is locked (FOR UPDATE on PostgreSQL; the single writer on SQLite) for the
// rest of the transaction, so concurrent writers, even in several
// processes, append one after another and never fork the chain.
func (tx *Tx) appendEvent(ev *credtrack.AuditEvent) error {
	// The same statements and bytes as a group commit of one event.
	if err := tx.appendBatch([]auditReq{{ev: ev}}); err != nil {
		return err
	}
	credtrack.MarkAudited(tx.ctx)
	return nil
}

// RecordEvent appends ev on its own transaction, filling the actor fields
// from ctx where ev leaves them empty. It is for events that change no data:
// denials, failed sign-ins, reads served outside the store.
func (db *DB) RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error {
	a := credtrack.ActorFromContext(ctx)
	if ev.ActorKind == "" {
		ev.OrgID, ev.ActorKind, ev.ActorID, ev.ActorRole = a.OrgID, a.Kind, a.ID, a.Role
	}
	if ev.IP == "" {
		ev.IP, ev.UserAgent, ev.RequestID = a.IP, a.UserAgent, a.RequestID
	}
	return db.appendStandalone(ctx, ev)
}

// SetAuditObserver has observe called with the time each standalone
// audit event (reads, denials, failed sign-ins) took from submission to
// commit, the wait a request spends on its audit write under group
// commit. For the audit write latency metric; nil stops observing.
func (db *DB) SetAuditObserver(observe func(time.Duration)) {
	if observe == nil {
		db.auditObserver.Store(nil)
		return
	}
	db.auditObserver.Store(&observe)
}

// appendStandalone appends an event that has no transaction of its own,
// through the group-commit batcher.
func (db *DB) appendStandalone(ctx context.Context, ev *credtrack.AuditEvent) error {
	if obs := db.auditObserver.Load(); obs != nil {
		start := time.Now()
		defer func() { (*obs)(time.Since(start)) }()
	}
	if db.noBatch {
		return db.update(ctx, func(tx *Tx) error { return tx.appendEvent(ev) })
	}
	err := db.batch.append(ctx, ev)
	if err == nil {
		credtrack.MarkAudited(ctx)
	}
	return err
}

const auditColumns = `id, org_id, seq, at, actor_kind, actor_id, actor_role, action, target_type, target_id,
	outcome, ip, user_agent, request_id, details, prev_hash, hash`

func scanAudit(rows interface{ Scan(...any) error }) (*credtrack.AuditEvent, error) {
	var ev credtrack.AuditEvent
	var at int64
	var kind, role, outcome, details string
	if err := rows.Scan(&ev.ID, &ev.OrgID, &ev.Seq, &at, &kind, &ev.ActorID, &role, &ev.Action, &ev.TargetType,
		&ev.TargetID, &outcome, &ev.IP, &ev.UserAgent, &ev.RequestID, &details, &ev.PrevHash, &ev.Hash); err != nil {
		return nil, err
	}
	ev.At = fromTS(sql.NullInt64{Int64: at, Valid: true})
	ev.ActorKind, ev.ActorRole, ev.Outcome = credtrack.ActorKind(kind), credtrack.Role(role), credtrack.Outcome(outcome)
	if err := json.Unmarshal([]byte(details), &ev.Details); err != nil {
		return nil, fmt.Errorf("sqlstore: audit details of %s: %w", ev.ID, err)
	}
	return &ev, nil
}

// queryAudit runs a query selecting auditColumns and scans every row.
func (tx *Tx) queryAudit(q string, args ...any) ([]*credtrack.AuditEvent, error) {
	return scanAudits(tx.query(q, args...))
}

// scanAudits scans every row of a query selecting auditColumns (or
// returns the query's error) and closes the rows.
func scanAudits(rows *sql.Rows, err error) ([]*credtrack.AuditEvent, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*credtrack.AuditEvent
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// FindAuditEvents returns one page of the organization's events, newest
// first, and the number that match. The caller needs audit.read.
func (db *DB) FindAuditEvents(ctx context.Context, f credtrack.AuditFilter) ([]*credtrack.AuditEvent, int, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, 0, err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermAuditRead); err != nil {
		return nil, 0, err
	}
	cond, args := auditWhere(org, f)
	limit := clampLimit(f.Limit)
	var out []*credtrack.AuditEvent
	var total int
	err = db.view(ctx, func(tx *Tx) error {
		if err := tx.queryRow("SELECT count(*) FROM audit_events WHERE "+cond, args...).Scan(&total); err != nil {
			return err
		}
		var err error
		out, err = tx.queryAudit("SELECT "+auditColumns+" FROM audit_events WHERE "+cond+" ORDER BY seq DESC LIMIT ? OFFSET ?",
			append(args, limit, max(f.Offset, 0))...)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	// Looking at the audit log is itself on the record.
	if err := db.auditRead(ctx, "audit.read", "audit_log", "", map[string]string{"view": "list"}); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// ChainBreak describes the first event whose hash does not verify.
type ChainBreak struct {
	OrgID   string
	Seq     int64
	EventID string
	Reason  string
}

// VerifyChain recomputes the hash chain of one organization ("" is the
// chain of events outside organizations) and returns the first broken
// link, or nil when every event verifies. It also reports how many events
// it checked.
func (db *DB) VerifyChain(ctx context.Context, orgID string) (*ChainBreak, int, error) {
	rows, err := db.read.QueryContext(ctx, db.rebind("SELECT "+auditColumns+" FROM audit_events WHERE org_id = ? ORDER BY seq"), orgID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	var want int64 = 1
	n := 0
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return nil, n, err
		}
		n++
		switch {
		case ev.Seq != want:
			return &ChainBreak{orgID, ev.Seq, ev.ID, fmt.Sprintf("sequence gap: expected %d", want)}, n, nil
		case !hmac.Equal(ev.PrevHash, prev):
			return &ChainBreak{orgID, ev.Seq, ev.ID, "previous-hash link does not match"}, n, nil
		case !hmac.Equal(ev.Hash, db.chainHash(prev, ev)):
			return &ChainBreak{orgID, ev.Seq, ev.ID, "event content does not match its hash"}, n, nil
		}
		prev = ev.Hash
		want++
	}
	return nil, n, rows.Err()
}

// AuditChains lists the organization IDs that have an audit chain.
func (db *DB) AuditChains(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT org_id FROM audit_heads ORDER BY org_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 500)
}

// auditWhere builds the WHERE clause of an audit filter for one organization.
func auditWhere(org string, f credtrack.AuditFilter) (string, []any) {
	where := []string{"org_id = ?"}
	args := []any{org}
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.ActorID != "" {
		add("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.TargetType != "" {
		add("target_type = ?", f.TargetType)
	}
	if f.TargetID != "" {
		add("target_id = ?", f.TargetID)
	}
	if f.Outcome != "" {
		add("outcome = ?", string(f.Outcome))
	}
	if !f.From.IsZero() {
		add("at >= ?", f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		add("at < ?", f.To.UnixMicro())
	}
	return strings.Join(where, " AND "), args
}

// ExportAuditEvents streams every event of the organization that matches f,
// oldest first, to fn (audit.read and export.create). The export itself
// is recorded ("export.created", with the filter's shape) and committed
// before the first event is handed out. Rows are read in pages of 1,000
// so that memory does not grow with the size of the log.
func (db *DB) ExportAuditEvents(ctx context.Context, f credtrack.AuditFilter, format string, fn func(*credtrack.AuditEvent) error) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermAuditRead); err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermExportCreate); err != nil {
		return err
	}
	details := map[string]string{"what": "audit_log", "format": format}
	for k, v := range map[string]string{"actor": f.ActorID, "action": f.Action, "target_type": f.TargetType, "outcome": string(f.Outcome)} {
		if v != "" {
			details["filter_"+k] = v
		}
	}
	if !f.From.IsZero() {
		details["from"] = f.From.UTC().Format(time.RFC3339)
	}
	if !f.To.IsZero() {
		details["to"] = f.To.UTC().Format(time.RFC3339)
	}
	if err := db.auditRead(ctx, "export.created", "audit_log", "", details); err != nil {
		return err
	}
	cond, args := auditWhere(org, f)
	var after int64
	for {
		var page []*credtrack.AuditEvent
		err := db.view(ctx, func(tx *Tx) error {
			var err error
			page, err = tx.queryAudit("SELECT "+auditColumns+" FROM audit_events WHERE "+cond+" AND seq > ? ORDER BY seq LIMIT 1000",
				append(append([]any{}, args...), after)...)
			return err
		})
		if err != nil {
			return err
		}
		for _, ev := range page {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// FindRecordReads returns who read a provider's record or its
// credentials, newest first (at most 500 events): the answer to a nurse's
// "who looked at my license?". Staff with audit.read may ask for any
// provider; a provider-role user only for the record linked to them.
// Asking is itself recorded ("audit.read").
func (db *DB) FindRecordReads(ctx context.Context, providerID string) ([]*credtrack.AuditEvent, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	var out []*credtrack.AuditEvent
	err = db.view(ctx, func(tx *Tx) error {
		var owner string
		if err := tx.queryRow("SELECT COALESCE(user_id, '') FROM providers WHERE id = ? AND org_id = ?", providerID, org).Scan(&owner); err != nil {
			return err
		}
		if !a.Can(credtrack.PermAuditRead) && !(a.Can(credtrack.PermOwnAuditRead) && a.Kind == credtrack.ActorUser && owner == a.ID) {
			return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		var err error
		out, err = tx.queryAudit(`SELECT `+auditColumns+` FROM audit_events
			WHERE org_id = ? AND action IN ('provider.read', 'credential.read', 'document.downloaded')
			AND ((target_type = 'provider' AND target_id = ?)
			  OR (target_type = 'credential' AND target_id IN (SELECT id FROM credentials WHERE org_id = ? AND provider_id = ?)))
			ORDER BY seq DESC LIMIT 500`, org, providerID, org, providerID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := db.auditRead(ctx, "audit.read", "provider", providerID, map[string]string{"view": "record_reads"}); err != nil {
		return nil, err
	}
	return out, nil
}
