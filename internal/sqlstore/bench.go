package sqlstore

import (
	"context"
	"encoding/json"
	"strings"

	"credtrack"
)

// DisableReadAuditForBenchmark turns off the audit event of every read
// (auditRead: credential.read, provider.read, provider.listed, audit.read,
// export.created) on this DB handle, so that bench/auditbench can measure
// the same read endpoint without auditing as a baseline.
//
// BENCHMARKS ONLY. It breaks the security promise that every read is on
// the record. Only code under bench/ may call it; cmd/ and every other
// production path must never call it. Call it right after Open, before db
// serves any request, and use that handle for the baseline only (it cannot
// be turned back on). Writes and RecordEvent are still audited; the
// API's reqaudit wrapper will record a generic "http.request" event for a
// read that recorded none, so a baseline must also give api.New an Auditor
// that discards events.
func (db *DB) DisableReadAuditForBenchmark() { db.benchNoReadAudit = true }

// plainTables are the scratch tables of PlainRosterInsertForBenchmark:
// the columns of providers and credentials with no key, index, constraint
// or row-level security.
var plainTables = []string{
	`CREATE TABLE IF NOT EXISTS bench_plain_providers (id TEXT, org_id TEXT, user_id TEXT, first_name TEXT,
		middle_name TEXT, last_name TEXT, suffix TEXT, sort_name TEXT, email TEXT, phone TEXT, profession TEXT,
		specialty TEXT, employer TEXT, state TEXT, npi_enc BLOB, npi_bidx BLOB, npi_last4 TEXT, ssn_enc BLOB,
		ssn_bidx BLOB, ssn_last4 TEXT, dob_enc BLOB, active BOOLEAN, created_at BIGINT, updated_at BIGINT)`,
	`CREATE TABLE IF NOT EXISTS bench_plain_credentials (id TEXT, org_id TEXT, provider_id TEXT, type TEXT,
		issuer TEXT, jurisdiction TEXT, number_enc BLOB, number_bidx BLOB, number_last4 TEXT, issued_on TEXT,
		expires_on TEXT, verified_at BIGINT, verified_by TEXT, notes TEXT, details TEXT, created_at BIGINT,
		updated_at BIGINT)`,
}

// PlainRosterInsertForBenchmark inserts the same rows ImportRoster would,
// into scratch tables of the same shape (created on first use) with no
// encryption (the plaintext goes in the _enc columns), no blind index, no
// index or key, no row-level security and no audit event, using the same
// multi-row INSERTs and statement cache, in one transaction per call, as
// the connecting database user. bench/rosterbench uses it as the baseline
// of the roster import.
//
// BENCHMARKS ONLY: the tables are not part of the schema and hold
// plaintext; call DropPlainRosterTablesForBenchmark when done.
func (db *DB) PlainRosterInsertForBenchmark(ctx context.Context, orgID string, entries []*credtrack.RosterEntry) error {
	for _, q := range plainTables {
		q = strings.ReplaceAll(q, "BLOB", db.blobType())
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	sqltx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	tx := &Tx{tx: sqltx, ctx: ctx, db: db, now: db.now().UTC(), stmts: db.wstmts}
	defer tx.finish()
	var prows, crows [][]any
	for _, e := range entries {
		p := e.Provider
		id := credtrack.NewID()
		prows = append(prows, []any{id, orgID, nil, p.FirstName, p.MiddleName, p.LastName, p.Suffix, sortName(p),
			p.Email, p.Phone, string(p.Profession), p.Specialty, p.Employer, p.State,
			[]byte(p.NPI), nil, credtrack.Last4(p.NPI), []byte(p.SSN), nil, credtrack.Last4(p.SSN),
			[]byte(p.DOB.String()), p.Active, ts(tx.now), ts(tx.now)})
		for _, c := range e.Credentials {
			details, _ := json.Marshal(c.Details)
			crows = append(crows, []any{credtrack.NewID(), orgID, id, string(c.Type), c.Issuer, c.Jurisdiction,
				[]byte(c.Number), nil, credtrack.Last4(c.Number), dateStr(c.IssuedOn), dateStr(c.ExpiresOn),
				ts(c.VerifiedAt), c.VerifiedBy, c.Notes, string(details), ts(tx.now), ts(tx.now)})
		}
	}
	if err := tx.insertRows("bench_plain_providers", providerInsertCols, providerInsertTypes, prows); err != nil {
		return err
	}
	if err := tx.insertRows("bench_plain_credentials", credentialInsertCols, credentialInsertTypes, crows); err != nil {
		return err
	}
	return sqltx.Commit()
}

// DropPlainRosterTablesForBenchmark drops the scratch tables of
// PlainRosterInsertForBenchmark.
func (db *DB) DropPlainRosterTablesForBenchmark(ctx context.Context) error {
	for _, t := range []string{"bench_plain_providers", "bench_plain_credentials"} {
		if _, err := db.write.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) blobType() string {
	if db.backend == Postgres {
		return "BYTEA"
	}
	return "BLOB"
}
