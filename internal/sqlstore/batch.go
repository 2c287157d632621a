package sqlstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"

	"credtrack"
)

// maxBatch bounds how many audit events one group commit carries.
const maxBatch = 256

// auditBatcher group-commits audit events that have no data write of their
// own (reads, denials, failed sign-ins): concurrent requests hand their
// events to one goroutine, which appends everything waiting in a single
// transaction and then releases every caller. Each caller still returns
// only after its event is committed, so a read is never answered before
// its audit event is durable; the cost of a transaction (and, on SQLite,
// of its encrypted page writes) is shared by the batch.
type auditBatcher struct {
	db   *DB
	reqs chan auditReq
	wg   sync.WaitGroup
	once sync.Once
	quit chan struct{}
}

type auditReq struct {
	ev *credtrack.AuditEvent
	// read, when set, runs inside the batch's transaction first and returns
	// the event to append (nil for none) and the caller's result.
	read    func(tx *Tx) (*credtrack.AuditEvent, error)
	readErr error
	done    chan error
}

func newAuditBatcher(db *DB) *auditBatcher {
	b := &auditBatcher{db: db, reqs: make(chan auditReq, maxBatch), quit: make(chan struct{})}
	b.wg.Add(1)
	go b.loop()
	return b
}

// append submits ev and waits until it is committed or has failed.
func (b *auditBatcher) append(ctx context.Context, ev *credtrack.AuditEvent) error {
	return b.submit(ctx, auditReq{ev: ev, done: make(chan error, 1)})
}

// readAndAppend runs read inside the next batch's transaction, on the
// writer connection, appends the event it returns, and returns read's
// result once the batch has committed (or the commit's error). On SQLite
// this keeps audited reads on the one connection whose page cache every
// commit leaves warm: on a reader connection each commit would discard the
// cache and the next read would decrypt its pages again.
func (b *auditBatcher) readAndAppend(ctx context.Context, read func(tx *Tx) (*credtrack.AuditEvent, error)) error {
	return b.submit(ctx, auditReq{read: read, done: make(chan error, 1)})
}

func (b *auditBatcher) submit(ctx context.Context, req auditReq) error {
	select {
	case b.reqs <- req:
	case <-b.quit:
		return credtrack.Errorf(credtrack.EUNAVAILABLE, "the store is closing")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once submitted, wait for the outcome even if ctx ends: the caller
	// must not act as if an event that may yet commit had failed, nor
	// the reverse.
	return <-req.done
}

func (b *auditBatcher) loop() {
	defer b.wg.Done()
	for {
		var first auditReq
		select {
		case first = <-b.reqs:
		case <-b.quit:
			b.drain()
			return
		}
		batch := []auditReq{first}
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		b.commit(batch)
	}
}

// commit writes a batch in one transaction. If that fails, each event is
// retried on its own so that one bad event cannot fail its neighbours.
func (b *auditBatcher) commit(batch []auditReq) {
	ctx := context.Background()
	n, err := b.db.updateUnsynced(ctx, func(tx *Tx) error {
		for i := range batch {
			if batch[i].read != nil {
				batch[i].ev, batch[i].readErr = batch[i].read(tx)
			}
		}
		return tx.appendBatch(batch)
	})
	if err == nil && n > 0 {
		// Wait for the flush here rather than in the background: the
		// requests arriving meanwhile form the next, larger batch (with
		// the flush off this goroutine, batches shrank to ~3 events and
		// throughput fell by a quarter), while the writer connection is
		// free for other transactions during the flush (walsync.go).
		err = b.db.synced(n)
	}
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			r.done <- r.result(err)
		}
		return
	}
	for _, r := range batch {
		err := b.db.update(ctx, func(tx *Tx) error {
			if r.read != nil {
				r.ev, r.readErr = r.read(tx)
			} else if r.ev != nil {
				r.ev.ID, r.ev.Seq = "", 0 // fresh identity for the retry
			}
			if r.ev == nil {
				return nil
			}
			return tx.appendEvent(r.ev)
		})
		r.done <- r.result(err)
	}
}

// result is what the caller of a request learns: the commit's error if
// its event did not commit, otherwise the read's own result.
func (r *auditReq) result(commitErr error) error {
	if commitErr != nil && r.ev != nil {
		return commitErr
	}
	return r.readErr
}

// insertChunk bounds the rows of one multi-row INSERT (17 parameters
// each), far below the parameter limits of both backends.
const insertChunk = 64

