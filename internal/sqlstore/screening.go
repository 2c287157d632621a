package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"credtrack"
)

// Exclusion lists: global data (no organization). See
// migrations/postgres/0008_screening.sql for the versioning scheme.

// SaveListVersion stores a new version of a list with all its entries,
// switches the list in force to it and deletes the entries of the
// versions it replaces, in one transaction: readers see the previous
// list until the commit and the new one after it. Audited as
// "list.imported" in the chain outside any organization, attributed to
// the actor in ctx (an operator command or a job).
func (db *DB) SaveListVersion(ctx context.Context, v *credtrack.ListVersion, entries []*credtrack.ListEntry) error {
	a := credtrack.ActorFromContext(ctx)
	if a.Kind != credtrack.ActorSystem {
		return credtrack.Errorf(credtrack.EFORBIDDEN, "exclusion lists are imported by an operator command or a job")
	}
	// Encode before the transaction: the writer is held only for the writes.
	chunks := encodeEntries(entries)
	return db.update(ctx, func(tx *Tx) error {
		v.ID, v.ImportedAt, v.ImportedBy, v.Entries = credtrack.NewID(), tx.now, a.ID, len(entries)
		if _, err := tx.exec(`INSERT INTO list_versions (id, source, kind, base_id, origin, sha256, file_rows, entries, added,
			removed, imported_at, imported_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, string(v.Source), string(v.Kind), v.BaseID, v.Origin, v.SHA256, v.FileRows, v.Entries, v.Added, v.Removed,
			ts(v.ImportedAt), v.ImportedBy); err != nil {
			return err
		}
		for i, c := range chunks {
			if _, err := tx.exec(`INSERT INTO list_entries (version_id, chunk, data) VALUES (?, ?, ?)`, v.ID, i, c); err != nil {
				return err
			}
		}
		if _, err := tx.exec(`DELETE FROM list_entries WHERE version_id IN
			(SELECT version_id FROM list_current WHERE source = ?)`, string(v.Source)); err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO list_current (source, version_id, switched_at) VALUES (?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET version_id = excluded.version_id, switched_at = excluded.switched_at`,
			string(v.Source), v.ID, ts(tx.now)); err != nil {
			return err
		}
		v.InForce = true
		return tx.audit("list.imported", "list_version", v.ID, credtrack.OutcomeSuccess, map[string]string{
			"source": string(v.Source), "kind": string(v.Kind), "sha256": v.SHA256, "file_rows": strconv.Itoa(v.FileRows),
			"entries": strconv.Itoa(v.Entries), "added": strconv.Itoa(v.Added), "removed": strconv.Itoa(v.Removed)})
	})
}

// RecordListImportFailure audits a refused import ("list.import_failed");
// the list in force is unchanged.
func (db *DB) RecordListImportFailure(ctx context.Context, source credtrack.ListSource, origin, reason string) error {
	if len(reason) > 300 {
		reason = reason[:300]
	}
	return db.RecordEvent(ctx, &credtrack.AuditEvent{Action: "list.import_failed", TargetType: "list", TargetID: string(source),
		Outcome: credtrack.OutcomeFailure, Details: map[string]string{"source": string(source), "origin": origin, "reason": reason}})
}

const listVersionColumns = `v.id, v.source, v.kind, v.base_id, v.origin, v.sha256, v.file_rows, v.entries, v.added, v.removed,
	v.imported_at, v.imported_by, CASE WHEN c.version_id IS NULL THEN 0 ELSE 1 END`

func scanListVersion(r interface{ Scan(...any) error }) (*credtrack.ListVersion, error) {
	var v credtrack.ListVersion
	var src, kind string
	var at sql.NullInt64
	var inForce int
	if err := r.Scan(&v.ID, &src, &kind, &v.BaseID, &v.Origin, &v.SHA256, &v.FileRows, &v.Entries, &v.Added, &v.Removed,
		&at, &v.ImportedBy, &inForce); err != nil {
		return nil, err
	}
	v.Source, v.Kind, v.ImportedAt, v.InForce = credtrack.ListSource(src), credtrack.ListImportKind(kind), fromTS(at), inForce == 1
	return &v, nil
}

