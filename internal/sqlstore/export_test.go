package sqlstore

import "context"

// ExecForTest runs a raw statement on the writer, for tests that tamper
// with the database on purpose.
func (db *DB) ExecForTest(ctx context.Context, q string, args ...any) error {
	_, err := db.write.ExecContext(ctx, db.rebind(q), args...)
	return err
}

// QueryIntForTest returns one integer from a raw query.
func (db *DB) QueryIntForTest(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, db.rebind(q), args...).Scan(&n)
	return n, err
}

// ExecAsAppForTest runs a raw statement inside an application
// transaction (on PostgreSQL: as the application role).
func (db *DB) ExecAsAppForTest(ctx context.Context, q string, args ...any) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(q, args...)
		return err
	})
}

// SyncsCommitsForTest reports whether each commit waits for an fsync of
// the SQLite WAL (synchronous full).
func (db *DB) SyncsCommitsForTest() bool { return db.walSync != nil }
