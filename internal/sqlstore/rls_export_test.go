package sqlstore

import "context"

// QueryIntAsAppForTest returns one integer from a raw query run inside an
// application transaction: on PostgreSQL as the application role, with the
// organization of ctx's actor set for row-level security.
func (db *DB) QueryIntAsAppForTest(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := db.view(ctx, func(tx *Tx) error { return tx.queryRow(q, args...).Scan(&n) })
	return n, err
}

// ExecCountAsAppForTest runs a raw statement inside an application
// transaction (see QueryIntAsAppForTest) and returns the rows it affected.
func (db *DB) ExecCountAsAppForTest(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
