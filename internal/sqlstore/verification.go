package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"credtrack"
)

// Primary-source verification: the stored verifications with their
// evidence (the raw response sealed under the organization's key), the
// queue of requested checks that become manual tasks when their source
// keeps failing, the per-source call log behind the health page, and the
// organization's freshness limit.

// sourceCallEvents names the audit action of one call to each source. The
// event carries the request's masked description and the response's
// metadata (HTTP status, latency, SHA-256 prefix, result), never the
// identifiers themselves.
var sourceCallEvents = map[string]credtrack.AuditEvent{
	credtrack.SourceNPPES:       {Action: "psv.nppes.requested"},
	credtrack.SourceNursys:      {Action: "psv.nursys.requested"},
	credtrack.SourceLicenseFile: {Action: "psv.license_file.requested"},
	credtrack.SourceManual:      {Action: "psv.manual.recorded"},
}

const verificationColumns = `id, org_id, provider_id, COALESCE(credential_id, ''), source, request, result, findings,
	COALESCE(http_status, 0), COALESCE(latency_ms, 0), response_sha256, response_enc, actor_kind, actor_id, created_at,
	requested_by, error, verified_on, document_id, check_id`

func scanVerification(row interface{ Scan(...any) error }) (*credtrack.Verification, []byte, error) {
	var v credtrack.Verification
	var request, result, findings, kind, verifiedOn string
	var latency int64
	var enc []byte
	var created sql.NullInt64
	if err := row.Scan(&v.ID, &v.OrgID, &v.ProviderID, &v.CredentialID, &v.Source, &request, &result, &findings,
		&v.HTTPStatus, &latency, &v.ResponseSHA256, &enc, &kind, &v.ActorID, &created,
		&v.RequestedBy, &v.Error, &verifiedOn, &v.DocumentID, &v.CheckID); err != nil {
		return nil, nil, err
	}
	v.Result, v.ActorKind, v.CreatedAt = credtrack.VerificationResult(result), credtrack.ActorKind(kind), fromTS(created)
	v.Latency, v.HasResponse, v.VerifiedOn = time.Duration(latency)*time.Millisecond, len(enc) > 0, parseDate(verifiedOn)
	if err := json.Unmarshal([]byte(request), &v.Query); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: request of verification %s: %w", v.ID, err)
	}
	if err := json.Unmarshal([]byte(findings), &v.Findings); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: findings of verification %s: %w", v.ID, err)
	}
	return &v, enc, nil
}

