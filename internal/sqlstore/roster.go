package sqlstore

import (
	"context"
	"encoding/json"
	"strings"

	"credtrack"
)

// rosterChunk is the number of rows one multi-row INSERT of a roster
// import carries (24 parameters a provider, 17 a credential: far below the
// parameter limits of both backends). A batch's remainder is inserted row
// by row with the single-row statement, so the statement cache holds two
// texts per table, not one per remainder size.
const rosterChunk = 64

const providerInsertCols = `id, org_id, user_id, first_name, middle_name, last_name, suffix, sort_name,
	email, phone, profession, specialty, employer, state, npi_enc, npi_bidx, npi_last4, ssn_enc, ssn_bidx, ssn_last4,
	dob_enc, active, created_at, updated_at`

// #nosec G101 -- column names (number_enc holds sealed values), not a credential
const credentialInsertCols = `id, org_id, provider_id, type, issuer, jurisdiction, number_enc,
	number_bidx, number_last4, issued_on, expires_on, verified_at, verified_by, notes, details, created_at, updated_at`

// The column types of providerInsertCols and credentialInsertCols, for
// the PostgreSQL arrays of insertRows.
var (
	providerInsertTypes = []string{"text", "text", "text", "text", "text", "text", "text", "text",
		"text", "text", "text", "text", "text", "text", "bytea", "bytea", "text", "bytea", "bytea", "text",
		"bytea", "boolean", "bigint", "bigint"}
	credentialInsertTypes = []string{"text", "text", "text", "text", "text", "text", "bytea",
		"bytea", "text", "text", "text", "bigint", "text", "text", "text", "bigint", "bigint"}
)

