package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"credtrack"
	"credtrack/internal/seal"
	"credtrack/internal/totp"
)

// TOTP MFA, recovery codes and trusted devices (issue 3, SECURITY.md §1.3).
//
// The TOTP seed is a user's, not an organization's (a person may belong to
// several), so it is sealed with the organization left empty:
// seal.Field{OrgID: "", Table: "users", Column: "totp_secret_enc",
// RowID: userID}. The sealing key is then HKDF(fieldKey, "org-field-key/"),
// distinct from every organization's key because organization IDs are
// never empty, and the associated data binds the ciphertext to the user's
// row and column, so a seed copied to another user's row does not open.
//
// Recovery codes are stored as HMAC-SHA256 under a key that lives outside
// the database (see recoveryKey), as totp.HashRecoveryCode describes.
//
// The code checks read the seed and the last used step and write the new
// step in one transaction (FOR UPDATE on PostgreSQL, the single writer on
// SQLite), so two requests with the same code cannot both pass. A wrong or
// replayed code is audited in its own committed transaction and then
// counted towards the account's lockout through RecordLoginFailure, the
// counter password failures use.

// errCode is the one answer to a wrong, malformed or replayed code, so the
// answer does not tell a guess from a replay.
var errCode = credtrack.Errorf(credtrack.EINVALID, "That code is wrong or was already used. Wait for the next code and try again.")

// errMFALocked answers a code check on a locked account; the code is not
// even checked, so a lock cannot be used to test guesses.
var errMFALocked = credtrack.Errorf(credtrack.EUNAUTHORIZED, "Too many wrong codes or passwords: the account is locked for a while. Try again later.")

// totpField is where a user's TOTP seed is sealed (see the comment above).
func totpField(userID string) seal.Field {
	return seal.Field{OrgID: "", Table: "users", Column: "totp_secret_enc", RowID: userID}
}

// recoveryKey is the HMAC key of recovery codes: 32 bytes derived from the
// sealer's blind-index key (itself derived from the master key, never in
// the database) as two HMAC outputs over fixed labels, so it needs no
// extra configuration and is the same on every node.
func (db *DB) recoveryKey() []byte {
	k := db.sealer.Index("", "totp-recovery-key", "1")
	return append(k, db.sealer.Index("", "totp-recovery-key", "2")...)
}

// mfaEvent records an MFA event about a user, attributed like userEvent:
// to the actor in ctx, or to the user when the actor is anonymous.
func (tx *Tx) mfaEvent(userID string, ev credtrack.AuditEvent) error {
	a := credtrack.ActorFromContext(tx.ctx)
	ev.OrgID, ev.ActorKind, ev.ActorID, ev.ActorRole = a.OrgID, a.Kind, a.ID, a.Role
	ev.IP, ev.UserAgent, ev.RequestID = a.IP, a.UserAgent, a.RequestID
	if a.Kind == credtrack.ActorAnonymous || a.Kind == "" {
		ev.ActorKind, ev.ActorID = credtrack.ActorUser, userID
	}
	if ev.TargetType == "" {
		ev.TargetType, ev.TargetID = "user", userID
	}
	if ev.Outcome == "" {
		ev.Outcome = credtrack.OutcomeSuccess
	}
	return tx.appendEvent(&ev)
}

// totpRow is a user's TOTP state, read for update.
type totpRow struct {
	sealed      []byte
	enabled     time.Time
	lastStep    int64
	lockedUntil time.Time
}

func (tx *Tx) readTOTP(userID string) (*totpRow, error) {
	q := "SELECT totp_secret_enc, totp_enabled_at, totp_last_step, locked_until FROM users WHERE id = ?"
	if tx.db.backend == Postgres {
		q += " FOR UPDATE"
	}
	var r totpRow
	var enabled, locked sql.NullInt64
	if err := tx.queryRow(q, userID).Scan(&r.sealed, &enabled, &r.lastStep, &locked); err != nil {
		return nil, err
	}
	r.enabled, r.lockedUntil = fromTS(enabled), fromTS(locked)
	return &r, nil
}