// RecordVerification stores the answer of a source (or of a coordinator,
// Source "manual") for a provider of the actor's organization
// (verification.run). raw is the source's response, sealed here bound to
// the verification's row; its SHA-256 is v.ResponseSHA256. A verified
// result of a credential sets the credential's VerifiedAt and VerifiedBy
// (its freshness); a check named by v.CheckID is marked done (closed for a
// manual verification) unless the call failed. A call to an
// automated source is also counted in the source's health log. Audited in
// the same transaction as psv.<source>.requested (or psv.manual.recorded)
// with the request and response metadata.
func (db *DB) RecordVerification(ctx context.Context, v *credtrack.Verification, raw []byte) error {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return err
	}
	ev, ok := sourceCallEvents[v.Source]
	if !ok {
		return credtrack.Errorf(credtrack.EINVALID, "unknown verification source %q", v.Source)
	}
	if !validResult(v.Result) {
		return credtrack.Errorf(credtrack.EINVALID, "unknown verification result %q", v.Result)
	}
	request, err := json.Marshal(orEmpty(v.Query))
	if err != nil {
		return err
	}
	if v.Findings == nil {
		v.Findings = []credtrack.Finding{}
	}
	findings, err := json.Marshal(v.Findings)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	return db.update(ctx, func(tx *Tx) error {
		var one int
		if err := tx.queryRow("SELECT 1 FROM providers WHERE id = ? AND org_id = ?", v.ProviderID, org).Scan(&one); err != nil {
			return err
		}
		var credential any
		if v.CredentialID != "" {
			if err := tx.queryRow("SELECT 1 FROM credentials WHERE id = ? AND org_id = ? AND provider_id = ?",
				v.CredentialID, org, v.ProviderID).Scan(&one); err != nil {
				return err
			}
			credential = v.CredentialID
		}
		v.ID, v.OrgID, v.CreatedAt, v.ActorKind, v.ActorID = credtrack.NewID(), org, tx.now, a.Kind, a.ID
		var enc []byte
		if len(raw) > 0 {
			if enc, err = db.seal(org, "verifications", "response", v.ID, string(raw)); err != nil {
				return err
			}
			v.HasResponse = true
		}
		var status, latency any
		if v.Source != credtrack.SourceManual {
			status, latency = v.HTTPStatus, v.Latency.Milliseconds()
		}
		if _, err := tx.exec(`INSERT INTO verifications (id, org_id, provider_id, credential_id, source, request, result,
			findings, http_status, latency_ms, response_sha256, response_enc, actor_kind, actor_id, created_at,
			requested_by, error, verified_on, document_id, check_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, org, v.ProviderID, credential, v.Source, string(request), string(v.Result), string(findings),
			status, latency, nilIfEmpty(v.ResponseSHA256), nilIfEmpty(enc), string(a.Kind), a.ID, ts(v.CreatedAt),
			v.RequestedBy, v.Error, dateStr(v.VerifiedOn), v.DocumentID, v.CheckID); err != nil {
			return err
		}
		if v.Result == credtrack.VerifyVerified && v.CredentialID != "" {
			at := v.CreatedAt
			if !v.VerifiedOn.IsZero() && v.VerifiedOn.Before(at) {
				at = v.VerifiedOn.Time
			}
			if _, err := tx.exec("UPDATE credentials SET verified_at = ?, verified_by = ?, updated_at = ? WHERE id = ? AND org_id = ?",
				ts(at), credtrack.SourceLabel(v.Source), ts(tx.now), v.CredentialID, org); err != nil {
				return err
			}
		}
		// A failed call leaves its check pending: the job retries it, or
		// turns it into a manual task when the source keeps failing.
		if v.CheckID != "" && v.Result != credtrack.VerifyError {
			state := credtrack.CheckDone
			if v.Source == credtrack.SourceManual {
				state = credtrack.CheckClosed
			}
			if _, err := tx.exec("UPDATE verification_checks SET state = ?, verification_id = ?, updated_at = ? WHERE id = ? AND org_id = ?",
				state, v.ID, ts(tx.now), v.CheckID, org); err != nil {
				return err
			}
		}
		if v.Source != credtrack.SourceManual {
			if err := tx.recordSourceCall(credtrack.SourceCall{Source: v.Source, At: tx.now, OK: v.Result != credtrack.VerifyError,
				HTTPStatus: v.HTTPStatus, Latency: v.Latency, Error: v.Error}); err != nil {
				return err
			}
		}
		details := map[string]string{"provider_id": v.ProviderID, "result": string(v.Result)}
		for k, val := range v.Query {
			details["request."+k] = val
		}
		if v.CredentialID != "" {
			details["credential_id"] = v.CredentialID
		}
		if v.Source != credtrack.SourceManual {
			details["http_status"] = strconv.Itoa(v.HTTPStatus)
			details["latency_ms"] = strconv.FormatInt(v.Latency.Milliseconds(), 10)
			if len(v.ResponseSHA256) > 0 {
				details["response_sha256"] = hex.EncodeToString(v.ResponseSHA256)
			}
			details["response_bytes"] = strconv.Itoa(len(raw))
		} else {
			details["verified_on"] = v.VerifiedOn.String()
			if v.DocumentID != "" {
				details["document_id"] = v.DocumentID
			}
		}
		if v.Error != "" {
			details["error"] = v.Error
		}
		outcome := credtrack.OutcomeSuccess
		if v.Result == credtrack.VerifyError {
			outcome = credtrack.OutcomeFailure
		}
		return tx.audit(ev.Action, "verification", v.ID, outcome, details)
	})
}

func validResult(r credtrack.VerificationResult) bool {
	for _, x := range credtrack.VerificationResults {
		if x == r {
			return true
		}
	}
	return false
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// recordSourceCall appends one call to the source health log. The error
// text is the source adapter's safe description (no identifiers).
func (tx *Tx) recordSourceCall(c credtrack.SourceCall) error {
	ok := 0
	if c.OK {
		ok = 1
	}
	msg := c.Error
	if len(msg) > 300 {
		msg = msg[:300]
	}
	_, err := tx.exec("INSERT INTO psv_source_calls (source, at, ok, http_status, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?)",
		c.Source, ts(c.At), ok, c.HTTPStatus, c.Latency.Milliseconds(), msg)
	return err
}

// FindVerifications returns the verifications of one provider of the
// actor's organization, newest first, without raw responses
// (provider.read). Audited as "verification.listed".
func (db *DB) FindVerifications(ctx context.Context, providerID string) ([]*credtrack.Verification, error) {
	org, err := orgScope(ctx, credtrack.PermProviderRead)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.Verification
	err = db.auditedRead(ctx, "verification.listed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		var one int
		if err := tx.queryRow("SELECT 1 FROM providers WHERE id = ? AND org_id = ?", providerID, org).Scan(&one); err != nil {
			return nil, err
		}
		rows, err := tx.query("SELECT "+verificationColumns+" FROM verifications WHERE org_id = ? AND provider_id = ? ORDER BY created_at DESC, id",
			org, providerID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			v, _, err := scanVerification(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return actorEvent(ctx, "verification.listed", "provider", providerID, credtrack.OutcomeSuccess,
			map[string]string{"results": strconv.Itoa(len(out))}), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// OpenVerification returns one verification of the actor's organization
// with its raw response opened, for the evidence view (credential.read:
// the response holds full identifiers). Audited as "verification.read"
// before the response is returned.
func (db *DB) OpenVerification(ctx context.Context, id string) (*credtrack.Verification, []byte, error) {
	org, err := orgScope(ctx, credtrack.PermCredentialRead)
	if err != nil {
		return nil, nil, err
	}
	var v *credtrack.Verification
	var raw []byte
	err = db.auditedRead(ctx, "verification.read", func(tx *Tx) (*credtrack.AuditEvent, error) {
		found, enc, err := scanVerification(tx.queryRow("SELECT "+verificationColumns+" FROM verifications WHERE id = ? AND org_id = ?", id, org))
		if err != nil {
			return nil, err
		}
		if len(enc) > 0 {
			s, err := db.open(org, "verifications", "response", found.ID, enc)
			if err != nil {
				return nil, err
			}
			raw = []byte(s)
		}
		v = found
		return actorEvent(ctx, "verification.read", "verification", id, credtrack.OutcomeSuccess,
			map[string]string{"provider_id": found.ProviderID, "source": found.Source}), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return v, raw, nil
}

const checkColumns = `c.id, c.org_id, c.provider_id, COALESCE(c.credential_id, ''), c.source, c.state, c.reason, c.requested_by,
	c.verification_id, c.created_at, c.updated_at`

func scanCheck(row interface{ Scan(...any) error }, extra ...any) (*credtrack.VerificationCheck, error) {
	var c credtrack.VerificationCheck
	var created, updated sql.NullInt64
	dest := append([]any{&c.ID, &c.OrgID, &c.ProviderID, &c.CredentialID, &c.Source, &c.State, &c.Reason, &c.RequestedBy,
		&c.VerificationID, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromTS(created), fromTS(updated)
	return &c, nil
}

// CreateCheck queues a verification of a provider (and credential) of the
// actor's organization against a source (verification.run). c.State is
// pending, or manual when the caller already knows the source is failing
// (c.Reason says why). Audited as "psv.check.requested".
func (db *DB) CreateCheck(ctx context.Context, c *credtrack.VerificationCheck) error {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return err
	}
	if c.State == "" {
		c.State = credtrack.CheckPending
	}
	if c.State != credtrack.CheckPending && c.State != credtrack.CheckManual {
		return credtrack.Errorf(credtrack.EINVALID, "a new check is pending or manual")
	}
	a := credtrack.ActorFromContext(ctx)
	return db.update(ctx, func(tx *Tx) error {
		var one int
		if err := tx.queryRow("SELECT 1 FROM providers WHERE id = ? AND org_id = ?", c.ProviderID, org).Scan(&one); err != nil {
			return err
		}
		var credential any
		if c.CredentialID != "" {
			if err := tx.queryRow("SELECT 1 FROM credentials WHERE id = ? AND org_id = ? AND provider_id = ?",
				c.CredentialID, org, c.ProviderID).Scan(&one); err != nil {
				return err
			}
			credential = c.CredentialID
		}
		c.ID, c.OrgID, c.CreatedAt, c.UpdatedAt = credtrack.NewID(), org, tx.now, tx.now
		if c.RequestedBy == "" && a.Kind == credtrack.ActorUser {
			c.RequestedBy = a.ID
		}
		if _, err := tx.exec(`INSERT INTO verification_checks (id, org_id, provider_id, credential_id, source, state, reason,
			requested_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, org, c.ProviderID, credential, c.Source, c.State, c.Reason, c.RequestedBy, ts(tx.now), ts(tx.now)); err != nil {
			return err
		}
		details := map[string]string{"provider_id": c.ProviderID, "source": c.Source, "state": c.State}
		if c.CredentialID != "" {
			details["credential_id"] = c.CredentialID
		}
		return tx.audit("psv.check.requested", "verification_check", c.ID, credtrack.OutcomeSuccess, details)
	})
}

