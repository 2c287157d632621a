package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"credtrack"
)

// CreateSession stores a session for a new secret token (only its hash
// is kept) and returns the token. Audited as "auth.login.succeeded" in the
// session's organization, in the same transaction.
func (db *DB) CreateSession(ctx context.Context, s *credtrack.Session, lifetime time.Duration) (string, error) {
	secret := newSecret("")
	err := db.update(ctx, func(tx *Tx) error {
		s.ID, s.CreatedAt, s.LastSeenAt, s.ExpiresAt = credtrack.NewID(), tx.now, tx.now, tx.now.Add(lifetime)
		var org any
		if s.OrgID != "" {
			org = s.OrgID
		}
		if _, err := tx.exec(`INSERT INTO sessions (id, token_hash, user_id, org_id, created_at, last_seen_at, expires_at, mfa_at, ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, hashToken(secret), s.UserID, org, ts(s.CreatedAt), ts(s.LastSeenAt),
			ts(s.ExpiresAt), ts(s.MFAAt), s.IP, s.UserAgent); err != nil {
			return err
		}
		if err := tx.limitSessions(s.UserID, s.OrgID); err != nil {
			return err
		}
		var role string
		if s.OrgID != "" {
			err := tx.queryRow("SELECT role FROM memberships WHERE org_id = ? AND user_id = ?", s.OrgID, s.UserID).Scan(&role)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
		}
		a := credtrack.ActorFromContext(ctx)
		return tx.appendEvent(&credtrack.AuditEvent{OrgID: s.OrgID, ActorKind: credtrack.ActorUser, ActorID: s.UserID,
			ActorRole: credtrack.Role(role), Action: "auth.login.succeeded", TargetType: "session", TargetID: s.ID, Outcome: credtrack.OutcomeSuccess,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// limitSessions ends the user's least recently used sessions beyond
// credtrack.MaxSessionsPerUser (the new one, just seen, is always kept).
// Audited as "session.limit_ended" with the count, in the organization
// the new session acts in.
func (tx *Tx) limitSessions(userID, orgID string) error {
	res, err := tx.exec(`DELETE FROM sessions WHERE user_id = ? AND id NOT IN (
		SELECT id FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC, created_at DESC, id DESC LIMIT ?)`,
		userID, userID, credtrack.MaxSessionsPerUser)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		a := credtrack.ActorFromContext(tx.ctx)
		return tx.appendEvent(&credtrack.AuditEvent{OrgID: orgID, ActorKind: credtrack.ActorUser, ActorID: userID,
			Action: "session.limit_ended", TargetType: "user", TargetID: userID, Outcome: credtrack.OutcomeSuccess,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID,
			Details: map[string]string{"sessions_ended": strconv.FormatInt(n, 10), "limit": strconv.Itoa(credtrack.MaxSessionsPerUser)}})
	}
	return nil
}

// FindSessionByToken returns the session whose token hashes to the given
// secret's hash, ENOTFOUND if none.
func (db *DB) FindSessionByToken(ctx context.Context, secret string) (*credtrack.Session, error) {
	var s credtrack.Session
	var org sql.NullString
	var created, seen, expires, mfa sql.NullInt64
	err := db.view(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT id, user_id, org_id, created_at, last_seen_at, expires_at, mfa_at, ip, user_agent
			FROM sessions WHERE token_hash = ?`, hashToken(secret)).Scan(&s.ID, &s.UserID, &org, &created, &seen, &expires, &mfa, &s.IP, &s.UserAgent)
	})
	if err != nil {
		return nil, err
	}
	s.OrgID = org.String
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.MFAAt = fromTS(created), fromTS(seen), fromTS(expires), fromTS(mfa)
	return &s, nil
}

// TouchSession records activity on a session (for the idle timeout).
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE sessions SET last_seen_at = ? WHERE id = ?", ts(at), id)
		return err
	})
}

// DeleteSession ends a session server-side. action names the audit event
// ("auth.logout", "session.expired", "session.revoked").
func (db *DB) DeleteSession(ctx context.Context, s *credtrack.Session, action string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec("DELETE FROM sessions WHERE id = ?", s.ID); err != nil {
			return err
		}
		a := credtrack.ActorFromContext(ctx)
		return tx.appendEvent(&credtrack.AuditEvent{OrgID: s.OrgID, ActorKind: credtrack.ActorUser, ActorID: s.UserID,
			Action: action, TargetType: "session", TargetID: s.ID, Outcome: credtrack.OutcomeSuccess,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID})
	})
}

// SetPasswordWithToken consumes a one-time link token of the given purpose
// and sets the user's password hash, atomically: the token is marked used
// by a single conditional UPDATE, so it works once even under concurrent
// use. All of the user's sessions end. Audited as "auth.password.set".
// An unknown, used or expired token gives EINVALID with one message.
func (db *DB) SetPasswordWithToken(ctx context.Context, secret, purpose, hash string) error {
	return db.update(ctx, func(tx *Tx) error {
		var userID string
		err := tx.queryRow("SELECT user_id FROM user_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
			hashToken(secret), purpose, ts(tx.now)).Scan(&userID)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.EINVALID, "this link is invalid, already used or expired; ask for a new one")
		}
		if err != nil {
			return err
		}
		res, err := tx.exec("UPDATE user_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", ts(tx.now), hashToken(secret))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return credtrack.Errorf(credtrack.EINVALID, "this link is invalid, already used or expired; ask for a new one")
		}
		if _, err := tx.exec("UPDATE users SET password_hash = ?, email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ?", hash, ts(tx.now), userID); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM sessions WHERE user_id = ?", userID); err != nil {
			return err
		}
		a := credtrack.ActorFromContext(ctx)
		return tx.appendEvent(&credtrack.AuditEvent{ActorKind: credtrack.ActorUser, ActorID: userID, Action: "auth.password.set",
			TargetType: "user", TargetID: userID, Outcome: credtrack.OutcomeSuccess, IP: a.IP, UserAgent: a.UserAgent,
			RequestID: a.RequestID, Details: map[string]string{"via": purpose}})
	})
}

// UpdatePasswordHash replaces a user's hash (a rehash after login with
// upgraded parameters; no sessions end).
func (db *DB) UpdatePasswordHash(ctx context.Context, userID, hash string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE users SET password_hash = ? WHERE id = ?", hash, userID)
		return err
	})
}
