// Package sqlstore is credtrack's storage: hand-written SQL on database/sql
// over two backends, the embedded encrypted SQLite database (ncruces
// go-sqlite3 with the AES-256-XTS VFS) and PostgreSQL (pgx v5). It is the
// only package that imports SQL drivers. It implements the record services
// of the root package, applies the organization scope to every
// tenant-owned query, turns sensitive plaintext into ciphertext, and
// writes each change's audit event in the change's own transaction.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"credtrack"
	"credtrack/internal/seal"
)

// Backend names a SQL backend.
type Backend string

// The supported backends.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// Options configure Open.
type Options struct {
	// DatabaseURL selects PostgreSQL; empty selects SQLite at SQLitePath.
	DatabaseURL string
	// SQLitePath is the database file of the embedded backend.
	SQLitePath string
	// SQLiteKey is the 64-byte AES-256-XTS key of the SQLite file.
	SQLiteKey []byte
	// Sealer encrypts sensitive fields.
	Sealer *seal.Sealer
	// AuditKey keys the audit hash chain (HMAC-SHA256).
	AuditKey []byte
	// KeyCheck is the master key's check value, compared with the one
	// stored in the database to refuse a wrong master key.
	KeyCheck string
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means credtrack.Now. Tests inject a fake one.
	Now func() time.Time
	// ReadConns is the size of the SQLite read pool (default 4).
	ReadConns int
	// SQLiteVFS names the encrypting VFS of the SQLite file; empty means
	// xtsvfs.Name. The library's "xts" VFS (which the caller must import)
	// reads and writes the same format one sector per call; only
	// benchmarks set it, to compare the two in one process.
	SQLiteVFS string
	// SQLiteSynchronous is the SQLite synchronous level: "full" (the
	// default when empty) syncs the WAL at every commit, so a committed
	// write, and a read's audit event, survive power loss; "normal" syncs
	// only at checkpoints and survives application crashes only.
	SQLiteSynchronous string
}

// DB is an open store. Its methods implement the root package's record
// services (OrgService, UserService, ProviderService, …).
type DB struct {
	backend  Backend
	write    *sql.DB // SQLite: one connection, the single writer
	read     *sql.DB // SQLite: a read-only pool; PostgreSQL: same as write
	sealer   *seal.Sealer
	auditKey []byte
	keyCheck string
	log      *slog.Logger
	now      func() time.Time
	batch    *auditBatcher
	// noBatch turns group commit off (see SetGroupCommit).
	noBatch bool
	// benchNoReadAudit: see bench.go; never set in production.
	benchNoReadAudit bool
	// wstmts and rstmts cache prepared statements of the SQLite writer
	// and reader pools (see stmtcache.go); nil on PostgreSQL.
	wstmts, rstmts *stmtCache
	// ckpt checkpoints the SQLite WAL off the writer (sqlite.go); nil on
	// PostgreSQL.
	ckpt *checkpointer
	// auditObserver receives audit write latencies (SetAuditObserver).
	auditObserver atomic.Pointer[func(time.Duration)]
	// sqliteHexKey is the XTS key of the SQLite file, for encrypted
	// snapshots (snapshot.go); empty on PostgreSQL.
	sqliteHexKey string
	sqliteVFS    string // the VFS the SQLite file is opened through
	// walSync, on SQLite with synchronous full, makes each commit durable
	// by a shared fsync of the WAL off the writer (walsync.go); nil
	// otherwise.
	walSync *walSyncer
}

// Open opens (without migrating) the database that opts select. Errors are
// one clear sentence saying what is wrong and what to do.
func Open(ctx context.Context, opts Options) (*DB, error) {
	db := &DB{sealer: opts.Sealer, auditKey: opts.AuditKey, keyCheck: opts.KeyCheck, log: opts.Logger, now: opts.Now}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if db.now == nil {
		db.now = credtrack.Now
	}
	var err error
	if opts.DatabaseURL != "" {
		db.backend = Postgres
		err = db.openPostgres(ctx, opts)
	} else {
		db.backend = SQLite
		err = db.openSQLite(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	db.batch = newAuditBatcher(db)
	if db.sealer != nil {
		db.sealer.SetLoader(db.loadKeyset, keysetTTL)
	}
	return db, nil
}

// Backend returns which backend db uses.
func (db *DB) Backend() Backend { return db.backend }

// Close closes the connection pools.
func (db *DB) Close() error {
	if db.batch != nil {
		db.batch.close()
	}
	if db.walSync != nil {
		db.walSync.close()
	}
	for _, c := range []*stmtCache{db.wstmts, db.rstmts} {
		if c != nil {
			c.close()
		}
	}
	err := db.ckpt.close()
	err = errors.Join(err, db.write.Close())
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Ping reports whether the database answers, for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Stats returns the connection pool statistics of the writer and reader
// pools, for /metrics.
func (db *DB) Stats() (write, read sql.DBStats) { return db.write.Stats(), db.read.Stats() }

// Tx is a transaction with the request's context, the time the
// transaction started (one clock reading for all its rows) and helpers
// that rebind ? placeholders for the backend.
type Tx struct {
	tx  *sql.Tx
	ctx context.Context
	db  *DB
	now time.Time
	// stmts is the statement cache of the transaction's pool (SQLite
	// only), missed the queries it ran that were not in it.
	stmts  *stmtCache
	missed []string
}

func (db *DB) begin(ctx context.Context, write bool) (*Tx, error) {
	pool := db.read
	var opts *sql.TxOptions
	if write {
		pool = db.write
	} else if db.backend == Postgres {
		opts = &sql.TxOptions{ReadOnly: true}
	}
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, db.mapError(fmt.Errorf("sqlstore: begin: %w", err))
	}
	if db.backend == Postgres {
		// Act as the application role for this transaction only (see the
		// end of migrations/postgres/0001_init.sql), in the organization of
		// the actor in ctx, which the row-level security policies of
		// migrations/postgres/0004_rls.sql compare with org_id ('' when
		// there is none: no tenant row matches). Both settings are
		// transaction-local (is_local true, the same as SET LOCAL), so a
		// pooled connection never keeps them, and both go in one statement
		// so that the organization costs no extra round trip.
		org := credtrack.ActorFromContext(ctx).OrgID
		if _, err := tx.ExecContext(ctx, "SELECT set_config('role', 'credtrack_app', true), set_config('credtrack.org_id', $1, true)", org); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("sqlstore: switch to the application role: %w", err)
		}
	}
	t := &Tx{tx: tx, ctx: ctx, db: db, now: db.now().UTC(), stmts: db.rstmts}
	if write {
		t.stmts = db.wstmts
	}
	return t, nil
}

// update runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	n, err := db.updateUnsynced(ctx, fn)
	if err != nil {
		return err
	}
	return db.synced(n)
}

