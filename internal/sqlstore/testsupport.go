package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"credtrack"
)

// Test support. The methods in this file exist for tests outside this
// package (cmd/credtrack's route matrix and identity promise tests), which
// need to put a user in a state that takes a real authenticator app to
// reach, or to fingerprint the whole database. Nothing in the server or the
// operator commands calls them; they run as the connecting database user,
// outside the application role and its row-level security.

// MarkTOTPEnabledForTest records that userID has confirmed TOTP at the
// given time without going through enrolment, so that a session whose MFA
// step is marked done (Session.MFAAt) is ready even in a role that requires
// MFA. Test support only.
func (db *DB) MarkTOTPEnabledForTest(ctx context.Context, userID string, at time.Time) error {
	res, err := db.write.ExecContext(ctx, db.rebind("UPDATE users SET totp_enabled_at = ? WHERE id = ?"), ts(at), userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("sqlstore: no user %s", userID)
	}
	return nil
}

// FingerprintForTest returns, for every table of the schema, its row count
// and a hash of all its rows' values (order-independent), keyed by table
// name: tests compare it before and after requests that must change
// nothing, which catches an UPDATE as well as an INSERT or DELETE. Test
// support only; see RowCountsForTest about row-level security.
func (db *DB) FingerprintForTest(ctx context.Context) (map[string]string, error) {
	tables, err := db.tablesForTest(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(tables))
	for _, table := range tables {
		rows, err := db.read.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read %s: %w", table, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		slices.Sort(lines)
		h := sha256.New()
		for _, l := range lines {
			h.Write([]byte(l + "\n"))
		}
		out[table] = fmt.Sprintf("%d rows %s", len(lines), hex.EncodeToString(h.Sum(nil))[:16])
	}
	return out, nil
}

func (db *DB) tablesForTest(ctx context.Context) ([]string, error) {
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if db.backend == Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	rows, err := db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		tables = append(tables, name)
	}
	return tables, rows.Err()
}

// RowCountsForTest returns the number of rows of every table of the
// schema, keyed by table name: a fingerprint that tests compare before and
// after requests that must change nothing. Test support only. On
// PostgreSQL the connecting user must bypass row-level security (the test
// databases are created by a superuser) for tenant tables to be counted.
func (db *DB) RowCountsForTest(ctx context.Context) (map[string]int, error) {
	tables, err := db.tablesForTest(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(tables))
	for _, table := range tables {
		var n int
		// Table names come from the catalogue, not from input.
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlstore: count %s: %w", table, err)
		}
		out[table] = n
	}
	return out, nil
}

// JobsForTest returns the jobs of one kind with their state and attempts:
// the scale-out test checks that a job ran once across two servers. Test
// support only.
func (db *DB) JobsForTest(ctx context.Context, kind string) ([]credtrack.Job, error) {
	rows, err := db.read.QueryContext(ctx, db.rebind("SELECT id, kind, key, state, attempts, last_error FROM jobs WHERE kind = ? ORDER BY created_at"), kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []credtrack.Job
	for rows.Next() {
		var j credtrack.Job
		if err := rows.Scan(&j.ID, &j.Kind, &j.Key, &j.State, &j.Attempts, &j.LastError); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// AuditEventsForTest returns every audit event of every chain (the
// instance's, org_id "", included), oldest first by time, then chain and
// position. Tests use it to find the events a request recorded, whatever
// the organization, without recording an audit.read of their own. Test
// support only.
func (db *DB) AuditEventsForTest(ctx context.Context) ([]*credtrack.AuditEvent, error) {
	return scanAudits(db.read.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit_events ORDER BY at, org_id, seq"))
}
