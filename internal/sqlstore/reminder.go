package sqlstore

import (
	"context"
	"strconv"

	"credtrack"
)

// Expiry reminders (internal/reminders). The pass lists the organizations
// outside any of them, then works in each as its system actor.

// ReminderOrgs lists every organization with its expiring window, for the
// reminder pass. It reads no tenant records.
func (db *DB) ReminderOrgs(ctx context.Context) ([]credtrack.ReminderOrg, error) {
	var out []credtrack.ReminderOrg
	err := db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT id, name, expiring_window_days FROM organizations ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o credtrack.ReminderOrg
			if err := rows.Scan(&o.ID, &o.Name, &o.WindowDays); err != nil {
				return err
			}
			out = append(out, o)
		}
		return rows.Err()
	})
	return out, err
}

// ExpiringCredentials lists the credentials of the organization's active
// providers that expire between from and to (inclusive), with the linked
// account of the provider and the thresholds already reminded of for each
// credential's current expiry date (provider.read). The linked account
// counts only while it is enabled and still a member of the organization.
// No number is read.
func (db *DB) ExpiringCredentials(ctx context.Context, from, to credtrack.Date) ([]*credtrack.ExpiringCredential, error) {
	org, err := orgScope(ctx, credtrack.PermProviderRead)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.ExpiringCredential
	err = db.view(ctx, func(tx *Tx) error {
		out = out[:0]
		byID := map[string]*credtrack.ExpiringCredential{}
		rows, err := tx.query(`SELECT c.id, c.provider_id, p.first_name, p.last_name, c.type, c.jurisdiction, c.expires_on,
				COALESCE(u.email, ''), COALESCE(u.name, '')
			FROM credentials c
			JOIN providers p ON p.id = c.provider_id AND p.org_id = c.org_id
			LEFT JOIN users u ON u.id = p.user_id AND u.disabled_at IS NULL
				AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = c.org_id AND m.user_id = u.id)
			WHERE c.org_id = ? AND p.active = ? AND c.expires_on <> '' AND c.expires_on >= ? AND c.expires_on <= ?
			ORDER BY c.expires_on, c.id`, org, true, from.String(), to.String())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e credtrack.ExpiringCredential
			var first, last, typ, exp string
			if err := rows.Scan(&e.CredentialID, &e.ProviderID, &first, &last, &typ, &e.Jurisdiction, &exp,
				&e.ProviderEmail, &e.ProviderUserName); err != nil {
				return err
			}
			e.ProviderName, e.Type, e.ExpiresOn = first+" "+last, credtrack.CredentialType(typ), parseDate(exp)
			out = append(out, &e)
			byID[e.CredentialID] = &e
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		sent, err := tx.query(`SELECT credential_id, expires_on, threshold FROM expiry_reminders
			WHERE org_id = ? AND expires_on >= ? AND expires_on <= ?`, org, from.String(), to.String())
		if err != nil {
			return err
		}
		defer sent.Close()
		for sent.Next() {
			var id, exp string
			var th int
			if err := sent.Scan(&id, &exp, &th); err != nil {
				return err
			}
			if e := byID[id]; e != nil && e.ExpiresOn.String() == exp {
				e.Sent = append(e.Sent, th)
			}
		}
		return sent.Err()
	})
	return out, err
}

// RecordReminder claims reminder r in the organization: it reports true
// when r had not been sent before, and records it with its audit event
// ("reminder.sent") in one transaction; false when it had (another process
// or an earlier run sent it), changing nothing. The caller sends only
// after a true, so a reminder goes out at most once.
func (db *DB) RecordReminder(ctx context.Context, r *credtrack.ExpiryReminder) (bool, error) {
	org, err := orgScope(ctx, credtrack.PermProviderRead)
	if err != nil {
		return false, err
	}
	if r.CredentialID == "" || r.ExpiresOn.IsZero() || r.Threshold < 0 {
		return false, credtrack.Errorf(credtrack.EINVALID, "a reminder needs a credential, its expiry date and a threshold")
	}
	added := false
	err = db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`INSERT INTO expiry_reminders (org_id, credential_id, expires_on, threshold, sent_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, credential_id, expires_on, threshold) DO NOTHING`,
			org, r.CredentialID, r.ExpiresOn.String(), r.Threshold, ts(tx.now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		added = true
		return tx.audit("reminder.sent", "credential", r.CredentialID, credtrack.OutcomeSuccess, map[string]string{
			"provider_id": r.ProviderID, "expires_on": r.ExpiresOn.String(),
			"threshold_days": strconv.Itoa(r.Threshold), "days_left": strconv.Itoa(r.DaysLeft)})
	})
	return added, err
}