// ListVersions returns the import history of every list, newest first.
func (db *DB) ListVersions(ctx context.Context, limit int) ([]*credtrack.ListVersion, error) {
	var out []*credtrack.ListVersion
	err := db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT `+listVersionColumns+` FROM list_versions v
			LEFT JOIN list_current c ON c.version_id = v.id ORDER BY v.imported_at DESC, v.id LIMIT ?`, clampLimit(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scanListVersion(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, err
}

// CurrentListVersion returns the version of source in force; ENOTFOUND
// when none was ever imported.
func (db *DB) CurrentListVersion(ctx context.Context, source credtrack.ListSource) (*credtrack.ListVersion, error) {
	var v *credtrack.ListVersion
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		v, err = scanListVersion(tx.queryRow(`SELECT `+listVersionColumns+` FROM list_current c
			JOIN list_versions v ON v.id = c.version_id WHERE c.source = ?`, string(source)))
		return err
	})
	return v, err
}

// ListVersionBySHA returns a version of source imported from a file with
// this SHA-256, ENOTFOUND when there is none.
func (db *DB) ListVersionBySHA(ctx context.Context, source credtrack.ListSource, sha string) (*credtrack.ListVersion, error) {
	var v *credtrack.ListVersion
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		v, err = scanListVersion(tx.queryRow(`SELECT `+listVersionColumns+` FROM list_versions v
			LEFT JOIN list_current c ON c.version_id = v.id WHERE v.source = ? AND v.sha256 = ? ORDER BY v.imported_at DESC LIMIT 1`,
			string(source), sha))
		return err
	})
	return v, err
}

// LoadListEntries returns the entries of a version in force.
func (db *DB) LoadListEntries(ctx context.Context, versionID string) ([]*credtrack.ListEntry, error) {
	var out []*credtrack.ListEntry
	err := db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT data FROM list_entries WHERE version_id = ? ORDER BY chunk`, versionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var data string
			if err := rows.Scan(&data); err != nil {
				return err
			}
			es, err := decodeEntries(data)
			if err != nil {
				return err
			}
			out = append(out, es...)
		}
		return rows.Err()
	})
	return out, err
}

// List entries are stored in chunks: the fields of an entry joined by
// US (0x1f), entries joined by RS (0x1e). Both characters are replaced by
// spaces in values (list files never hold them meaningfully).
const (
	entriesPerChunk = 2000
	fieldSep        = "\x1f"
	entrySep        = "\x1e"
	entryFields     = 23
)

var sepCleaner = strings.NewReplacer(fieldSep, " ", entrySep, " ")

