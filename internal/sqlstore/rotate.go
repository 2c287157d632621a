package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/seal"
)

// Key rotation (`credtrack keys rotate`, issue 5): a new AES-256-GCM key
// becomes the primary of an organization's keyset, then every sealed value
// of the organization is re-encrypted under it in batches, one transaction
// each, with the cursor persisted in key_rotations so that an interrupted
// run continues where it stopped. Reads keep working throughout: the
// keyset holds the old and the new key until the end. A second pass,
// started once every process has had RotationGrace to load the new
// primary, re-encrypts anything a server sealed under the old key
// meanwhile; only a pass that finds nothing left lets the old keys be
// disabled. Each step is audited as the system actor "keys-rotation".

// sealedColumn is a sealed column and the column name in its seal.Field.
type sealedColumn struct{ column, field string }

// sealedTable lists the sealed columns of a table. instance tables hold
// values sealed under the instance keyset (org ”), the others are
// tenant tables with an org_id.
type sealedTable struct {
	table    string
	cols     []sealedColumn
	instance bool
}

// sealedTables is every sealed column of the schema. A new sealed column
// must be added here, or a rotation would disable the key it depends on;
// TestSealedColumnsListed checks the schema against this list.
var sealedTables = []sealedTable{
	{table: "providers", cols: []sealedColumn{{"npi_enc", "npi"}, {"ssn_enc", "ssn"}, {"dob_enc", "dob"}}},
	{table: "credentials", cols: []sealedColumn{{"number_enc", "number"}}},
	{table: "documents", cols: []sealedColumn{{"key_enc", "key"}}},
	// Nothing seals PSV responses yet; listed so that the day something
	// does (as seal.Field{Table: "verifications", Column: "response"}), a
	// rotation re-encrypts them instead of disabling the key they need.
	{table: "verifications", cols: []sealedColumn{{"response_enc", "response"}}},
	{table: "users", cols: []sealedColumn{{"totp_secret_enc", "totp_secret_enc"}}, instance: true},
}

func tablesFor(org string) []sealedTable {
	var out []sealedTable
	for _, t := range sealedTables {
		if t.instance == (org == "") {
			out = append(out, t)
		}
	}
	return out
}

// KeyRotation is the state of one organization's rotation.
type KeyRotation struct {
	ID, OrgID, State string
	NewKeyID         uint32
	Pass, Phase      int
	// Table is the table the current pass is in ("" between passes).
	Table                  string
	RowsDone, RowsTotal    int64
	Reencrypted, StaleLast int64
	StartedAt, UpdatedAt   time.Time
	CompletedAt            time.Time
	// Waiting is set when the rotation waits for RotationGrace before its
	// last pass.
	Waiting bool
}

const rotationColumns = `id, org_id, state, new_key_id, pass, pass_started, phase, cursor, rows_done, rows_total,
	reencrypted, stale_found, started_at, updated_at, completed_at`

type rotationRow struct {
	KeyRotation
	cursor      string
	passStarted time.Time
}

func scanRotation(row interface{ Scan(...any) error }) (*rotationRow, error) {
	var r rotationRow
	var keyID int64
	var passStarted, started, updated int64
	var completed sql.NullInt64
	if err := row.Scan(&r.ID, &r.OrgID, &r.State, &keyID, &r.Pass, &passStarted, &r.Phase, &r.cursor, &r.RowsDone, &r.RowsTotal,
		&r.Reencrypted, &r.StaleLast, &started, &updated, &completed); err != nil {
		return nil, err
	}
	r.NewKeyID = uint32(keyID) // #nosec G115 -- a tink key ID (uint32) stored in a BIGINT column; it round-trips exactly
	r.passStarted = time.UnixMicro(passStarted).UTC()
	r.StartedAt, r.UpdatedAt = time.UnixMicro(started).UTC(), time.UnixMicro(updated).UTC()
	if completed.Valid {
		r.CompletedAt = time.UnixMicro(completed.Int64).UTC()
	}
	if t := tablesFor(r.OrgID); r.Phase < len(t) {
		r.Table = t[r.Phase].table
	}
	return &r, nil
}

// rotationActor is who rotations are attributed to in the audit log.
func rotationContext(ctx context.Context, org string) context.Context {
	return credtrack.NewContextWithActor(ctx, credtrack.SystemActor("keys-rotation", org))
}