// updateUnsynced is update without waiting for the commit to reach the
// disk: it returns the commit's number for synced. Only the audit batcher
// uses it, to release a batch's callers once their commit is synced while
// the writer already runs the next batch.
func (db *DB) updateUnsynced(ctx context.Context, fn func(*Tx) error) (uint64, error) {
	tx, err := db.begin(ctx, true)
	if err != nil {
		return 0, err
	}
	defer tx.finish()
	if err := fn(tx); err != nil {
		return 0, db.mapError(err)
	}
	if err := tx.tx.Commit(); err != nil {
		return 0, db.mapError(fmt.Errorf("sqlstore: commit: %w", err))
	}
	if db.walSync == nil {
		return 0, nil
	}
	return db.walSync.committedOne(), nil
}

// synced waits until commit n (from updateUnsynced) is on disk; 0 means
// the commit was durable when it returned (PostgreSQL, or SQLite at
// synchronous normal, which promises no more).
func (db *DB) synced(n uint64) error {
	if n == 0 || db.walSync == nil {
		return nil
	}
	if err := db.walSync.wait(n); err != nil {
		db.log.Error("the database file could not be synced to disk", "err", err)
		return credtrack.Errorf(credtrack.EUNAVAILABLE, "the database could not make the change durable")
	}
	return nil
}

// view runs fn in a read-only transaction.
func (db *DB) view(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.finish()
	return db.mapError(fn(tx))
}

// exec, query and queryRow run a statement in the transaction, prepared
// from the statement cache on SQLite once it has run before.
func (tx *Tx) exec(q string, args ...any) (sql.Result, error) {
	q = tx.db.rebind(q)
	if s := tx.stmt(q); s != nil {
		return s.ExecContext(tx.ctx, args...)
	}
	return tx.tx.ExecContext(tx.ctx, q, args...)
}

func (tx *Tx) query(q string, args ...any) (*sql.Rows, error) {
	q = tx.db.rebind(q)
	if s := tx.stmt(q); s != nil {
		return s.QueryContext(tx.ctx, args...)
	}
	return tx.tx.QueryContext(tx.ctx, q, args...)
}

func (tx *Tx) queryRow(q string, args ...any) *sql.Row {
	q = tx.db.rebind(q)
	if s := tx.stmt(q); s != nil {
		return s.QueryRowContext(tx.ctx, args...)
	}
	return tx.tx.QueryRowContext(tx.ctx, q, args...)
}

// rebind turns ? placeholders into $1, $2… for PostgreSQL. Queries are
// written with ? and never contain a literal '?' inside a string.
func (db *DB) rebind(q string) string {
	if db.backend != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// mapError turns driver errors into domain errors: a unique violation
// becomes ECONFLICT, sql.ErrNoRows ENOTFOUND, a cancelled context stays as
// it is. Domain errors pass through.
func (db *DB) mapError(err error) error {
	if err == nil {
		return nil
	}
	var e *credtrack.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
	}
	if db.isUniqueViolation(err) {
		return credtrack.Errorf(credtrack.ECONFLICT, "already exists")
	}
	return err
}

// Times are stored as unix microseconds; NULL is the zero time.

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().UnixMicro()
}

func fromTS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

func dateStr(d credtrack.Date) string { return d.String() }

func parseDate(s string) credtrack.Date {
	d, _ := credtrack.ParseDate(s) // stored dates were validated on the way in
	return d
}

// WriteDB returns the writer pool, for pool metrics only.
func (db *DB) WriteDB() *sql.DB { return db.write }

// SetGroupCommit turns group commit of standalone audit events on (the
// default) or off; benchmarks compare the two.
func (db *DB) SetGroupCommit(on bool) { db.noBatch = !on }