// multiInsert returns "INSERT INTO table (cols) VALUES (?,…), (?,…)…" for n rows.
func multiInsert(table, cols string, ncols, n int) string {
	row := "(" + placeholders(ncols) + ")"
	return "INSERT INTO " + table + " (" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// insertRows inserts rows (each one value per entry of types). On SQLite
// it uses full multi-row chunks and then one statement per remaining row.
// On PostgreSQL one statement inserts them all from one array per column
// (INSERT … SELECT * FROM unnest($1::text[], …)): the same rows, the same
// constraints, triggers and row-level security checks as a VALUES list,
// but one small statement text whatever the number of rows, and 24 array
// parameters to bind instead of 24 per row (binding ~1,500 parameters per
// 64-row statement was the largest cost of the import on the client).
// COPY would be faster still but PostgreSQL refuses COPY FROM into tables
// with row-level security.
func (tx *Tx) insertRows(table, cols string, types []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if tx.db.backend == Postgres {
		return tx.insertArrays(table, cols, types, rows)
	}
	ncols := len(types)
	i := 0
	if len(rows) >= rosterChunk {
		q := multiInsert(table, cols, ncols, rosterChunk)
		args := make([]any, 0, ncols*rosterChunk)
		for ; i+rosterChunk <= len(rows); i += rosterChunk {
			args = args[:0]
			for _, r := range rows[i : i+rosterChunk] {
				args = append(args, r...)
			}
			if _, err := tx.exec(q, args...); err != nil {
				return err
			}
		}
	}
	q := multiInsert(table, cols, ncols, 1)
	for ; i < len(rows); i++ {
		if _, err := tx.exec(q, rows[i]...); err != nil {
			return err
		}
	}
	return nil
}

// insertArrays is insertRows on PostgreSQL: one array per column (nil
// elements are NULLs), unnested into rows.
func (tx *Tx) insertArrays(table, cols string, types []string, rows [][]any) error {
	arrays := make([]any, len(types))
	params := make([]string, len(types))
	for j, t := range types {
		col := make([]any, len(rows))
		for i, r := range rows {
			col[i] = r[j]
		}
		arrays[j], params[j] = col, "?::"+t+"[]"
	}
	_, err := tx.exec("INSERT INTO "+table+" ("+cols+") SELECT * FROM unnest("+strings.Join(params, ", ")+")", arrays...)
	return err
}

// ImportRoster stores a batch of roster entries in one transaction (see
// credtrack.RosterService): PrepareRoster, then the write it returns.
func (db *DB) ImportRoster(ctx context.Context, importID string, entries []*credtrack.RosterEntry) error {
	write, err := db.PrepareRoster(ctx, importID, entries)
	if err != nil {
		return err
	}
	return write()
}

// PrepareRoster does the work of ImportRoster that needs no database (see
// credtrack.RosterService) and returns the write of the batch. Each
// provider and credential is validated again, gets its ID, and is sealed
// and indexed as CreateProvider and CreateCredential do; each gets its own
// "provider.created" or "credential.created" event, with the import ID in
// details. The write then inserts the rows and appends the events to the
// organization's chain in one transaction: every imported record is on the
// record by itself, and the batch commits or rolls back with its events.
// The rows go in with multi-row INSERTs and the events with the
// group-commit path's chained multi-row append, so a batch costs a few
// statements per 64 records instead of five per record.
//
// The IDs of the records and of their events are orderedIDs, so that the
// inserts into the primary keys, the credentials' provider index and the
// audit log's target index append instead of landing on random pages.
func (db *DB) PrepareRoster(ctx context.Context, importID string, entries []*credtrack.RosterEntry) (func() error, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermProviderWrite); err != nil {
		return nil, err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermCredentialWrite); err != nil {
		return nil, err
	}
	records := len(entries)
	for _, e := range entries {
		if err := e.Provider.Validate(); err != nil {
			return nil, err
		}
		for _, c := range e.Credentials {
			c.ProviderID = "pending" // Validate wants one; the real ID is set below
			if err := c.Validate(); err != nil {
				return nil, err
			}
		}
		records += len(e.Credentials)
	}
	a := credtrack.ActorFromContext(ctx)
	// One ID per record, then one per event: providers and credentials
	// each come out in increasing order, and so do the events.
	ids := orderedIDs(2 * records)
	recIDs, evIDs := ids[:records], ids[records:]
	events := make([]auditReq, 0, records)
	event := func(action, targetType, targetID string, details map[string]string) {
		events = append(events, auditReq{ev: &credtrack.AuditEvent{
			ID: evIDs[len(events)], OrgID: org, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
			Action: action, TargetType: targetType, TargetID: targetID, Outcome: credtrack.OutcomeSuccess,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID, Details: details,
		}})
	}
	prows := make([][]any, 0, len(entries))
	crows := make([][]any, 0, records-len(entries))
	next := 0
	for _, e := range entries {
		p := e.Provider
		p.ID, p.OrgID = recIDs[next], org
		next++
		npi, err := db.seal(org, "providers", "npi", p.ID, p.NPI)
		if err != nil {
			return nil, err
		}
		ssn, err := db.seal(org, "providers", "ssn", p.ID, p.SSN)
		if err != nil {
			return nil, err
		}
		dob, err := db.seal(org, "providers", "dob", p.ID, p.DOB.String())
		if err != nil {
			return nil, err
		}
		var userID any
		if p.UserID != "" {
			userID = p.UserID
		}
		p.NPILast4, p.SSNLast4, p.HasDOB = credtrack.Last4(p.NPI), credtrack.Last4(p.SSN), !p.DOB.IsZero()
		// created_at and updated_at (the last two) are set by the write,
		// at its transaction's time.
		prows = append(prows, []any{p.ID, org, userID, p.FirstName, p.MiddleName, p.LastName, p.Suffix, sortName(p),
			p.Email, p.Phone, string(p.Profession), p.Specialty, p.Employer, p.State,
			npi, db.sealer.Index(org, "npi", p.NPI), p.NPILast4,
			ssn, db.sealer.Index(org, "ssn", p.SSN), p.SSNLast4,
			dob, p.Active, nil, nil})
		event("provider.created", "provider", p.ID, map[string]string{"profession": string(p.Profession), "import": importID})
		for _, c := range e.Credentials {
			c.ID, c.OrgID, c.ProviderID = recIDs[next], org, p.ID
			next++
			number, err := db.seal(org, "credentials", "number", c.ID, c.Number)
			if err != nil {
				return nil, err
			}
			details := []byte("{}")
			if len(c.Details) > 0 {
				if details, err = json.Marshal(c.Details); err != nil {
					return nil, err
				}
			}
			crows = append(crows, []any{c.ID, org, c.ProviderID, string(c.Type), c.Issuer, c.Jurisdiction, number,
				db.sealer.Index(org, "credential."+string(c.Type), c.Number), c.NumberLast4,
				dateStr(c.IssuedOn), dateStr(c.ExpiresOn), ts(c.VerifiedAt), c.VerifiedBy, c.Notes, string(details),
				nil, nil})
			event("credential.created", "credential", c.ID,
				map[string]string{"type": string(c.Type), "provider_id": p.ID, "import": importID})
		}
	}
	write := func() error {
		return db.update(ctx, func(tx *Tx) error {
			now := ts(tx.now)
			for _, r := range prows {
				r[22], r[23] = now, now
			}
			for _, r := range crows {
				r[15], r[16] = now, now
			}
			for _, e := range entries {
				e.Provider.CreatedAt, e.Provider.UpdatedAt = tx.now, tx.now
				for _, c := range e.Credentials {
					c.CreatedAt, c.UpdatedAt = tx.now, tx.now
				}
			}
			if err := tx.insertRows("providers", providerInsertCols, providerInsertTypes, prows); err != nil {
				return err
			}
			if err := tx.insertRows("credentials", credentialInsertCols, credentialInsertTypes, crows); err != nil {
				return err
			}
			if err := tx.appendBatch(events); err != nil {
				return err
			}
			if len(events) > 0 {
				credtrack.MarkAudited(ctx)
			}
			return nil
		})
	}
	return write, nil
}

