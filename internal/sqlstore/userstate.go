package sqlstore

import (
	"context"
	"database/sql"
	"strconv"

	"credtrack"
)

// DisableUser turns an account off: it can no longer sign in, and every
// session and trusted device it has ends in the same transaction, so a
// disabled person is out everywhere at once (ASVS 7.4.2). The account and
// its history stay. Audited as "user.disabled" in every organization the
// user belongs to, with the number of sessions ended. Disabling an already
// disabled account changes nothing and records nothing.
func (db *DB) DisableUser(ctx context.Context, userID string) error {
	return db.update(ctx, func(tx *Tx) error {
		var disabled sql.NullInt64
		err := tx.queryRow("SELECT disabled_at FROM users WHERE id = ?", userID).Scan(&disabled)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such user")
		}
		if err != nil || disabled.Valid {
			return err
		}
		if _, err := tx.exec("UPDATE users SET disabled_at = ? WHERE id = ?", ts(tx.now), userID); err != nil {
			return err
		}
		res, err := tx.exec("DELETE FROM sessions WHERE user_id = ?", userID)
		if err != nil {
			return err
		}
		sessions, _ := res.RowsAffected()
		if _, err := tx.exec("DELETE FROM trusted_devices WHERE user_id = ?", userID); err != nil {
			return err
		}
		return tx.eventInUserOrgs(userID, "user.disabled", map[string]string{"sessions_ended": strconv.FormatInt(sessions, 10)})
	})
}

// EnableUser lets a disabled account sign in again (with its password and,
// where required, TOTP: nothing else is restored). Audited as
// "user.enabled" in every organization the user belongs to.
func (db *DB) EnableUser(ctx context.Context, userID string) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("UPDATE users SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL", userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.queryRow("SELECT 1 FROM users WHERE id = ?", userID).Scan(&one); err == sql.ErrNoRows {
				return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such user")
			}
			return nil
		}
		return tx.eventInUserOrgs(userID, "user.enabled", nil)
	})
}

// eventInUserOrgs records one event about a user in the chain of every
// organization the user is a member of, so each organization's auditors
// see it. The actor comes from ctx (an operator's CLI runs as a system
// actor).
func (tx *Tx) eventInUserOrgs(userID, action string, details map[string]string) error {
	rows, err := tx.query("SELECT org_id, role FROM memberships WHERE user_id = ? ORDER BY org_id", userID)
	if err != nil {
		return err
	}
	type membership struct{ org, role string }
	var ms []membership
	for rows.Next() {
		var m membership
		if err := rows.Scan(&m.org, &m.role); err != nil {
			rows.Close()
			return err
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	a := credtrack.ActorFromContext(tx.ctx)
	for _, m := range ms {
		d := map[string]string{"role": m.role}
		for k, v := range details {
			d[k] = v
		}
		if err := tx.appendEvent(&credtrack.AuditEvent{OrgID: m.org, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
			Action: action, TargetType: "user", TargetID: userID, Outcome: credtrack.OutcomeSuccess,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID, Details: d}); err != nil {
			return err
		}
	}
	return nil
}