// sessionUser returns the ID and user of the session of token.
func (tx *Tx) sessionUser(token string) (sessionID, userID string, err error) {
	err = tx.queryRow("SELECT id, user_id FROM sessions WHERE token_hash = ?", hashToken(token)).Scan(&sessionID, &userID)
	if err == sql.ErrNoRows {
		return "", "", credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
	}
	return sessionID, userID, err
}

// stepUp gives a session a new token and marks it as having passed MFA.
func (tx *Tx) stepUp(sessionID string) (string, error) {
	secret := newSecret("")
	_, err := tx.exec("UPDATE sessions SET token_hash = ?, mfa_at = ? WHERE id = ?", hashToken(secret), ts(tx.now), sessionID)
	return secret, err
}

// replaceRecoveryCodes deletes a user's recovery codes and stores
// totp.DefaultRecoveryCodes new ones, returning them in plain text to show
// once.
func (tx *Tx) replaceRecoveryCodes(userID string) ([]string, error) {
	plain, hashes, err := totp.NewRecoveryCodes(tx.db.recoveryKey(), totp.DefaultRecoveryCodes)
	if err != nil {
		return nil, err
	}
	if _, err := tx.exec("DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
		return nil, err
	}
	for _, h := range hashes {
		if _, err := tx.exec("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)", userID, h, ts(tx.now)); err != nil {
			return nil, err
		}
	}
	return plain, nil
}

// BeginTOTP stores secret as the user's pending TOTP seed, sealed,
// replacing any earlier pending one. It is not in force until ConfirmTOTP.
// A user who already has TOTP gets ECONFLICT. Audited as
// "mfa.enrolment.started".
func (db *DB) BeginTOTP(ctx context.Context, userID, secret string) error {
	sealed, err := db.sealer.Seal(totpField(userID), secret)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		r, err := tx.readTOTP(userID)
		if err != nil {
			return err
		}
		if !r.enabled.IsZero() {
			return credtrack.Errorf(credtrack.ECONFLICT, "TOTP is already set up for this account.")
		}
		if _, err := tx.exec("UPDATE users SET totp_secret_enc = ?, totp_last_step = 0 WHERE id = ?", sealed, userID); err != nil {
			return err
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.enrolment.started"})
	})
}

// PendingTOTP returns the pending (not yet confirmed) TOTP seed of a
// user, to show again or render as a QR code. ENOTFOUND when no
// enrolment is pending, ECONFLICT when TOTP is already in force (the seed
// is then never shown again).
func (db *DB) PendingTOTP(ctx context.Context, userID string) (string, error) {
	var secret string
	err := db.view(ctx, func(tx *Tx) error {
		var sealed []byte
		var enabled sql.NullInt64
		if err := tx.queryRow("SELECT totp_secret_enc, totp_enabled_at FROM users WHERE id = ?", userID).Scan(&sealed, &enabled); err != nil {
			return err
		}
		if enabled.Valid {
			return credtrack.Errorf(credtrack.ECONFLICT, "TOTP is already set up for this account.")
		}
		if len(sealed) == 0 {
			return credtrack.Errorf(credtrack.ENOTFOUND, "no TOTP enrolment is pending")
		}
		var err error
		secret, err = db.sealer.Open(totpField(userID), sealed)
		return err
	})
	return secret, err
}

