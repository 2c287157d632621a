package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"credtrack"
)

// errResetLink is the one answer for an unknown, used or expired link, so
// that the response does not tell which it was.
var errResetLink = credtrack.Errorf(credtrack.EINVALID, "this link is invalid, already used or expired; ask for a new one")

// userEvent records an event about a user's own account. The actor comes
// from ctx when it is that user (with its organization and role); when it
// is anonymous, as for someone following an emailed link, the event is
// attributed to the user so the account's history stays complete.
func (tx *Tx) userEvent(userID, action, targetType, targetID string, outcome credtrack.Outcome, details map[string]string) error {
	a := credtrack.ActorFromContext(tx.ctx)
	ev := &credtrack.AuditEvent{OrgID: a.OrgID, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
		Action: action, TargetType: targetType, TargetID: targetID, Outcome: outcome,
		IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID, Details: details}
	if a.Kind == credtrack.ActorAnonymous || a.Kind == "" {
		ev.ActorKind, ev.ActorID = credtrack.ActorUser, userID
	}
	return tx.appendEvent(ev)
}

// PeekUserToken returns the user of a one-time link token of the given
// purpose that is still unused and unexpired, without consuming it. It
// lets the caller validate a new password against the user's details
// before SetPasswordWithToken consumes the token atomically, so a rejected
// password does not burn the link. An unknown, used or expired token gives
// EINVALID with one message.
func (db *DB) PeekUserToken(ctx context.Context, secret, purpose string) (string, error) {
	var userID string
	err := db.view(ctx, func(tx *Tx) error {
		err := tx.queryRow("SELECT user_id FROM user_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
			hashToken(secret), purpose, ts(tx.now)).Scan(&userID)
		if err == sql.ErrNoRows {
			return errResetLink
		}
		return err
	})
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		return "", errResetLink
	}
	return userID, err
}

// CountRecentUserTokens counts the link tokens of a purpose issued to a
// user within the last window, used or not: it is the number of such
// emails sent, which the reset rate limit caps.
func (db *DB) CountRecentUserTokens(ctx context.Context, userID, purpose string, window time.Duration) (int, error) {
	var n int
	err := db.view(ctx, func(tx *Tx) error {
		return tx.queryRow("SELECT COUNT(*) FROM user_tokens WHERE user_id = ? AND purpose = ? AND created_at > ?",
			userID, purpose, ts(tx.now.Add(-window))).Scan(&n)
	})
	return n, err
}

// ListSessions returns a user's sessions, most recently used first, for
// the "active sessions" page.
func (db *DB) ListSessions(ctx context.Context, userID string) ([]*credtrack.Session, error) {
	var out []*credtrack.Session
	err := db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT id, user_id, org_id, created_at, last_seen_at, expires_at, mfa_at, ip, user_agent
			FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC, id`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s credtrack.Session
			var org sql.NullString
			var created, seen, expires, mfa sql.NullInt64
			if err := rows.Scan(&s.ID, &s.UserID, &org, &created, &seen, &expires, &mfa, &s.IP, &s.UserAgent); err != nil {
				return err
			}
			s.OrgID = org.String
			s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.MFAAt = fromTS(created), fromTS(seen), fromTS(expires), fromTS(mfa)
			out = append(out, &s)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeSession ends one of the user's own sessions. A session of another
// user, or one that no longer exists, gives ENOTFOUND: the same answer, so
// session IDs of other accounts cannot be probed. Audited as
// "session.revoked".
func (db *DB) RevokeSession(ctx context.Context, userID, sessionID string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM sessions WHERE id = ? AND user_id = ?", sessionID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such session")
		}
		return tx.userEvent(userID, "session.revoked", "session", sessionID, credtrack.OutcomeSuccess, nil)
	})
}

// RevokeOtherSessions ends every session of the user except keepSessionID
// and returns how many ended. Audited as "session.revoked_others" with the
// count.
func (db *DB) RevokeOtherSessions(ctx context.Context, userID, keepSessionID string) (int, error) {
	var n int64
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?", userID, keepSessionID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return tx.userEvent(userID, "session.revoked_others", "user", userID, credtrack.OutcomeSuccess,
			map[string]string{"count": strconv.FormatInt(n, 10)})
	})
	return int(n), err
}

// RotateSession gives the session of oldToken a new secret token and
// returns it; the old token stops working at once. The row (its ID,
// timeouts and organization) is kept, so the session list does not show a
// new device. Used after a password change, against session fixation.
// An unknown token gives EUNAUTHORIZED. Audited as "session.rotated".
func (db *DB) RotateSession(ctx context.Context, oldToken string) (string, error) {
	secret := newSecret("")
	err := db.update(ctx, func(tx *Tx) error {
		var id, userID string
		err := tx.queryRow("SELECT id, user_id FROM sessions WHERE token_hash = ?", hashToken(oldToken)).Scan(&id, &userID)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE sessions SET token_hash = ? WHERE id = ?", hashToken(secret), id); err != nil {
			return err
		}
		return tx.userEvent(userID, "session.rotated", "session", id, credtrack.OutcomeSuccess, nil)
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// UpdatePassword sets a user's new password hash and ends every other
// session of the user in one transaction, so no old session outlives the
// old password. keepSessionID is the session that made the change ("" ends
// them all). Audited as "auth.password.changed" with the number of
// sessions ended.
func (db *DB) UpdatePassword(ctx context.Context, userID, hash, keepSessionID string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("UPDATE users SET password_hash = ? WHERE id = ?", hash, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such user")
		}
		res, err = tx.exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?", userID, keepSessionID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		return tx.userEvent(userID, "auth.password.changed", "user", userID, credtrack.OutcomeSuccess,
			map[string]string{"sessions_ended": strconv.FormatInt(n, 10)})
	})
}
