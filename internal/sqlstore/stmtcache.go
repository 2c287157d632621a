package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// maxCachedStmts bounds a statement cache. Queries built from filters
// (audit and provider searches) vary, so the cache keeps the first ones it
// sees and lets the rest run unprepared rather than grow without limit.
const maxCachedStmts = 256

// stmtCache keeps SQLite prepared statements per connection pool. SQLite
// parses every statement it is given, and on the audited read path the
// parse of the same few queries cost about a tenth of the writer's CPU.
// PostgreSQL needs none: pgx caches prepared statements on each connection.
//
// A *sql.Stmt prepared on a pool is prepared again, lazily, on each
// connection that runs it, and Tx.StmtContext reuses the connection's copy.
// A statement is never prepared inside a transaction: DB.PrepareContext
// takes a connection from the pool, and the writer pool's only connection
// is the one the transaction holds. So a transaction notes the queries it
// ran unprepared, and they are prepared after it has ended (see Tx.finish).
type stmtCache struct {
	pool   *sql.DB
	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	closed bool
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement of q, or nil.
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.RLock()
	s := c.m[q]
	c.mu.RUnlock()
	return s
}

// prepare prepares the queries that are not cached yet. It must not run
// while the caller holds a connection of the pool. It waits for a free
// connection at most briefly: a query left unprepared is tried again the
// next time it runs.
func (c *stmtCache) prepare(qs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	for _, q := range qs {
		c.mu.RLock()
		_, done := c.m[q]
		full := c.closed || len(c.m) >= maxCachedStmts
		c.mu.RUnlock()
		if done || full {
			continue
		}
		s, err := c.pool.PrepareContext(ctx, q)
		if err != nil {
			return // the pool is busy or closing; try another time
		}
		c.mu.Lock()
		if _, dup := c.m[q]; dup || c.closed {
			c.mu.Unlock()
			s.Close()
			continue
		}
		c.m[q] = s
		c.mu.Unlock()
	}
}

// close closes the cached statements; later prepares are refused.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for q, s := range c.m {
		s.Close()
		delete(c.m, q)
	}
}

// stmt returns the transaction's handle on the cached statement of q (q is
// already rebound), or nil when the statement is not cached; a miss is
// noted so that finish prepares it.
func (tx *Tx) stmt(q string) *sql.Stmt {
	if tx.stmts == nil {
		return nil
	}
	s := tx.stmts.get(q)
	if s == nil {
		tx.missed = append(tx.missed, q)
		return nil
	}
	return tx.tx.StmtContext(tx.ctx, s)
}

// finish ends the transaction (a rollback, which does nothing after a
// commit) and then, with the connection back in its pool, prepares the
// statements the transaction missed.
func (tx *Tx) finish() {
	tx.tx.Rollback()
	if len(tx.missed) > 0 {
		tx.stmts.prepare(tx.missed)
		tx.missed = nil
	}
}