// ConfirmTOTP finishes an enrolment: code must be valid for the pending
// seed of the session's user. In one transaction it puts TOTP in force
// (totp_enabled_at, the code's step as the last used one), replaces the
// recovery codes with ten new ones, ends the user's other sessions and
// gives this session a new token with MFA passed. It returns the token
// and the recovery codes in plain text, to show once. A wrong code gives
// EINVALID (audited as a failed "mfa.enabled"; it is not a sign-in
// failure: the person holds the seed). Audited as "mfa.enabled".
func (db *DB) ConfirmTOTP(ctx context.Context, sessionToken, code string) (string, []string, error) {
	var token string
	var codes []string
	var failed error
	err := db.update(ctx, func(tx *Tx) error {
		sessID, userID, err := tx.sessionUser(sessionToken)
		if err != nil {
			return err
		}
		r, err := tx.readTOTP(userID)
		if err != nil {
			return err
		}
		if !r.enabled.IsZero() {
			return credtrack.Errorf(credtrack.ECONFLICT, "TOTP is already set up for this account.")
		}
		if len(r.sealed) == 0 {
			return credtrack.Errorf(credtrack.ENOTFOUND, "no TOTP enrolment is pending; start again")
		}
		secret, err := db.sealer.Open(totpField(userID), r.sealed)
		if err != nil {
			return err
		}
		step, verr := totp.Validate(secret, code, tx.now, r.lastStep)
		if verr != nil {
			if errors.Is(verr, totp.ErrBadSecret) {
				return verr
			}
			failed = errCode
			return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.enabled", Outcome: credtrack.OutcomeFailure,
				Details: map[string]string{"reason": "wrong_code"}})
		}
		if _, err := tx.exec("UPDATE users SET totp_enabled_at = ?, totp_last_step = ? WHERE id = ?", ts(tx.now), step, userID); err != nil {
			return err
		}
		if codes, err = tx.replaceRecoveryCodes(userID); err != nil {
			return err
		}
		res, err := tx.exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?", userID, sessID)
		if err != nil {
			return err
		}
		ended, _ := res.RowsAffected()
		if token, err = tx.stepUp(sessID); err != nil {
			return err
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.enabled",
			Details: map[string]string{"recovery_codes": strconv.Itoa(len(codes)), "sessions_ended": strconv.FormatInt(ended, 10),
				"session_rotated": "true"}})
	})
	if err == nil && failed != nil {
		return "", nil, failed
	}
	return token, codes, err
}

// SetTOTP puts TOTP in force for a user with a known seed, without a
// confirming code, and issues no recovery codes. It is for the demo (whose
// printed logins come with their seeds) and for tests; no web or API route
// reaches it. Audited as "mfa.enabled" with via=operator.
func (db *DB) SetTOTP(ctx context.Context, userID, secret string) error {
	sealed, err := db.sealer.Seal(totpField(userID), secret)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("UPDATE users SET totp_secret_enc = ?, totp_enabled_at = ?, totp_last_step = 0 WHERE id = ?",
			sealed, ts(tx.now), userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such user")
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.enabled", Details: map[string]string{"via": "operator"}})
	})
}

// checkCode validates a TOTP code of an enrolled user inside tx and
// records the step on success. On failure it audits ("mfa.failed" or
// "auth.mfa.replayed") and returns the error to give the caller; the
// transaction still commits, carrying only the audit event.
func (tx *Tx) checkCode(userID, code, purpose string) (failed error, err error) {
	r, err := tx.readTOTP(userID)
	if err != nil {
		return nil, err
	}
	if r.enabled.IsZero() || len(r.sealed) == 0 {
		return nil, credtrack.Errorf(credtrack.ECONFLICT, "TOTP is not set up for this account.")
	}
	if tx.now.Before(r.lockedUntil) {
		return errMFALocked, tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.failed", Outcome: credtrack.OutcomeFailure,
			Details: map[string]string{"reason": "locked", "purpose": purpose}})
	}
	secret, err := tx.db.sealer.Open(totpField(userID), r.sealed)
	if err != nil {
		return nil, err
	}
	step, verr := totp.Validate(secret, code, tx.now, r.lastStep)
	switch {
	case errors.Is(verr, totp.ErrReplayed):
		// ASVS 2.8.5 (4.0): a reused code is logged as such.
		return errCode, tx.mfaEvent(userID, credtrack.AuditEvent{Action: "auth.mfa.replayed", Outcome: credtrack.OutcomeFailure,
			Details: map[string]string{"purpose": purpose}})
	case errors.Is(verr, totp.ErrInvalid):
		return errCode, tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.failed", Outcome: credtrack.OutcomeFailure,
			Details: map[string]string{"reason": "wrong_code", "purpose": purpose}})
	case verr != nil:
		return nil, verr
	}
	// The condition makes the step a compare-and-set even without a row
	// lock: of two requests with the same code, one updates the row.
	res, err := tx.exec("UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, userID, step)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errCode, tx.mfaEvent(userID, credtrack.AuditEvent{Action: "auth.mfa.replayed", Outcome: credtrack.OutcomeFailure,
			Details: map[string]string{"purpose": purpose}})
	}
	return nil, nil
}