// rosterPage is how many providers one read of an export fetches.
const rosterPage = 500

// ExportRoster calls fn for every provider of the organization in name
// order, with its credentials (see credtrack.RosterService). The export is
// recorded ("export.created", what=roster, and whether sensitive values
// were included) before anything is read; if the event cannot be written
// nothing is exported. Providers are read in pages of 500 with keyset
// paging, each page in its own read transaction, so memory holds one page
// whatever the size of the organization.
func (db *DB) ExportRoster(ctx context.Context, fn func(*credtrack.Provider) error) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	for _, p := range []credtrack.Permission{credtrack.PermExportCreate, credtrack.PermProviderRead, credtrack.PermCredentialRead} {
		if err := credtrack.Authorize(ctx, p); err != nil {
			return err
		}
	}
	reveal := credtrack.ActorFromContext(ctx).Can(credtrack.PermSensitiveReveal)
	sensitive := "withheld"
	if reveal {
		sensitive = "included"
	}
	if err := db.auditRead(ctx, "export.created", "roster", "",
		map[string]string{"what": "roster", "format": "csv", "sensitive": sensitive}); err != nil {
		return err
	}
	var afterName, afterID string
	first := true
	for {
		var page []*credtrack.Provider
		err := db.view(ctx, func(tx *Tx) error {
			q := "SELECT " + providerColumns + " FROM providers WHERE org_id = ?"
			args := []any{org}
			if !first {
				q += " AND (sort_name > ? OR (sort_name = ? AND id > ?))"
				args = append(args, afterName, afterName, afterID)
			}
			rows, err := tx.query(q+" ORDER BY sort_name, id LIMIT ?", append(args, rosterPage)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			ids := []string{}
			for rows.Next() {
				r, err := scanProvider(rows)
				if err != nil {
					return err
				}
				p := r.p
				if p.NPI, err = db.open(org, "providers", "npi", p.ID, r.npi); err != nil {
					return err
				}
				if reveal {
					if p.SSN, err = db.open(org, "providers", "ssn", p.ID, r.ssn); err != nil {
						return err
					}
					dob, err := db.open(org, "providers", "dob", p.ID, r.dob)
					if err != nil {
						return err
					}
					p.DOB = parseDate(dob)
				}
				page = append(page, &p)
				ids = append(ids, p.ID)
				afterName, afterID = sortName(&p), p.ID
			}
			if err := rows.Err(); err != nil {
				return err
			}
			rows.Close()
			creds, err := tx.credentialsWithNumbers(org, ids, reveal)
			if err != nil {
				return err
			}
			for _, p := range page {
				p.Credentials = creds[p.ID]
			}
			return nil
		})
		if err != nil {
			return err
		}
		first = false
		for _, p := range page {
			if err := fn(p); err != nil {
				return err
			}
		}
		if len(page) < rosterPage {
			return nil
		}
	}
}

// credentialsWithNumbers loads the credentials of the given providers,
// with their numbers opened when reveal is set, keyed by provider ID, in
// creation order.
func (tx *Tx) credentialsWithNumbers(org string, providerIDs []string, reveal bool) (map[string][]*credtrack.Credential, error) {
	out := map[string][]*credtrack.Credential{}
	for start := 0; start < len(providerIDs); start += rosterPage {
		batch := providerIDs[start:min(start+rosterPage, len(providerIDs))]
		args := []any{org}
		for _, id := range batch {
			args = append(args, id)
		}
		rows, err := tx.query("SELECT "+credentialColumns+" FROM credentials WHERE org_id = ? AND provider_id IN ("+
			placeholders(len(batch))+") ORDER BY created_at, type, id", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			c, number, err := scanCredential(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if reveal {
				if c.Number, err = tx.db.open(org, "credentials", "number", c.ID, number); err != nil {
					rows.Close()
					return nil, err
				}
			}
			out[c.ProviderID] = append(out[c.ProviderID], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