// auditInsertTypes are the PostgreSQL types of auditColumns.
var auditInsertTypes = []string{"text", "text", "bigint", "bigint", "text", "text", "text", "text", "text", "text",
	"text", "text", "text", "text", "text", "bytea", "bytea"}

// appendBatch links a batch of events into their organizations' chains
// with the same rows and hashes that appendEvent would write one by one,
// but with a fixed number of statements per organization instead of four
// per event: the chain head is locked and read once, the events are
// chained in memory and inserted with multi-row INSERTs, and the head is
// updated once. Organizations are locked in sorted order, so that two
// batchers (several processes on one PostgreSQL) cannot deadlock on them;
// within an organization the events keep their arrival order.
func (tx *Tx) appendBatch(batch []auditReq) error {
	byOrg := map[string][]*credtrack.AuditEvent{}
	for _, r := range batch {
		if r.ev == nil { // a read that found nothing to record
			continue
		}
		byOrg[r.ev.OrgID] = append(byOrg[r.ev.OrgID], r.ev)
	}
	orgs := make([]string, 0, len(byOrg))
	for org := range byOrg {
		orgs = append(orgs, org)
	}
	slices.Sort(orgs)
	lock := "SELECT seq, hash FROM audit_heads WHERE org_id = ?"
	if tx.db.backend == Postgres {
		lock += " FOR UPDATE"
	}
	for _, org := range orgs {
		evs := byOrg[org]
		if _, err := tx.exec("INSERT INTO audit_heads (org_id, seq, hash) VALUES (?, 0, ?) ON CONFLICT (org_id) DO NOTHING",
			org, make([]byte, sha256.Size)); err != nil {
			return fmt.Errorf("sqlstore: audit head: %w", err)
		}
		var seq int64
		var prev []byte
		if err := tx.queryRow(lock, org).Scan(&seq, &prev); err != nil {
			return fmt.Errorf("sqlstore: audit head: %w", err)
		}
		rows := make([][]any, 0, len(evs))
		for _, ev := range evs {
			if ev.ID == "" {
				ev.ID = credtrack.NewID()
			}
			if ev.At.IsZero() {
				ev.At = tx.now
			}
			if ev.Details == nil {
				ev.Details = map[string]string{}
			}
			if ev.ActorKind == "" {
				ev.ActorKind = credtrack.ActorAnonymous
			}
			seq++
			ev.Seq, ev.PrevHash = seq, prev
			ev.Hash = tx.db.chainHash(prev, ev)
			prev = ev.Hash
			details := appendJSONMap(nil, ev.Details) // json.Marshal's bytes (canonjson.go)
			rows = append(rows, []any{ev.ID, ev.OrgID, ev.Seq, ev.At.UnixMicro(), string(ev.ActorKind), ev.ActorID,
				string(ev.ActorRole), ev.Action, ev.TargetType, ev.TargetID, string(ev.Outcome), ev.IP, ev.UserAgent,
				ev.RequestID, string(details), ev.PrevHash, ev.Hash})
		}
		if tx.db.backend == Postgres && len(rows) > insertChunk {
			// A roster import's batch: one statement from arrays (see insertRows).
			if err := tx.insertArrays("audit_events", auditColumns, auditInsertTypes, rows); err != nil {
				return fmt.Errorf("sqlstore: insert audit events: %w", err)
			}
			rows = nil
		}
		for start := 0; start < len(rows); start += insertChunk {
			chunk := rows[start:min(start+insertChunk, len(rows))]
			args := make([]any, 0, 17*len(chunk))
			for _, r := range chunk {
				args = append(args, r...)
			}
			row := "(" + placeholders(17) + ")"
			q := "INSERT INTO audit_events (" + auditColumns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", len(chunk)), ", ")
			if _, err := tx.exec(q, args...); err != nil {
				return fmt.Errorf("sqlstore: insert audit events: %w", err)
			}
		}
		if _, err := tx.exec("UPDATE audit_heads SET seq = ?, hash = ? WHERE org_id = ?", seq, prev, org); err != nil {
			return fmt.Errorf("sqlstore: audit head: %w", err)
		}
	}
	return nil
}

// drain fails whatever is still queued at close.
func (b *auditBatcher) drain() {
	for {
		select {
		case r := <-b.reqs:
			r.done <- credtrack.Errorf(credtrack.EUNAVAILABLE, "the store is closing")
		default:
			return
		}
	}
}

func (b *auditBatcher) close() {
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
}