// countFailure counts a failed code towards the account's lockout, after
// the failure's audit event has committed.
func (db *DB) countFailure(ctx context.Context, res *credtrack.MFAResult, failed error) error {
	if failed == errMFALocked {
		return failed
	}
	locked, until, err := db.RecordLoginFailure(ctx, res.UserID)
	if err != nil {
		db.log.Error("failed TOTP code not counted towards lockout", "err", err)
	}
	res.Locked, res.Until = locked, until
	return failed
}

// VerifyTOTP is the sign-in prompt: code must be a fresh TOTP code of the
// session's user. On success, in one transaction, the code's step becomes
// the last used one and the session gets a new token with MFA passed
// (Result.Token; the old token stops working, against session fixation).
// A wrong or replayed code gives EINVALID (one message for both), is
// audited ("mfa.failed", "auth.mfa.replayed") and counts towards the
// account's lockout, shared with wrong passwords; on a locked account the
// code is not checked. Audited as "mfa.verified".
func (db *DB) VerifyTOTP(ctx context.Context, sessionToken, code string) (credtrack.MFAResult, error) {
	var res credtrack.MFAResult
	var failed error
	err := db.update(ctx, func(tx *Tx) error {
		sessID, userID, err := tx.sessionUser(sessionToken)
		if err != nil {
			return err
		}
		res.UserID = userID
		if failed, err = tx.checkCode(userID, code, "sign_in"); err != nil || failed != nil {
			return err
		}
		if res.Token, err = tx.stepUp(sessID); err != nil {
			return err
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.verified", TargetType: "session", TargetID: sessID,
			Details: map[string]string{"method": "totp", "session_rotated": "true"}})
	})
	if err != nil {
		return credtrack.MFAResult{}, err
	}
	if failed != nil {
		return res, db.countFailure(ctx, &res, failed)
	}
	return res, nil
}

// CheckTOTP checks a fresh TOTP code of an enrolled user without touching
// any session, for re-authenticating a change (turning TOTP off, new
// recovery codes). Failures are audited and counted like VerifyTOTP's.
func (db *DB) CheckTOTP(ctx context.Context, userID, code string) (credtrack.MFAResult, error) {
	res := credtrack.MFAResult{UserID: userID}
	var failed error
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		failed, err = tx.checkCode(userID, code, "reauthenticate")
		return err
	})
	if err != nil {
		return credtrack.MFAResult{}, err
	}
	if failed != nil {
		return res, db.countFailure(ctx, &res, failed)
	}
	return res, nil
}

// UseRecoveryCode passes the sign-in prompt with a recovery code instead
// of a TOTP code. The code is consumed by one conditional UPDATE, so it
// works once even under concurrent use, and the session gets a new token
// with MFA passed. An unknown or used code gives EINVALID, is audited as
// a failed "mfa.recovery_code.used" and counts towards the lockout.
// Audited as "mfa.recovery_code.used" with the number of codes left.
func (db *DB) UseRecoveryCode(ctx context.Context, sessionToken, code string) (credtrack.MFAResult, error) {
	var res credtrack.MFAResult
	var failed error
	err := db.update(ctx, func(tx *Tx) error {
		sessID, userID, err := tx.sessionUser(sessionToken)
		if err != nil {
			return err
		}
		res.UserID = userID
		r, err := tx.readTOTP(userID)
		if err != nil {
			return err
		}
		if r.enabled.IsZero() {
			return credtrack.Errorf(credtrack.ECONFLICT, "TOTP is not set up for this account.")
		}
		if tx.now.Before(r.lockedUntil) {
			failed = errMFALocked
			return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.recovery_code.used", Outcome: credtrack.OutcomeFailure,
				Details: map[string]string{"reason": "locked"}})
		}
		up, err := tx.exec("UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
			ts(tx.now), userID, totp.HashRecoveryCode(db.recoveryKey(), code))
		if err != nil {
			return err
		}
		if n, _ := up.RowsAffected(); n != 1 {
			failed = credtrack.Errorf(credtrack.EINVALID, "That recovery code is wrong or was already used.")
			return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.recovery_code.used", Outcome: credtrack.OutcomeFailure,
				Details: map[string]string{"reason": "wrong_or_used"}})
		}
		var left int
		if err := tx.queryRow("SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&left); err != nil {
			return err
		}
		if res.Token, err = tx.stepUp(sessID); err != nil {
			return err
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.recovery_code.used", TargetType: "session", TargetID: sessID,
			Details: map[string]string{"codes_left": strconv.Itoa(left), "session_rotated": "true"}})
	})
	if err != nil {
		return credtrack.MFAResult{}, err
	}
	if failed != nil {
		return res, db.countFailure(ctx, &res, failed)
	}
	return res, nil
}