func encodeEntries(entries []*credtrack.ListEntry) []string {
	var out []string
	var b strings.Builder
	for i, e := range entries {
		if i%entriesPerChunk == 0 && i > 0 {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteString(entrySep)
		}
		ind := "0"
		if e.Individual {
			ind = "1"
		}
		for j, f := range []string{string(e.Source), e.Key, e.Hash, ind, e.LastName, e.FirstName, e.MiddleName, e.Suffix,
			e.BusName, e.NPI, e.DOB.String(), e.City, e.State, e.Zip, e.Category, e.ExclType, e.Agency, e.ExclDate.String(),
			e.ReinDate.String(), e.EndDate, e.SAMNumber, e.CrossRef, ""} {
			if j > 0 {
				b.WriteString(fieldSep)
			}
			b.WriteString(sepCleaner.Replace(f))
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func decodeEntries(data string) ([]*credtrack.ListEntry, error) {
	var out []*credtrack.ListEntry
	for rec := range strings.SplitSeq(data, entrySep) {
		f := strings.Split(rec, fieldSep)
		if len(f) != entryFields {
			return nil, fmt.Errorf("sqlstore: damaged list entry (%d fields)", len(f))
		}
		e := &credtrack.ListEntry{Source: credtrack.ListSource(f[0]), Key: f[1], Hash: f[2], Individual: f[3] == "1",
			LastName: f[4], FirstName: f[5], MiddleName: f[6], Suffix: f[7], BusName: f[8], NPI: f[9], DOB: parseDate(f[10]),
			City: f[11], State: f[12], Zip: f[13], Category: f[14], ExclType: f[15], Agency: f[16], ExclDate: parseDate(f[17]),
			ReinDate: parseDate(f[18]), EndDate: f[19], SAMNumber: f[20], CrossRef: f[21]}
		out = append(out, e)
	}
	return out, nil
}

// Screening candidates: tenant data.

// ScreeningSubjects returns the organization's active providers with NPI
// and date of birth opened, for the screening engine only (they are never
// shown). The caller records the "screening.run" event that covers this
// read, in SaveScreeningResults.
func (db *DB) ScreeningSubjects(ctx context.Context) ([]*credtrack.Provider, error) {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.Provider
	err = db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT id, first_name, middle_name, last_name, state, npi_enc, dob_enc FROM providers
			WHERE org_id = ? AND active = ? ORDER BY id`, org, true)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p := &credtrack.Provider{OrgID: org, Active: true}
			var npi, dob []byte
			if err := rows.Scan(&p.ID, &p.FirstName, &p.MiddleName, &p.LastName, &p.State, &npi, &dob); err != nil {
				return err
			}
			if len(npi) > 0 {
				if p.NPI, err = db.open(org, "providers", "npi", p.ID, npi); err != nil {
					return err
				}
			}
			if len(dob) > 0 {
				s, err := db.open(org, "providers", "dob", p.ID, dob)
				if err != nil {
					return err
				}
				p.DOB, p.HasDOB = parseDate(s), s != ""
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	return out, err
}

// SaveScreeningResults records one screening of the organization's
// providers (screened, their IDs) in run: a candidate not seen before is
// created open; an open one is refreshed; a cleared one stays cleared
// unless its list entry changed (another hash), in which case it opens
// again; a confirmed one stays confirmed. Open candidates of the screened
// providers that the run did not find are marked as no longer listed but
// stay open: nothing is cleared without a person. It returns the
// candidates that are new or reopened (each audited
// "screening.candidate.created"), and records one "screening.run" event.
func (db *DB) SaveScreeningResults(ctx context.Context, runID string, screened int, cands []*credtrack.ScreeningCandidate) ([]*credtrack.ScreeningCandidate, error) {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return nil, err
	}
	var fresh []*credtrack.ScreeningCandidate
	err = db.update(ctx, func(tx *Tx) error {
		fresh = fresh[:0]
		for _, c := range cands {
			entry, err := json.Marshal(c.Entry)
			if err != nil {
				return err
			}
			reasons := strings.Join(c.Reasons, ",")
			var id, status, hash string
			err = tx.queryRow(`SELECT id, status, entry_hash FROM screening_candidates
				WHERE org_id = ? AND provider_id = ? AND source = ? AND entry_key = ?`,
				org, c.ProviderID, string(c.Source), c.EntryKey).Scan(&id, &status, &hash)
			reopen := false
			switch {
			case err == sql.ErrNoRows:
				c.ID, c.OrgID, c.Status, c.Listed, c.CreatedAt, c.UpdatedAt = credtrack.NewID(), org, credtrack.CandidateOpen, true, tx.now, tx.now
				if _, err := tx.exec(`INSERT INTO screening_candidates (id, org_id, provider_id, source, entry_key, entry_hash,
					list_version_id, score, reasons, entry, status, listed, seen_run, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)`,
					c.ID, org, c.ProviderID, string(c.Source), c.EntryKey, c.EntryHash, c.ListVersionID, c.Score, reasons,
					string(entry), true, runID, ts(tx.now), ts(tx.now)); err != nil {
					return err
				}
				fresh = append(fresh, c)
				if err := tx.audit("screening.candidate.created", "screening_candidate", c.ID, credtrack.OutcomeSuccess,
					map[string]string{"provider_id": c.ProviderID, "source": string(c.Source), "score": strconv.Itoa(c.Score),
						"reasons": reasons, "list_version": c.ListVersionID}); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			case status == credtrack.CandidateCleared && hash != c.EntryHash:
				reopen = true
			}
			c.ID, c.OrgID = id, org
			if reopen {
				if _, err := tx.exec(`UPDATE screening_candidates SET status = 'open', decision = '', decided_by = '', decided_at = NULL,
					entry_hash = ?, list_version_id = ?, score = ?, reasons = ?, entry = ?, listed = ?, seen_run = ?, updated_at = ?
					WHERE id = ? AND org_id = ?`, c.EntryHash, c.ListVersionID, c.Score, reasons, string(entry), true, runID,
					ts(tx.now), id, org); err != nil {
					return err
				}
				c.Status = credtrack.CandidateOpen
				fresh = append(fresh, c)
				if err := tx.audit("screening.candidate.created", "screening_candidate", id, credtrack.OutcomeSuccess,
					map[string]string{"provider_id": c.ProviderID, "source": string(c.Source), "score": strconv.Itoa(c.Score),
						"reasons": reasons, "list_version": c.ListVersionID, "reopened": "entry changed"}); err != nil {
					return err
				}
				continue
			}
			// Open: refresh what the list says now. Cleared (same entry) or
			// confirmed: only note that the run saw it.
			q := `UPDATE screening_candidates SET listed = ?, seen_run = ?, updated_at = ? WHERE id = ? AND org_id = ?`
			args := []any{true, runID, ts(tx.now), id, org}
			if status == credtrack.CandidateOpen {
				q = `UPDATE screening_candidates SET entry_hash = ?, list_version_id = ?, score = ?, reasons = ?, entry = ?,
					listed = ?, seen_run = ?, updated_at = ? WHERE id = ? AND org_id = ?`
				args = []any{c.EntryHash, c.ListVersionID, c.Score, reasons, string(entry), true, runID, ts(tx.now), id, org}
			}
			if _, err := tx.exec(q, args...); err != nil {
				return err
			}
		}
		if _, err := tx.exec(`UPDATE screening_candidates SET listed = ?, updated_at = ?
			WHERE org_id = ? AND status = 'open' AND listed = ? AND seen_run <> ?`, false, ts(tx.now), org, true, runID); err != nil {
			return err
		}
		return tx.audit("screening.run", "organization", org, credtrack.OutcomeSuccess, map[string]string{
			"run": runID, "providers": strconv.Itoa(screened), "matches": strconv.Itoa(len(cands)), "new": strconv.Itoa(len(fresh))})
	})
	return fresh, err
}

const candidateColumns = `c.id, c.org_id, c.provider_id, p.first_name, p.last_name, c.source, c.entry_key, c.entry_hash,
	c.list_version_id, c.score, c.reasons, c.entry, c.status, c.listed, c.decision, c.decided_by, c.decided_at, c.created_at, c.updated_at`

func scanCandidate(r interface{ Scan(...any) error }) (*credtrack.ScreeningCandidate, error) {
	var c credtrack.ScreeningCandidate
	var first, last, src, reasons, entry string
	var decided, created, updated sql.NullInt64
	if err := r.Scan(&c.ID, &c.OrgID, &c.ProviderID, &first, &last, &src, &c.EntryKey, &c.EntryHash, &c.ListVersionID,
		&c.Score, &reasons, &entry, &c.Status, &c.Listed, &c.Decision, &c.DecidedBy, &decided, &created, &updated); err != nil {
		return nil, err
	}
	c.ProviderName, c.Source = strings.TrimSpace(first+" "+last), credtrack.ListSource(src)
	if reasons != "" {
		c.Reasons = strings.Split(reasons, ",")
	}
	_ = json.Unmarshal([]byte(entry), &c.Entry)
	c.DecidedAt, c.CreatedAt, c.UpdatedAt = fromTS(decided), fromTS(created), fromTS(updated)
	return &c, nil
}

// FindScreeningCandidates lists the organization's candidates with the
// given status ("" for all), newest first (provider.read). Audited as
// "screening.listed" with the count.
func (db *DB) FindScreeningCandidates(ctx context.Context, status string, limit int) ([]*credtrack.ScreeningCandidate, error) {
	org, err := orgScope(ctx, credtrack.PermProviderRead)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.ScreeningCandidate
	err = db.auditedRead(ctx, "screening.listed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		out = out[:0]
		q := `SELECT ` + candidateColumns + ` FROM screening_candidates c JOIN providers p ON p.id = c.provider_id AND p.org_id = c.org_id
			WHERE c.org_id = ?`
		args := []any{org}
		if status != "" {
			q += ` AND c.status = ?`
			args = append(args, status)
		}
		q += ` ORDER BY c.score DESC, c.created_at DESC, c.id LIMIT ?`
		args = append(args, clampLimit(limit))
		rows, err := tx.query(q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCandidate(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return actorEvent(ctx, "screening.listed", "screening_candidate", "", credtrack.OutcomeSuccess,
			map[string]string{"status": status, "count": strconv.Itoa(len(out))}), nil
	})
	return out, err
}

// DecideScreeningCandidate clears ("not the same person") or confirms
// ("excluded") an open candidate, with the person's reason
// (verification.run). Audited as "screening.candidate.cleared" or
// ".confirmed"; a decided candidate cannot be decided again (ECONFLICT),
// another organization's gives ENOTFOUND.
func (db *DB) DecideScreeningCandidate(ctx context.Context, id, decision, reason string) error {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	a := credtrack.ActorFromContext(ctx)
	return db.update(ctx, func(tx *Tx) error {
		var status, provider string
		if err := tx.queryRow(`SELECT status, provider_id FROM screening_candidates WHERE id = ? AND org_id = ?`, id, org).Scan(&status, &provider); err != nil {
			if err == sql.ErrNoRows {
				return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such screening candidate")
			}
			return err
		}
		// Validated after the lookup, so that another organization's ID
		// is a 404 whatever the form holds.
		if decision != credtrack.CandidateCleared && decision != credtrack.CandidateConfirmed {
			return credtrack.Errorf(credtrack.EINVALID, "decide with cleared or confirmed")
		}
		if reason == "" || len(reason) > 1000 {
			return credtrack.Errorf(credtrack.EINVALID, "give the reason for the decision (up to 1,000 characters)")
		}
		if status != credtrack.CandidateOpen {
			return credtrack.Errorf(credtrack.ECONFLICT, "this candidate was already %s", status)
		}
		if _, err := tx.exec(`UPDATE screening_candidates SET status = ?, decision = ?, decided_by = ?, decided_at = ?, updated_at = ?
			WHERE id = ? AND org_id = ?`, decision, reason, a.ID, ts(tx.now), ts(tx.now), id, org); err != nil {
			return err
		}
		details := map[string]string{"provider_id": provider}
		if decision == credtrack.CandidateConfirmed {
			return tx.audit("screening.candidate.confirmed", "screening_candidate", id, credtrack.OutcomeSuccess, details)
		}
		return tx.audit("screening.candidate.cleared", "screening_candidate", id, credtrack.OutcomeSuccess, details)
	})
}

// Alerts: tenant data (credtrack.AlertService).

// RaiseAlert stores an alert unless one with its key exists in the
// organization. Audited as "alert.raised" when new.
func (db *DB) RaiseAlert(ctx context.Context, al *credtrack.Alert) (bool, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return false, err
	}
	if al.Key == "" || al.Kind == "" || al.Title == "" {
		return false, credtrack.Errorf(credtrack.EINVALID, "an alert needs a kind, a key and a title")
	}
	if al.Severity == "" {
		al.Severity = credtrack.AlertWarning
	}
	added := false
	err = db.update(ctx, func(tx *Tx) error {
		al.ID, al.OrgID, al.CreatedAt = credtrack.NewID(), org, tx.now
		res, err := tx.exec(`INSERT INTO alerts (id, org_id, kind, key, severity, title, body, link, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, key) DO NOTHING`,
			al.ID, org, al.Kind, al.Key, al.Severity, al.Title, al.Body, al.Link, ts(tx.now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		added = true
		return tx.audit("alert.raised", "alert", al.ID, credtrack.OutcomeSuccess,
			map[string]string{"kind": al.Kind, "severity": al.Severity})
	})
	return added, err
}

const alertColumns = `id, org_id, kind, key, severity, title, body, link, created_at, acked_at, acked_by`

// FindAlerts lists the organization's alerts, newest first (org.read).
// Audited as "alert.listed".
func (db *DB) FindAlerts(ctx context.Context, openOnly bool, limit int) ([]*credtrack.Alert, error) {
	org, err := orgScope(ctx, credtrack.PermOrgRead)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.Alert
	err = db.auditedRead(ctx, "alert.listed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		out = out[:0]
		q := `SELECT ` + alertColumns + ` FROM alerts WHERE org_id = ?`
		if openOnly {
			q += ` AND acked_at IS NULL`
		}
		rows, err := tx.query(q+` ORDER BY created_at DESC, id LIMIT ?`, org, clampLimit(limit))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var al credtrack.Alert
			var created, acked sql.NullInt64
			if err := rows.Scan(&al.ID, &al.OrgID, &al.Kind, &al.Key, &al.Severity, &al.Title, &al.Body, &al.Link,
				&created, &acked, &al.AckedBy); err != nil {
				return nil, err
			}
			al.CreatedAt, al.AckedAt = fromTS(created), fromTS(acked)
			out = append(out, &al)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return actorEvent(ctx, "alert.listed", "alert", "", credtrack.OutcomeSuccess,
			map[string]string{"count": strconv.Itoa(len(out))}), nil
	})
	return out, err
}

// CountOpenAlerts counts the organization's unacknowledged alerts, for
// the navigation badge (org.read; a count, not a record read).
func (db *DB) CountOpenAlerts(ctx context.Context) (int, error) {
	org, err := orgScope(ctx, credtrack.PermOrgRead)
	if err != nil {
		return 0, err
	}
	var n int
	err = db.view(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT COUNT(*) FROM alerts WHERE org_id = ? AND acked_at IS NULL`, org).Scan(&n)
	})
	return n, err
}