// FindCheck returns one check of the actor's organization
// (verification.run). It holds no sensitive values and is not audited: the
// job that runs the check records the call it makes.
func (db *DB) FindCheck(ctx context.Context, id string) (*credtrack.VerificationCheck, error) {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return nil, err
	}
	var c *credtrack.VerificationCheck
	err = db.view(ctx, func(tx *Tx) error {
		var err error
		c, err = scanCheck(tx.queryRow("SELECT "+checkColumns+" FROM verification_checks c WHERE c.id = ? AND c.org_id = ?", id, org))
		return err
	})
	return c, err
}

// MakeCheckManual turns a pending check into a manual verification task
// for coordinators, with the reason (its source keeps failing). A check
// that is no longer pending is left alone and reported with false.
// Audited as "psv.check.manual".
func (db *DB) MakeCheckManual(ctx context.Context, id, reason string) (bool, error) {
	org, err := orgScope(ctx, credtrack.PermVerificationRun)
	if err != nil {
		return false, err
	}
	changed := false
	err = db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("UPDATE verification_checks SET state = 'manual', reason = ?, updated_at = ? WHERE id = ? AND org_id = ? AND state = 'pending'",
			reason, ts(tx.now), id, org)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		changed = true
		var source string
		if err := tx.queryRow("SELECT source FROM verification_checks WHERE id = ?", id).Scan(&source); err != nil {
			return err
		}
		return tx.audit("psv.check.manual", "verification_check", id, credtrack.OutcomeSuccess,
			map[string]string{"source": source, "reason": reason})
	})
	return changed, err
}