// mfaRequired reports whether any membership of the user requires TOTP:
// a role that always does (owner, admin, coordinator) or an organization
// that requires it of every member.
func (tx *Tx) mfaRequired(userID string) (bool, error) {
	rows, err := tx.query(`SELECT m.role, o.require_mfa FROM memberships m JOIN organizations o ON o.id = m.org_id
		WHERE m.user_id = ?`, userID)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	req := false
	for rows.Next() {
		var role string
		var orgReq int
		if err := rows.Scan(&role, &orgReq); err != nil {
			return false, err
		}
		req = req || credtrack.Role(role).MFARequired() || orgReq != 0
	}
	return req, rows.Err()
}

// MFAStatus returns what the account page shows about a user's TOTP.
func (db *DB) MFAStatus(ctx context.Context, userID string) (*credtrack.MFAStatus, error) {
	var st credtrack.MFAStatus
	err := db.view(ctx, func(tx *Tx) error {
		var enabled sql.NullInt64
		if err := tx.queryRow("SELECT totp_enabled_at FROM users WHERE id = ?", userID).Scan(&enabled); err != nil {
			return err
		}
		st.EnabledAt = fromTS(enabled)
		if err := tx.queryRow("SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&st.RecoveryCodesLeft); err != nil {
			return err
		}
		var err error
		st.Required, err = tx.mfaRequired(userID)
		return err
	})
	return &st, err
}

// DisableTOTP turns a user's TOTP off: the seed, the recovery codes and
// the trusted devices go, and every other session of the user ends
// (keepSessionID stays, without MFA passed). The caller has checked the
// password and a code. While a role or organization requires TOTP it is
// refused with EFORBIDDEN, unless reenrol is set: then the user is
// replacing the authenticator and the session is sent straight to
// enrolment. Audited as "mfa.disabled".
func (db *DB) DisableTOTP(ctx context.Context, userID, keepSessionID string, reenrol bool) error {
	return db.update(ctx, func(tx *Tx) error {
		req, err := tx.mfaRequired(userID)
		if err != nil {
			return err
		}
		if req && !reenrol {
			return credtrack.Errorf(credtrack.EFORBIDDEN, "Your role requires TOTP, so it cannot be turned off. You can replace your authenticator instead.")
		}
		if _, err := tx.exec("UPDATE users SET totp_secret_enc = NULL, totp_enabled_at = NULL, totp_last_step = 0 WHERE id = ?", userID); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
			return err
		}
		devs, err := tx.exec("DELETE FROM trusted_devices WHERE user_id = ?", userID)
		if err != nil {
			return err
		}
		sess, err := tx.exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?", userID, keepSessionID)
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE sessions SET mfa_at = NULL WHERE id = ?", keepSessionID); err != nil {
			return err
		}
		nd, _ := devs.RowsAffected()
		ns, _ := sess.RowsAffected()
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.disabled",
			Details: map[string]string{"reenrol": strconv.FormatBool(reenrol), "devices_ended": strconv.FormatInt(nd, 10),
				"sessions_ended": strconv.FormatInt(ns, 10)}})
	})
}

// RegenerateRecoveryCodes replaces a user's recovery codes with ten new
// ones and returns them to show once; the old ones stop working. The
// caller has checked a code. Audited as "mfa.recovery_codes.regenerated".
func (db *DB) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	var codes []string
	err := db.update(ctx, func(tx *Tx) error {
		r, err := tx.readTOTP(userID)
		if err != nil {
			return err
		}
		if r.enabled.IsZero() {
			return credtrack.Errorf(credtrack.ECONFLICT, "TOTP is not set up for this account.")
		}
		if codes, err = tx.replaceRecoveryCodes(userID); err != nil {
			return err
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.recovery_codes.regenerated",
			Details: map[string]string{"count": strconv.Itoa(len(codes))}})
	})
	return codes, err
}

