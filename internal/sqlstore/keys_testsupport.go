package sqlstore

import (
	"context"
	"fmt"
	"io"
)

// DumpTablesForTest writes every row of every table as text, the way an
// attacker with the database (the SQLite file opened with its page key
// through the XTS VFS, or a PostgreSQL dump) would see it: text columns
// as they are, binary columns as their raw bytes. Tests search it for
// plaintext that must only exist sealed. Test support only; see
// RowCountsForTest about row-level security on PostgreSQL.
func (db *DB) DumpTablesForTest(ctx context.Context, w io.Writer) error {
	tables, err := db.tablesForTest(ctx)
	if err != nil {
		return err
	}
	for _, table := range tables {
		rows, err := db.read.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			return fmt.Errorf("sqlstore: read %s: %w", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			fmt.Fprintf(w, "%s:", table)
			for i, v := range vals {
				switch v := v.(type) {
				case []byte:
					fmt.Fprintf(w, " %s=%s", cols[i], v)
				default:
					fmt.Fprintf(w, " %s=%v", cols[i], v)
				}
			}
			fmt.Fprintln(w)
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}