// FindChecks lists the checks of the actor's organization in one state,
// oldest first, with the provider's name (provider.read). The manual task
// list is FindChecks(ctx, "manual"). Audited as "psv.checks.listed".
func (db *DB) FindChecks(ctx context.Context, state string) ([]*credtrack.VerificationCheck, error) {
	org, err := orgScope(ctx, credtrack.PermProviderRead)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.VerificationCheck
	err = db.auditedRead(ctx, "psv.checks.listed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		rows, err := tx.query("SELECT "+checkColumns+`, p.first_name, p.last_name FROM verification_checks c
			JOIN providers p ON p.id = c.provider_id AND p.org_id = c.org_id
			WHERE c.org_id = ? AND c.state = ? ORDER BY c.created_at, c.id LIMIT 500`, org, state)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var first, last string
			c, err := scanCheck(rows, &first, &last)
			if err != nil {
				return nil, err
			}
			c.ProviderName = first + " " + last
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return actorEvent(ctx, "psv.checks.listed", "verification_check", "", credtrack.OutcomeSuccess,
			map[string]string{"state": state, "results": strconv.Itoa(len(out))}), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SourceHealth summarizes the calls to source: the last success and
// failure (with its error) ever, and the calls, errors and latency since
// `since`. It reads no tenant data; any member who may run verifications
// or read providers may see it.
func (db *DB) SourceHealth(ctx context.Context, source string, since time.Time) (*credtrack.SourceHealth, error) {
	if _, err := credtrack.OrgIDFromContext(ctx); err != nil {
		return nil, err
	}
	h := &credtrack.SourceHealth{Source: source}
	err := db.view(ctx, func(tx *Tx) error {
		var okAt, failAt sql.NullInt64
		if err := tx.queryRow("SELECT max(at) FROM psv_source_calls WHERE source = ? AND ok = 1", source).Scan(&okAt); err != nil {
			return err
		}
		if err := tx.queryRow("SELECT max(at) FROM psv_source_calls WHERE source = ? AND ok = 0", source).Scan(&failAt); err != nil {
			return err
		}
		h.LastSuccess, h.LastFailure = fromTS(okAt), fromTS(failAt)
		if failAt.Valid {
			if err := tx.queryRow("SELECT error FROM psv_source_calls WHERE source = ? AND ok = 0 AND at = ? ORDER BY seq DESC LIMIT 1",
				source, failAt.Int64).Scan(&h.LastError); err != nil {
				return err
			}
		}
		var errs, sum, max sql.NullInt64
		if err := tx.queryRow(`SELECT count(*), sum(1 - ok), sum(latency_ms), max(latency_ms) FROM psv_source_calls
			WHERE source = ? AND at >= ?`, source, ts(since)).Scan(&h.Calls, &errs, &sum, &max); err != nil {
			return err
		}
		h.Errors = int(errs.Int64)
		if h.Calls > 0 {
			h.ErrorRate = float64(h.Errors) / float64(h.Calls)
			h.AvgLatency = time.Duration(sum.Int64/int64(h.Calls)) * time.Millisecond
		}
		h.MaxLatency = time.Duration(max.Int64) * time.Millisecond
		// Failures since the last success, in insertion order (several
		// calls may share a timestamp).
		var okSeq sql.NullInt64
		if err := tx.queryRow("SELECT max(seq) FROM psv_source_calls WHERE source = ? AND ok = 1", source).Scan(&okSeq); err != nil {
			return err
		}
		if err := tx.queryRow("SELECT count(*) FROM psv_source_calls WHERE source = ? AND ok = 0 AND seq > ?", source, okSeq.Int64).
			Scan(&h.ConsecutiveFailures); err != nil {
			return err
		}
		h.Failing = h.ConsecutiveFailures >= credtrack.FailingAfter
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// VerificationMaxAgeDays returns how many days a verification stays fresh
// in the actor's organization (default 120).
func (db *DB) VerificationMaxAgeDays(ctx context.Context) (int, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return 0, err
	}
	var days int
	err = db.view(ctx, func(tx *Tx) error {
		return tx.queryRow("SELECT verification_max_age_days FROM organizations WHERE id = ?", org).Scan(&days)
	})
	return days, err
}

// SetVerificationMaxAgeDays changes the freshness limit of the actor's
// organization (org.manage), 1–730 days. Audited as "org.settings_changed".
func (db *DB) SetVerificationMaxAgeDays(ctx context.Context, days int) error {
	org, err := orgScope(ctx, credtrack.PermOrgManage)
	if err != nil {
		return err
	}
	if days < 1 || days > 730 {
		return credtrack.Errorf(credtrack.EINVALID, "the verification freshness limit must be between 1 and 730 days")
	}
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec("UPDATE organizations SET verification_max_age_days = ? WHERE id = ?", days, org); err != nil {
			return err
		}
		return tx.audit("org.settings_changed", "organization", org, credtrack.OutcomeSuccess,
			map[string]string{"verification_max_age_days": strconv.Itoa(days)})
	})
}