// CreateTrustedDevice records a browser the user trusts for ttl and
// returns the token for its cookie (only the hash is stored). Audited as
// "mfa.trusted_device.created".
func (db *DB) CreateTrustedDevice(ctx context.Context, userID, name, ip string, ttl time.Duration) (string, error) {
	secret := newSecret("")
	err := db.update(ctx, func(tx *Tx) error {
		id := credtrack.NewID()
		if _, err := tx.exec(`INSERT INTO trusted_devices (id, user_id, token_hash, name, ip, created_at, last_seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, userID, hashToken(secret), name, ip, ts(tx.now), ts(tx.now), ts(tx.now.Add(ttl))); err != nil {
			return err
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.trusted_device.created", TargetType: "trusted_device", TargetID: id,
			Details: map[string]string{"days": strconv.Itoa(int(ttl / (24 * time.Hour)))}})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// UseTrustedDevice reports whether token is a trusted device of userID
// that has not expired and, when maxAge > 0, is not older than maxAge (the
// cap for owners and admins, applied at use so that a role gained later
// shortens a device trusted earlier). A valid device's last-seen time and
// address are updated; audited as "mfa.trusted_device.used". A token of
// another user never matches.
func (db *DB) UseTrustedDevice(ctx context.Context, userID, token, ip string, maxAge time.Duration) (bool, error) {
	if token == "" {
		return false, nil
	}
	ok := false
	err := db.update(ctx, func(tx *Tx) error {
		var id string
		var created, expires sql.NullInt64
		err := tx.queryRow("SELECT id, created_at, expires_at FROM trusted_devices WHERE token_hash = ? AND user_id = ?",
			hashToken(token), userID).Scan(&id, &created, &expires)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		end := fromTS(expires)
		if maxAge > 0 {
			if c := fromTS(created).Add(maxAge); c.Before(end) {
				end = c
			}
		}
		if !tx.now.Before(end) {
			return nil
		}
		if _, err := tx.exec("UPDATE trusted_devices SET last_seen_at = ?, ip = ? WHERE id = ?", ts(tx.now), ip, id); err != nil {
			return err
		}
		ok = true
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.trusted_device.used", TargetType: "trusted_device", TargetID: id})
	})
	return ok, err
}

// ListTrustedDevices returns a user's unexpired trusted devices, most
// recently seen first.
func (db *DB) ListTrustedDevices(ctx context.Context, userID string) ([]*credtrack.TrustedDevice, error) {
	var out []*credtrack.TrustedDevice
	err := db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT id, user_id, name, ip, created_at, last_seen_at, expires_at FROM trusted_devices
			WHERE user_id = ? AND expires_at > ? ORDER BY last_seen_at DESC, id`, userID, ts(tx.now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d credtrack.TrustedDevice
			var c, s, e sql.NullInt64
			if err := rows.Scan(&d.ID, &d.UserID, &d.Name, &d.IP, &c, &s, &e); err != nil {
				return err
			}
			d.CreatedAt, d.LastSeenAt, d.ExpiresAt = fromTS(c), fromTS(s), fromTS(e)
			out = append(out, &d)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeTrustedDevice ends one of the user's trusted devices; another
// user's device, or one that no longer exists, gives ENOTFOUND. Audited
// as "mfa.trusted_device.revoked".
func (db *DB) RevokeTrustedDevice(ctx context.Context, userID, id string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM trusted_devices WHERE id = ? AND user_id = ?", id, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such device")
		}
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.trusted_device.revoked", TargetType: "trusted_device", TargetID: id})
	})
}

// RevokeTrustedDevices ends every trusted device of a user and returns
// how many ended; reason ("user", "password_reset") goes in the audit
// event "mfa.trusted_device.revoked".
func (db *DB) RevokeTrustedDevices(ctx context.Context, userID, reason string) (int, error) {
	var n int64
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM trusted_devices WHERE user_id = ?", userID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return tx.mfaEvent(userID, credtrack.AuditEvent{Action: "mfa.trusted_device.revoked",
			Details: map[string]string{"count": strconv.FormatInt(n, 10), "reason": reason}})
	})
	return int(n), err
}
