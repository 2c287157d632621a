package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"credtrack"
	"credtrack/internal/seal"
)

// CreateProvider stores a provider in the actor's organization
// (provider.write), sealing NPI, SSN and date of birth and indexing NPI and
// SSN for exact-match search. Audited as "provider.created".
func (db *DB) CreateProvider(ctx context.Context, p *credtrack.Provider) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermProviderWrite); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		p.ID, p.OrgID, p.CreatedAt, p.UpdatedAt = credtrack.NewID(), org, tx.now, tx.now
		npi, err := db.seal(org, "providers", "npi", p.ID, p.NPI)
		if err != nil {
			return err
		}
		ssn, err := db.seal(org, "providers", "ssn", p.ID, p.SSN)
		if err != nil {
			return err
		}
		dob, err := db.seal(org, "providers", "dob", p.ID, p.DOB.String())
		if err != nil {
			return err
		}
		var userID any
		if p.UserID != "" {
			userID = p.UserID
		}
		if _, err := tx.exec(`INSERT INTO providers (id, org_id, user_id, first_name, middle_name, last_name, suffix, sort_name,
			email, phone, profession, specialty, employer, state, npi_enc, npi_bidx, npi_last4, ssn_enc, ssn_bidx, ssn_last4,
			dob_enc, active, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, org, userID, p.FirstName, p.MiddleName, p.LastName, p.Suffix, sortName(p),
			p.Email, p.Phone, string(p.Profession), p.Specialty, p.Employer, p.State,
			npi, db.sealer.Index(org, "npi", p.NPI), credtrack.Last4(p.NPI),
			ssn, db.sealer.Index(org, "ssn", p.SSN), credtrack.Last4(p.SSN),
			dob, p.Active, ts(p.CreatedAt), ts(p.UpdatedAt)); err != nil {
			return err
		}
		return tx.audit("provider.created", "provider", p.ID, credtrack.OutcomeSuccess,
			map[string]string{"profession": string(p.Profession)})
	})
}

func sortName(p *credtrack.Provider) string {
	return strings.ToLower(p.LastName + ", " + p.FirstName + " " + p.MiddleName)
}

// seal encrypts one field value bound to its organization, table, column and row.
func (db *DB) seal(org, table, column, row, v string) ([]byte, error) {
	return db.sealer.Seal(seal.Field{OrgID: org, Table: table, Column: column, RowID: row}, v)
}

func (db *DB) open(org, table, column, row string, ct []byte) (string, error) {
	return db.sealer.Open(seal.Field{OrgID: org, Table: table, Column: column, RowID: row}, ct)
}

const providerColumns = `id, org_id, COALESCE(user_id, ''), first_name, middle_name, last_name, suffix, email, phone,
	profession, specialty, employer, state, npi_enc, npi_last4, ssn_enc, ssn_last4, dob_enc, active, created_at, updated_at`

// providerRow holds the sealed columns until the caller decides what to open.
type providerRow struct {
	p                  credtrack.Provider
	npi, ssn, dob      []byte
	npiLast4, ssnLast4 string
}

func scanProvider(row interface{ Scan(...any) error }) (*providerRow, error) {
	var r providerRow
	var prof string
	var created, updated sql.NullInt64
	if err := row.Scan(&r.p.ID, &r.p.OrgID, &r.p.UserID, &r.p.FirstName, &r.p.MiddleName, &r.p.LastName, &r.p.Suffix,
		&r.p.Email, &r.p.Phone, &prof, &r.p.Specialty, &r.p.Employer, &r.p.State, &r.npi, &r.npiLast4,
		&r.ssn, &r.ssnLast4, &r.dob, &r.p.Active, &created, &updated); err != nil {
		return nil, err
	}
	r.p.Profession, r.p.CreatedAt, r.p.UpdatedAt = credtrack.Profession(prof), fromTS(created), fromTS(updated)
	r.p.NPILast4, r.p.SSNLast4, r.p.HasDOB = r.npiLast4, r.ssnLast4, len(r.dob) > 0
	return &r, nil
}

// canReadProvider applies the record-level rule: staff with provider.read
// see every provider of the organization; a provider-role user sees only
// the record linked to their account.
func canReadProvider(a credtrack.Actor, p *credtrack.Provider) bool {
	if a.Can(credtrack.PermProviderRead) {
		return true
	}
	return a.Can(credtrack.PermOwnRecordRead) && a.Kind == credtrack.ActorUser && p.UserID == a.ID
}

// FindProviderByID returns a provider of the actor's organization with its
// NPI opened and its credentials (numbers masked to the last four). SSN and
// date of birth stay sealed here; revealing them is a separate, audited
// action. Another organization's ID, or a record the actor may not read,
// gives ENOTFOUND. The read is audited ("provider.read") before the data
// is returned; if the event cannot be written the read fails.
func (db *DB) FindProviderByID(ctx context.Context, id string) (*credtrack.Provider, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	var p *credtrack.Provider
	err = db.auditedRead(ctx, "provider.read", func(tx *Tx) (*credtrack.AuditEvent, error) {
		r, err := scanProvider(tx.queryRow("SELECT "+providerColumns+" FROM providers WHERE id = ? AND org_id = ?", id, org))
		if err != nil {
			return nil, err
		}
		if !canReadProvider(a, &r.p) {
			return actorEvent(ctx, "authz.denied", "provider", id, credtrack.OutcomeDenied, nil),
				credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		if r.p.NPI, err = db.open(org, "providers", "npi", r.p.ID, r.npi); err != nil {
			return nil, err
		}
		creds, err := tx.credentialsOf(org, []string{r.p.ID})
		if err != nil {
			return nil, err
		}
		r.p.Credentials = creds[r.p.ID]
		p = &r.p
		return actorEvent(ctx, "provider.read", "provider", id, credtrack.OutcomeSuccess, nil), nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// auditRead records a read before its data is returned. A read that
// cannot be audited is refused (fail closed), as the security page's
// "audit log of every read" requires.
func (db *DB) auditRead(ctx context.Context, action, targetType, targetID string, details map[string]string) error {
	if db.benchNoReadAudit {
		return nil
	}
	if err := db.appendStandalone(ctx, actorEvent(ctx, action, targetType, targetID, credtrack.OutcomeSuccess, details)); err != nil {
		return db.auditUnavailable(action, err)
	}
	return nil
}

func (db *DB) auditUnavailable(action string, err error) error {
	db.log.Error("audit write failed; refusing the read", "action", action, "err", err)
	return credtrack.Errorf(credtrack.EUNAVAILABLE, "the audit log is unavailable, so the record cannot be shown; try again shortly")
}

// actorEvent is an event by the actor in ctx.
func actorEvent(ctx context.Context, action, targetType, targetID string, outcome credtrack.Outcome, details map[string]string) *credtrack.AuditEvent {
	a := credtrack.ActorFromContext(ctx)
	return &credtrack.AuditEvent{
		OrgID: a.OrgID, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
		Action: action, TargetType: targetType, TargetID: targetID, Outcome: outcome,
		IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID, Details: details,
	}
}

// auditedRead runs read, which reads in tx and returns the audit event the
// read calls for (nil when there is nothing to record, such as a record
// that does not exist) and its own result, and returns that result only
// after the event has committed; if the event cannot be written the read
// fails with EUNAVAILABLE. On SQLite the read runs inside the group
// commit's transaction on the writer connection (see readAndAppend); on
// PostgreSQL it runs in a read-only transaction and the event is group
// committed after it.
func (db *DB) auditedRead(ctx context.Context, action string, read func(tx *Tx) (*credtrack.AuditEvent, error)) error {
	if db.benchNoReadAudit {
		return db.view(ctx, func(tx *Tx) error { _, err := read(tx); return err })
	}
	var ev *credtrack.AuditEvent
	var readErr error
	capture := func(tx *Tx) (*credtrack.AuditEvent, error) {
		ev, readErr = read(tx)
		return ev, nil
	}
	if db.backend == SQLite && !db.noBatch {
		if err := db.batch.readAndAppend(ctx, capture); err != nil {
			return db.auditUnavailable(action, err)
		}
	} else {
		if err := db.view(ctx, func(tx *Tx) error { _, err := capture(tx); return err }); err != nil {
			return err
		}
		if ev != nil {
			if err := db.appendStandalone(ctx, ev); err != nil {
				return db.auditUnavailable(action, err)
			}
		}
	}
	if ev != nil {
		credtrack.MarkAudited(ctx)
	}
	return db.mapError(readErr)
}

// FindProviders returns one page of the organization's providers with
// credential summaries, and the number that match. Sensitive numbers are
// not opened: lists show only last-four values. The listing is audited
// ("provider.listed", with the filter's shape but not its values).
func (db *DB) FindProviders(ctx context.Context, f credtrack.ProviderFilter) ([]*credtrack.Provider, int, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, 0, err
	}
	a := credtrack.ActorFromContext(ctx)
	where := []string{"org_id = ?"}
	args := []any{org}
	if !a.Can(credtrack.PermProviderRead) {
		if !a.Can(credtrack.PermOwnRecordRead) {
			return nil, 0, credtrack.Errorf(credtrack.EFORBIDDEN, "your role may not list providers")
		}
		// A provider sees the record linked to their account; a
		// provider-role API token is linked to no one and sees none.
		owner := a.ID
		if a.Kind != credtrack.ActorUser {
			owner = ""
		}
		where, args = append(where, "user_id = ?"), append(args, owner)
	}
	if err := f.NormalizeLookups(); err != nil {
		return nil, 0, err
	}
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		cond := "lower(first_name) LIKE ? ESCAPE '\\' OR lower(last_name) LIKE ? ESCAPE '\\'"
		like := "%" + escapeLike(q) + "%"
		args = append(args, like, like)
		if f.QueryOrLicense && len(q) <= 50 {
			c, a := db.licenseMatch(org, strings.TrimSpace(f.Query), "")
			cond += " OR " + c
			args = append(args, a...)
		}
		where = append(where, "("+cond+")")
	}
	// The exact-match lookups compare keyed blind indexes, computed from
	// the normalized input exactly as they were when the value was
	// written, and each index includes the organization, so another
	// organization's identical number has a different index as well as a
	// different org_id. They are written as IN (subquery) rather than a
	// correlated EXISTS so that the database starts from the (org_id,
	// type, number_bidx) index of migration 0001 (and (org_id, npi_bidx))
	// instead of probing every provider of the organization.
	if f.NPI != "" {
		// UNION ALL rather than "npi_bidx = ? OR ...": with OR, PostgreSQL
		// scans the organization's providers; and ALL, because SQLite
		// answers a plain UNION by merging all the organization's credentials.
		where = append(where, "id IN (SELECT p.id FROM providers p WHERE p.org_id = ? AND p.npi_bidx = ?"+
			" UNION ALL SELECT c.provider_id FROM credentials c WHERE c.org_id = ? AND c.type = ? AND c.number_bidx = ?)")
		args = append(args, org, db.sealer.Index(org, "npi", f.NPI),
			org, string(credtrack.CredNPI), db.sealer.Index(org, "credential."+string(credtrack.CredNPI), f.NPI))
	}
	if f.DEA != "" {
		where = append(where, "id IN (SELECT c.provider_id FROM credentials c WHERE c.org_id = ? AND c.type = ? AND c.number_bidx = ?)")
		args = append(args, org, string(credtrack.CredDEA), db.sealer.Index(org, "credential."+string(credtrack.CredDEA), f.DEA))
	}
	if f.License != "" {
		c, a := db.licenseMatch(org, f.License, f.LicenseState)
		where, args = append(where, c), append(args, a...)
	}
	if db.backend == SQLite && (f.NPI != "" || f.DEA != "" || f.License != "") {
		// Without this SQLite walks the organization's (org_id,
		// sort_name) index to save a sort, testing every provider
		// against the lookup; "+" takes org_id out of index choice, so it
		// fetches the few matches by primary key instead (5x faster on
		// 20,000 providers).
		where[0] = "+org_id = ?"
	}
	if f.Profession != "" {
		where, args = append(where, "profession = ?"), append(args, string(f.Profession))
	}
	today := credtrack.DateOf(db.now())
	if f.CredentialType != "" {
		where = append(where, "EXISTS (SELECT 1 FROM credentials c WHERE c.org_id = providers.org_id AND c.provider_id = providers.id AND c.type = ?)")
		args = append(args, string(f.CredentialType))
	}
	if f.ExpiringWithinDays > 0 {
		where = append(where, "EXISTS (SELECT 1 FROM credentials c WHERE c.org_id = providers.org_id AND c.provider_id = providers.id"+
			" AND c.expires_on <> '' AND c.expires_on >= ? AND c.expires_on <= ?)")
		args = append(args, today.String(), credtrack.Date{Time: today.AddDate(0, 0, min(f.ExpiringWithinDays, 3660))}.String())
	}
	order := "sort_name, id"
	switch f.Sort {
	case credtrack.SortNameDesc:
		order = "sort_name DESC, id DESC"
	case credtrack.SortUpdated:
		order = "updated_at DESC, id"
	case credtrack.SortNextExpiry:
		order = "COALESCE((SELECT min(c.expires_on) FROM credentials c WHERE c.org_id = providers.org_id AND c.provider_id = providers.id" +
			" AND c.expires_on <> ''), '9999-12-31'), sort_name, id"
	}
	// The overall status is derived from the credentials, today's date and
	// the organization's settings, so filtering and sorting by it run in Go
	// over the organization's matches.
	inGo := f.Status != "" || f.Sort == credtrack.SortWorstFirst
	limit, offset := clampLimit(f.Limit), max(f.Offset, 0)
	var out []*credtrack.Provider
	total := 0
	err = db.view(ctx, func(tx *Tx) error {
		var window int
		var set string
		if err := tx.queryRow("SELECT expiring_window_days, required_credentials FROM organizations WHERE id = ?", org).Scan(&window, &set); err != nil {
			return err
		}
		required, err := parseRequiredSet(set)
		if err != nil {
			return err
		}
		cond := strings.Join(where, " AND ")
		q := "SELECT " + providerColumns + " FROM providers WHERE " + cond + " ORDER BY " + order
		qargs := args
		if !inGo {
			if err := tx.queryRow("SELECT count(*) FROM providers WHERE "+cond, args...).Scan(&total); err != nil {
				return err
			}
			q += " LIMIT ? OFFSET ?"
			qargs = append(append([]any{}, args...), limit, offset)
		}
		rows, err := tx.query(q, qargs...)
		if err != nil {
			return err
		}
		var all []*credtrack.Provider
		for rows.Next() {
			r, err := scanProvider(rows)
			if err != nil {
				rows.Close()
				return err
			}
			all = append(all, &r.p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ids := make([]string, len(all))
		for i, p := range all {
			ids[i] = p.ID
		}
		creds, err := tx.credentialsOf(org, ids)
		if err != nil {
			return err
		}
		for _, p := range all {
			p.Credentials = creds[p.ID]
		}
		if !inGo {
			out = all
			return nil
		}
		var matched []*credtrack.Provider
		status := map[*credtrack.Provider]credtrack.ProviderStatus{}
		for _, p := range all {
			s := p.StatusWith(today, window, required)
			if f.Status == "" || s == f.Status {
				matched = append(matched, p)
				status[p] = s
			}
		}
		if f.Sort == credtrack.SortWorstFirst {
			rank := func(s credtrack.ProviderStatus) int { return slices.Index(credtrack.ProviderStatuses, s) }
			slices.SortStableFunc(matched, func(a, b *credtrack.Provider) int { return rank(status[a]) - rank(status[b]) })
		}
		total = len(matched)
		out = matched[min(offset, len(matched)):min(offset+limit, len(matched))]
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	// The details say which lookups were used, never the numbers.
	details := map[string]string{"results": itoa(len(out))}
	var by []string
	for _, l := range []struct {
		name string
		set  bool
	}{{"npi", f.NPI != ""}, {"dea", f.DEA != ""}, {"license", f.License != ""},
		{"name_or_license", f.QueryOrLicense && strings.TrimSpace(f.Query) != ""}} {
		if l.set {
			by = append(by, l.name)
		}
	}
	if len(by) > 0 {
		details["by"] = strings.Join(by, ",")
	}
	if f.LicenseState != "" {
		details["license_state"] = f.LicenseState
	}
	if err := db.auditRead(ctx, "provider.listed", "provider", "", details); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// licenseMatch is the condition "holds a state license numbered number
// (in state, when given)", compared through the blind index in each form
// LicenseLookupForms gives.
func (db *DB) licenseMatch(org, number, state string) (string, []any) {
	forms := credtrack.LicenseLookupForms(number)
	args := []any{org, string(credtrack.CredStateLicense)}
	for _, n := range forms {
		args = append(args, db.sealer.Index(org, "credential."+string(credtrack.CredStateLicense), n))
	}
	cond := "id IN (SELECT c.provider_id FROM credentials c WHERE c.org_id = ? AND c.type = ? AND c.number_bidx IN (" +
		placeholders(len(forms)) + ")"
	if state != "" {
		cond += " AND c.jurisdiction = ?"
		args = append(args, state)
	}
	return cond + ")", args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// credentialsOf loads the credentials (numbers not opened) of the given
// providers, keyed by provider ID, in batches to stay under parameter limits.
func (tx *Tx) credentialsOf(org string, providerIDs []string) (map[string][]*credtrack.Credential, error) {
	out := map[string][]*credtrack.Credential{}
	for start := 0; start < len(providerIDs); start += 500 {
		batch := providerIDs[start:min(start+500, len(providerIDs))]
		args := []any{org}
		for _, id := range batch {
			args = append(args, id)
		}
		rows, err := tx.query("SELECT "+credentialColumns+" FROM credentials WHERE org_id = ? AND provider_id IN ("+
			placeholders(len(batch))+") ORDER BY expires_on, id", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			c, _, err := scanCredential(rows)
			if err != nil {
				rows.Close()
				return nil, err
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

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
