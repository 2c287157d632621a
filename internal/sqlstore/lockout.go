package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"credtrack"
)

// Lockout policy (SECURITY.md §1.1, as Vault does it): LockoutThreshold
// failed sign-ins within LockoutWindow lock the account for
// LockoutDuration. Password and TOTP failures share the one counter.
const (
	LockoutThreshold = 5
	LockoutWindow    = 15 * time.Minute
	LockoutDuration  = 15 * time.Minute
)

// RecordLoginFailure counts one failed sign-in (wrong password, or later a
// wrong TOTP code) against a user. The window of LockoutWindow starts at
// the first failure; failures older than that no longer count, nor do
// those before a lock that has ended. The failure that reaches
// LockoutThreshold locks the account until now+LockoutDuration and
// records "auth.account.locked" in the same transaction.
//
// locked reports whether this failure locked the account (so the caller
// can notify the user exactly once); until is the end of the lock in
// force after this call, whether it just began or was already running,
// and zero when the account is not locked. A failure while a lock runs is
// not counted and does not extend the lock, so an attacker cannot keep a
// victim locked out for longer than one period per burst.
//
// The row is read and written in one transaction (FOR UPDATE on
// PostgreSQL, the single writer on SQLite), so concurrent failures on
// several nodes are all counted and only one of them locks.
func (db *DB) RecordLoginFailure(ctx context.Context, userID string) (locked bool, until time.Time, err error) {
	err = db.update(ctx, func(tx *Tx) error {
		q := "SELECT failed_logins, first_failed_at, locked_until FROM users WHERE id = ?"
		if tx.db.backend == Postgres {
			q += " FOR UPDATE"
		}
		var n int
		var first, lockedUntil sql.NullInt64
		if err := tx.queryRow(q, userID).Scan(&n, &first, &lockedUntil); err != nil {
			return err
		}
		now := tx.now
		if lu := fromTS(lockedUntil); now.Before(lu) {
			until = lu
			return nil
		}
		start := fromTS(first)
		if start.IsZero() || !now.Before(start.Add(LockoutWindow)) || lockedUntil.Valid {
			// A new window: the old one expired, or a lock ended (the
			// locked_until of an ended lock is cleared here).
			n, start = 0, now
		}
		n++
		if n < LockoutThreshold {
			_, err := tx.exec("UPDATE users SET failed_logins = ?, first_failed_at = ?, locked_until = NULL WHERE id = ?",
				n, ts(start), userID)
			return err
		}
		locked, until = true, now.Add(LockoutDuration)
		// The counter restarts with the lock, so the lock's end starts a
		// fresh window rather than locking again on the next failure.
		if _, err := tx.exec("UPDATE users SET failed_logins = 0, first_failed_at = NULL, locked_until = ? WHERE id = ?",
			ts(until), userID); err != nil {
			return err
		}
		// Like "auth.login.failed", this belongs to no organization: the
		// account is locked everywhere, and the actor is anonymous.
		a := credtrack.ActorFromContext(tx.ctx)
		return tx.appendEvent(&credtrack.AuditEvent{ActorKind: credtrack.ActorAnonymous, ActorID: userID,
			Action: "auth.account.locked", TargetType: "user", TargetID: userID, Outcome: credtrack.OutcomeFailure,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID,
			Details: map[string]string{"until": until.Format(time.RFC3339), "failures": strconv.Itoa(LockoutThreshold)}})
	})
	if err != nil {
		return false, time.Time{}, err
	}
	return locked, until, nil
}

// ClearLoginFailures resets a user's failure counter and ends any lock;
// auth calls it after a successful sign-in. It writes only when there is
// something to clear, so an ordinary sign-in costs no extra write.
func (db *DB) ClearLoginFailures(ctx context.Context, userID string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`UPDATE users SET failed_logins = 0, first_failed_at = NULL, locked_until = NULL
			WHERE id = ? AND (failed_logins <> 0 OR first_failed_at IS NOT NULL OR locked_until IS NOT NULL)`, userID)
		return err
	})
}

// LockState returns the end of the lock in force on a user's account, or
// the zero time when it is not locked (including a lock that has ended).
// ENOTFOUND for an unknown user.
func (db *DB) LockState(ctx context.Context, userID string) (time.Time, error) {
	var until time.Time
	err := db.view(ctx, func(tx *Tx) error {
		var lu sql.NullInt64
		if err := tx.queryRow("SELECT locked_until FROM users WHERE id = ?", userID).Scan(&lu); err != nil {
			return err
		}
		if t := fromTS(lu); tx.now.Before(t) {
			until = t
		}
		return nil
	})
	return until, err
}

// UnlockUser ends a lock (and clears the failure counter) on the account
// of a member of the actor's organization, for an administrator answering
// a user locked out by someone else's guesses (ASVS 6.1.1, "malicious
// lockout"). It needs member.manage; a user who is not a member of the
// actor's organization is ENOTFOUND, so admins cannot probe or unlock
// other organizations' accounts. Audited as "auth.account.unlocked" in
// the actor's organization.
func (db *DB) UnlockUser(ctx context.Context, userID string) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermMemberManage); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		var one int
		if err := tx.queryRow("SELECT 1 FROM memberships WHERE org_id = ? AND user_id = ?", org, userID).Scan(&one); err != nil {
			return err // sql.ErrNoRows becomes ENOTFOUND
		}
		var lu sql.NullInt64
		if err := tx.queryRow("SELECT locked_until FROM users WHERE id = ?", userID).Scan(&lu); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE users SET failed_logins = 0, first_failed_at = NULL, locked_until = NULL WHERE id = ?",
			userID); err != nil {
			return err
		}
		details := map[string]string{"was_locked": "false"}
		if t := fromTS(lu); tx.now.Before(t) {
			details = map[string]string{"was_locked": "true", "until": t.Format(time.RFC3339)}
		}
		return tx.audit("auth.account.unlocked", "user", userID, credtrack.OutcomeSuccess, details)
	})
}
