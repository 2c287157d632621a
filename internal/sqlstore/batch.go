package sqlstore

import (
	"context"
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
	ev   *credtrack.AuditEvent
	done chan error
}

func newAuditBatcher(db *DB) *auditBatcher {
	b := &auditBatcher{db: db, reqs: make(chan auditReq, maxBatch), quit: make(chan struct{})}
	b.wg.Add(1)
	go b.loop()
	return b
}

// append submits ev and waits until it is committed or has failed.
func (b *auditBatcher) append(ctx context.Context, ev *credtrack.AuditEvent) error {
	req := auditReq{ev: ev, done: make(chan error, 1)}
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
	err := b.db.update(ctx, func(tx *Tx) error {
		for _, r := range batch {
			if err := tx.appendEvent(r.ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	for _, r := range batch {
		r.ev.ID, r.ev.Seq = "", 0 // fresh identity for the retry
		r.done <- b.db.update(ctx, func(tx *Tx) error { return tx.appendEvent(r.ev) })
	}
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