// countRows counts the rows of org's sealed tables.
func (tx *Tx) countSealedRows(org string) (int64, error) {
	var total int64
	for _, t := range tablesFor(org) {
		var n int64
		q := "SELECT count(*) FROM " + t.table + " WHERE org_id = ?"
		args := []any{org}
		if t.instance {
			q, args = "SELECT count(*) FROM "+t.table, nil
		}
		if err := tx.queryRow(q, args...).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// RotationOrgs returns the organizations a rotation of every organization
// covers: ” (the instance keyset) and each organization's ID.
func (db *DB) RotationOrgs(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT org_id FROM org_keys ORDER BY org_id")
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

// StartRotation adds a new primary key to org's keyset and records the
// rotation, audited as keys.rotation.started. If a rotation of org is
// still running, it is returned instead (resumed, no second key added).
func (db *DB) StartRotation(ctx context.Context, org string) (*KeyRotation, error) {
	ctx = rotationContext(ctx, org)
	var out *KeyRotation
	var installed *seal.Stored
	err := db.update(ctx, func(tx *Tx) error {
		lock := ""
		if db.backend == Postgres {
			lock = " FOR UPDATE"
		}
		st := &seal.Stored{OrgID: org}
		if err := tx.queryRow("SELECT keyset, generation FROM org_keys WHERE org_id = ?"+lock, org).Scan(&st.Wrapped, &st.Generation); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return credtrack.Errorf(credtrack.ENOTFOUND, "no organization %q with data keys", org)
			}
			return err
		}
		if r, err := scanRotation(tx.queryRow("SELECT "+rotationColumns+" FROM key_rotations WHERE org_id = ? AND state = 'running'", org)); err == nil {
			out = &r.KeyRotation
			return db.sealer.Install(st)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		next, keyID, err := db.sealer.Rotate(st)
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE org_keys SET keyset = ?, generation = ?, updated_at = ? WHERE org_id = ?",
			next.Wrapped, next.Generation, ts(tx.now), org); err != nil {
			return err
		}
		total, err := tx.countSealedRows(org)
		if err != nil {
			return err
		}
		r := KeyRotation{ID: credtrack.NewID(), OrgID: org, State: "running", NewKeyID: keyID, Pass: 1, RowsTotal: total,
			StartedAt: tx.now, UpdatedAt: tx.now}
		if _, err := tx.exec(`INSERT INTO key_rotations (id, org_id, state, new_key_id, pass, pass_started, phase, cursor,
			rows_done, rows_total, reencrypted, stale_found, started_at, updated_at) VALUES (?, ?, 'running', ?, 1, ?, 0, '', 0, ?, 0, 0, ?, ?)`,
			r.ID, org, int64(keyID), ts(tx.now), total, ts(tx.now), ts(tx.now)); err != nil {
			return err
		}
		if err := tx.audit("keys.rotation.started", "keyset", orgTarget(org), credtrack.OutcomeSuccess, map[string]string{
			"rotation_id": r.ID, "new_key_id": strconv.FormatUint(uint64(keyID), 10), "rows": strconv.FormatInt(total, 10)}); err != nil {
			return err
		}
		out, installed = &r, next
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Installed after the commit, so that this process never seals with a
	// key that is not stored.
	if installed != nil {
		if err := db.sealer.Install(installed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func orgTarget(org string) string {
	if org == "" {
		return "instance"
	}
	return org
}

// Rotations lists rotations, newest first; running only if runningOnly.
func (db *DB) Rotations(ctx context.Context, runningOnly bool) ([]KeyRotation, error) {
	q := "SELECT " + rotationColumns + " FROM key_rotations"
	if runningOnly {
		q += " WHERE state = 'running'"
	}
	rows, err := db.read.QueryContext(ctx, q+" ORDER BY started_at DESC, org_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KeyRotation
	for rows.Next() {
		r, err := scanRotation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r.KeyRotation)
	}
	return out, rows.Err()
}

// Rotation returns one rotation by ID.
func (db *DB) Rotation(ctx context.Context, id string) (*KeyRotation, error) {
	r, err := scanRotation(db.read.QueryRowContext(ctx, db.rebind("SELECT "+rotationColumns+" FROM key_rotations WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, credtrack.Errorf(credtrack.ENOTFOUND, "no key rotation %s", id)
	}
	if err != nil {
		return nil, err
	}
	return &r.KeyRotation, nil
}

// RotateOptions tune RunRotation.
type RotateOptions struct {
	// Batch is the number of rows re-encrypted per transaction (default 500).
	Batch int
	// Grace is how long after the new primary the last pass may start
	// (default RotationGrace; tests running one process use 0).
	Grace time.Duration
	// Sleep waits while a rotation waits for Grace; nil uses time.Sleep
	// bounded by ctx.
	Sleep func(context.Context, time.Duration) error
	// Progress, if set, is called after every batch.
	Progress func(KeyRotation)
	// StopAfter, if > 0, returns after that many batches (tests of resuming).
	StopAfter int
}

// RunRotation re-encrypts batches of the rotation until it completes (the
// old keys disabled), ctx ends, or StopAfter batches ran. It may run in
// several processes at once: each batch locks the rotation row.
func (db *DB) RunRotation(ctx context.Context, id string, o RotateOptions) (*KeyRotation, error) {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if o.StopAfter > 0 && n >= o.StopAfter {
			return db.Rotation(ctx, id)
		}
		r, wait, err := db.rotationStep(ctx, id, o.Batch, o.Grace)
		if err != nil {
			return nil, err
		}
		if o.Progress != nil {
			o.Progress(*r)
		}
		if r.State != "running" {
			return r, nil
		}
		if wait > 0 {
			if err := o.Sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
	}
}

// rotationStep runs one batch of a rotation in one transaction, or moves
// it to its next pass, or completes it. wait > 0 asks the caller to wait
// that long (the grace before the last pass).
func (db *DB) rotationStep(ctx context.Context, id string, batch int, grace time.Duration) (*KeyRotation, time.Duration, error) {
	cur, err := db.Rotation(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if cur.State != "running" {
		return cur, 0, nil
	}
	org := cur.OrgID
	ctx = rotationContext(ctx, org)
	var out *KeyRotation
	var wait time.Duration
	var installed *seal.Stored
	err = db.update(ctx, func(tx *Tx) error {
		lock := ""
		if db.backend == Postgres {
			lock = " FOR UPDATE"
		}
		r, err := scanRotation(tx.queryRow("SELECT "+rotationColumns+" FROM key_rotations WHERE id = ?"+lock, id))
		if err != nil {
			return err
		}
		out = &r.KeyRotation
		if r.State != "running" {
			return nil
		}
		if p, ok := db.sealer.Primary(org); !ok || p != r.NewKeyID {
			// Another process started the rotation: load its keyset.
			st := &seal.Stored{OrgID: org}
			if err := tx.queryRow("SELECT keyset, generation FROM org_keys WHERE org_id = ?", org).Scan(&st.Wrapped, &st.Generation); err != nil {
				return err
			}
			if err := db.sealer.Install(st); err != nil {
				return err
			}
			if p, _ := db.sealer.Primary(org); p != r.NewKeyID {
				return fmt.Errorf("sqlstore: the primary key of %q is not the rotation's new key", orgTarget(org))
			}
		}
		tables := tablesFor(org)
		if r.Phase < len(tables) {
			return tx.reencryptBatch(r, tables[r.Phase], batch)
		}
		// End of a pass.
		graceEnd := r.StartedAt.Add(grace)
		clean := r.Pass > 1 && r.StaleLast == 0 && !r.passStarted.Before(graceEnd)
		if !clean {
			if tx.now.Before(graceEnd) {
				wait = graceEnd.Sub(tx.now)
				out.Waiting = true
				return nil
			}
			total, err := tx.countSealedRows(org)
			if err != nil {
				return err
			}
			r.Pass, r.Phase, r.cursor, r.RowsDone, r.RowsTotal, r.StaleLast = r.Pass+1, 0, "", 0, total, 0
			r.UpdatedAt = tx.now
			if t := tablesFor(org); len(t) > 0 {
				r.Table = t[0].table
			}
			_, err = tx.exec(`UPDATE key_rotations SET pass = ?, pass_started = ?, phase = 0, cursor = '', rows_done = 0,
				rows_total = ?, stale_found = 0, updated_at = ? WHERE id = ?`, r.Pass, ts(tx.now), total, ts(tx.now), id)
			return err
		}
		installed, err = tx.completeRotation(r)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if installed != nil {
		if err := db.sealer.Install(installed); err != nil {
			return nil, 0, err
		}
	}
	return out, wait, nil
}

// reencryptBatch re-encrypts the next batch rows of t after the cursor.
// Each value is replaced only if it is still the one read (a concurrent
// edit by a server wins: it sealed the new value itself).
func (tx *Tx) reencryptBatch(r *rotationRow, t sealedTable, batch int) error {
	db := tx.db
	cols := make([]string, len(t.cols))
	for i, c := range t.cols {
		cols[i] = c.column
	}
	q := "SELECT id, " + strings.Join(cols, ", ") + " FROM " + t.table + " WHERE "
	args := []any{}
	if !t.instance {
		q += "org_id = ? AND "
		args = append(args, r.OrgID)
	}
	q += "id > ? ORDER BY id LIMIT ?"
	args = append(args, r.cursor, batch)
	rows, err := tx.query(q, args...)
	if err != nil {
		return err
	}
	type rowVals struct {
		id   string
		vals [][]byte
	}
	var got []rowVals
	for rows.Next() {
		rv := rowVals{vals: make([][]byte, len(cols))}
		dest := []any{&rv.id}
		for i := range rv.vals {
			dest = append(dest, &rv.vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		got = append(got, rv)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	var changed int64
	for _, rv := range got {
		for i, c := range t.cols {
			old := rv.vals[i]
			if db.sealer.IsCurrent(r.OrgID, old) {
				continue
			}
			f := seal.Field{OrgID: r.OrgID, Table: t.table, Column: c.field, RowID: rv.id}
			pt, err := db.sealer.Open(f, old)
			if err != nil {
				return fmt.Errorf("sqlstore: %s.%s of row %s does not open (%w); the rotation stops so that no key it needs is disabled",
					t.table, c.column, rv.id, err)
			}
			ct, err := db.sealer.Seal(f, pt)
			if err != nil {
				return err
			}
			if _, err := tx.exec("UPDATE "+t.table+" SET "+c.column+" = ? WHERE id = ? AND "+c.column+" = ?", ct, rv.id, old); err != nil {
				return err
			}
			changed++
		}
	}
	r.RowsDone += int64(len(got))
	r.Reencrypted += changed
	if r.Pass > 1 {
		r.StaleLast += changed
	}
	if len(got) < batch {
		r.Phase, r.cursor = r.Phase+1, ""
	} else {
		r.cursor = got[len(got)-1].id
	}
	r.Table = ""
	if tables := tablesFor(r.OrgID); r.Phase < len(tables) {
		r.Table = tables[r.Phase].table
	}
	r.UpdatedAt = tx.now
	if _, err := tx.exec(`UPDATE key_rotations SET phase = ?, cursor = ?, rows_done = ?, reencrypted = ?, stale_found = ?, updated_at = ?
		WHERE id = ?`, r.Phase, r.cursor, r.RowsDone, r.Reencrypted, r.StaleLast, ts(tx.now), r.ID); err != nil {
		return err
	}
	if changed == 0 {
		return nil
	}
	return tx.audit("keys.rotation.reencrypted", "keyset", orgTarget(r.OrgID), credtrack.OutcomeSuccess, map[string]string{
		"rotation_id": r.ID, "table": t.table, "values": strconv.FormatInt(changed, 10), "pass": strconv.Itoa(r.Pass)})
}

// completeRotation disables the old keys of the organization's keyset and
// marks the rotation completed (keys.rotation.completed).
func (tx *Tx) completeRotation(r *rotationRow) (*seal.Stored, error) {
	db := tx.db
	lock := ""
	if db.backend == Postgres {
		lock = " FOR UPDATE"
	}
	st := &seal.Stored{OrgID: r.OrgID}
	if err := tx.queryRow("SELECT keyset, generation FROM org_keys WHERE org_id = ?"+lock, r.OrgID).Scan(&st.Wrapped, &st.Generation); err != nil {
		return nil, err
	}
	next, off, err := db.sealer.DisableOld(st)
	if err != nil {
		return nil, err
	}
	if next != st {
		if _, err := tx.exec("UPDATE org_keys SET keyset = ?, generation = ?, updated_at = ? WHERE org_id = ?",
			next.Wrapped, next.Generation, ts(tx.now), r.OrgID); err != nil {
			return nil, err
		}
	}
	if _, err := tx.exec("UPDATE key_rotations SET state = 'completed', completed_at = ?, updated_at = ? WHERE id = ?",
		ts(tx.now), ts(tx.now), r.ID); err != nil {
		return nil, err
	}
	ids := make([]string, len(off))
	for i, id := range off {
		ids[i] = strconv.FormatUint(uint64(id), 10)
	}
	if err := tx.audit("keys.rotation.completed", "keyset", orgTarget(r.OrgID), credtrack.OutcomeSuccess, map[string]string{
		"rotation_id": r.ID, "reencrypted": strconv.FormatInt(r.Reencrypted, 10), "disabled_key_ids": strings.Join(ids, ","),
		"passes": strconv.Itoa(r.Pass)}); err != nil {
		return nil, err
	}
	r.State, r.CompletedAt, r.UpdatedAt = "completed", tx.now, tx.now
	return next, nil
}