// AcknowledgeAlert marks an alert as seen (verification.run). Audited
// as "alert.acknowledged"; another organization's gives ENOTFOUND.
func (db *DB) AcknowledgeAlert(ctx context.Context, id string) error {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND org_id = ? AND acked_at IS NULL`,
			ts(tx.now), a.ID, id, org)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.queryRow(`SELECT 1 FROM alerts WHERE id = ? AND org_id = ?`, id, org).Scan(&one); err != nil {
				return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such alert")
			}
			return nil // already acknowledged
		}
		return tx.audit("alert.acknowledged", "alert", id, credtrack.OutcomeSuccess, nil)
	})
}

// Monitoring runs: global.

// MonitoringOrgIDs lists every organization's ID in order, for the
// monitoring job (organizations have no row-level security).
func (db *DB) MonitoringOrgIDs(ctx context.Context) ([]string, error) {
	var out []string
	err := db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT id FROM organizations ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	return out, err
}

// StartMonitoringRun creates run, or returns the existing run with its
// ID (a resumed job continues from its cursor).
func (db *DB) StartMonitoringRun(ctx context.Context, run *credtrack.MonitoringRun) (*credtrack.MonitoringRun, error) {
	err := db.update(ctx, func(tx *Tx) error {
		run.StartedAt, run.State = tx.now, "running"
		_, err := tx.exec(`INSERT INTO monitoring_runs (id, trigger, leie_version, sam_version, state, started_at, updated_at)
			VALUES (?, ?, ?, ?, 'running', ?, ?) ON CONFLICT (id) DO NOTHING`,
			run.ID, run.Trigger, run.LEIE, run.SAM, ts(tx.now), ts(tx.now))
		return err
	})
	if err != nil {
		return nil, err
	}
	runs, err := db.findMonitoringRuns(ctx, run.ID, 1)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, credtrack.Errorf(credtrack.ENOTFOUND, "monitoring run vanished")
	}
	return runs[0], nil
}

// UpdateMonitoringRun saves a run's progress, and the job's percentage.
func (db *DB) UpdateMonitoringRun(ctx context.Context, run *credtrack.MonitoringRun, jobID string) error {
	return db.update(ctx, func(tx *Tx) error {
		if run.State != "running" && run.FinishedAt.IsZero() {
			run.FinishedAt = tx.now
		}
		if _, err := tx.exec(`UPDATE monitoring_runs SET leie_version = ?, sam_version = ?, state = ?, orgs_total = ?, orgs_done = ?,
			providers = ?, new_hits = ?, cursor = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?`,
			run.LEIE, run.SAM, run.State, run.OrgsTotal, run.OrgsDone, run.Providers, run.NewHits, run.Cursor, run.Error,
			ts(run.FinishedAt), ts(tx.now), run.ID); err != nil {
			return err
		}
		if jobID == "" || run.OrgsTotal == 0 {
			return nil
		}
		// Progress also renews the job's lease (the runner's default, 5
		// minutes), so a long run is not taken for a dead one.
		_, err := tx.exec(`UPDATE jobs SET progress = ?, locked_until = ?, updated_at = ? WHERE id = ? AND state = 'running'`,
			100*run.OrgsDone/run.OrgsTotal, ts(tx.now.Add(5*time.Minute)), ts(tx.now), jobID)
		return err
	})
}

// FindMonitoringRuns lists the latest runs, newest first.
func (db *DB) FindMonitoringRuns(ctx context.Context, limit int) ([]*credtrack.MonitoringRun, error) {
	return db.findMonitoringRuns(ctx, "", limit)
}

func (db *DB) findMonitoringRuns(ctx context.Context, id string, limit int) ([]*credtrack.MonitoringRun, error) {
	var out []*credtrack.MonitoringRun
	err := db.view(ctx, func(tx *Tx) error {
		q := `SELECT id, trigger, leie_version, sam_version, state, orgs_total, orgs_done, providers, new_hits, cursor, error,
			started_at, finished_at FROM monitoring_runs`
		var args []any
		if id != "" {
			q += ` WHERE id = ?`
			args = append(args, id)
		}
		rows, err := tx.query(q+` ORDER BY started_at DESC, id LIMIT ?`, append(args, clampLimit(limit))...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r credtrack.MonitoringRun
			var started, finished sql.NullInt64
			if err := rows.Scan(&r.ID, &r.Trigger, &r.LEIE, &r.SAM, &r.State, &r.OrgsTotal, &r.OrgsDone, &r.Providers, &r.NewHits,
				&r.Cursor, &r.Error, &started, &finished); err != nil {
				return err
			}
			r.StartedAt, r.FinishedAt = fromTS(started), fromTS(finished)
			out = append(out, &r)
		}
		return rows.Err()
	})
	return out, err
}
