package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"credtrack"
)

// Organization administration: members and their roles, invitations,
// organization settings, API tokens and switching the organization a
// session acts in. Every method is scoped to the organization of the actor
// in ctx and checks its permission before touching the database; another
// organization's member, invitation or token IDs give ENOTFOUND, exactly as
// IDs that do not exist, and change nothing.

// orgScope returns the actor's organization after checking permission p.
func orgScope(ctx context.Context, p credtrack.Permission) (string, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return "", err
	}
	if err := credtrack.Authorize(ctx, p); err != nil {
		return "", err
	}
	return org, nil
}

// errNoMember is the one answer for a user who is not a member of the
// actor's organization, whether or not the account exists elsewhere.
var errNoMember = credtrack.Errorf(credtrack.ENOTFOUND, "there is no such member in this organization")

// ListMembers returns the members of the actor's organization with their
// role, whether they use TOTP and whether their account is locked, ordered
// by email (member.read).
func (db *DB) ListMembers(ctx context.Context) ([]*credtrack.Member, error) {
	org, err := orgScope(ctx, credtrack.PermMemberRead)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.Member
	err = db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT u.id, u.email, u.name, m.role, u.totp_enabled_at, u.locked_until, m.created_at
			FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? ORDER BY u.email`, org)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m credtrack.Member
			var role string
			var totp, locked, created sql.NullInt64
			if err := rows.Scan(&m.UserID, &m.Email, &m.Name, &role, &totp, &locked, &created); err != nil {
				return err
			}
			m.Role, m.MFAEnrolled, m.CreatedAt = credtrack.Role(role), totp.Valid, fromTS(created)
			if lu := fromTS(locked); tx.now.Before(lu) {
				m.LockedUntil = lu
			}
			out = append(out, &m)
		}
		return rows.Err()
	})
	return out, err
}

// lockOwners locks the owner memberships of org for the rest of the
// transaction and returns how many there are. On PostgreSQL, FOR UPDATE
// makes two concurrent demotions or removals of the last two owners queue
// behind each other; the second re-reads the rows after the first commits
// and sees one owner fewer. On SQLite the single writer connection already
// serializes write transactions.
func (tx *Tx) lockOwners(org string) (int, error) {
	q := "SELECT user_id FROM memberships WHERE org_id = ? AND role = 'owner'"
	if tx.db.backend == Postgres {
		q += " FOR UPDATE"
	}
	rows, err := tx.query(q, org)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

var errLastOwner = credtrack.Errorf(credtrack.ECONFLICT,
	"this is the organization's only owner: make another member an owner first, so the organization keeps one")

// ownerOnly refuses an actor who is not an owner when the change involves
// the owner role (granting it, or changing or removing an owner): admins
// manage every role below owner, and only owners manage owners.
func ownerOnly(ctx context.Context, roles ...credtrack.Role) error {
	a := credtrack.ActorFromContext(ctx)
	if a.Kind == credtrack.ActorSystem || a.Role == credtrack.RoleOwner {
		return nil
	}
	for _, r := range roles {
		if r == credtrack.RoleOwner {
			return credtrack.Errorf(credtrack.EFORBIDDEN, "only an owner may grant, change or remove the owner role")
		}
	}
	return nil
}

// memberRole returns a member's role in org, errNoMember when the user is
// not one. On PostgreSQL the row is locked for the transaction.
func (tx *Tx) memberRole(org, userID string) (credtrack.Role, error) {
	q := "SELECT role FROM memberships WHERE org_id = ? AND user_id = ?"
	if tx.db.backend == Postgres {
		q += " FOR UPDATE"
	}
	var role string
	err := tx.queryRow(q, org, userID).Scan(&role)
	if err == sql.ErrNoRows {
		return "", errNoMember
	}
	return credtrack.Role(role), err
}

// endOrgSessions deletes the user's sessions acting in org, so the next
// request of that person signs in afresh with a new token and the new role
// (issue 3: "a new token on any role change").
func (tx *Tx) endOrgSessions(org, userID string) (int64, error) {
	res, err := tx.exec("DELETE FROM sessions WHERE user_id = ? AND org_id = ?", userID, org)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ChangeMemberRole gives a member of the actor's organization a new role
// (member.manage). Only owners grant or take away the owner role; the last
// owner cannot be demoted (ECONFLICT). The member's sessions in this
// organization end. Audited as "member.role_changed".
func (db *DB) ChangeMemberRole(ctx context.Context, userID string, role credtrack.Role) error {
	org, err := orgScope(ctx, credtrack.PermMemberManage)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		owners, err := tx.lockOwners(org)
		if err != nil {
			return err
		}
		// The member is looked up first, so that another organization's
		// user ID is ENOTFOUND whatever the rest of the request says.
		old, err := tx.memberRole(org, userID)
		if err != nil {
			return err
		}
		if !role.Valid() {
			return credtrack.Errorf(credtrack.EINVALID, "unknown role %q: use one of owner, admin, coordinator, provider, auditor", role)
		}
		if err := ownerOnly(ctx, old, role); err != nil {
			return err
		}
		if old == role {
			return nil
		}
		if old == credtrack.RoleOwner && owners <= 1 {
			return errLastOwner
		}
		if _, err := tx.exec("UPDATE memberships SET role = ? WHERE org_id = ? AND user_id = ?", string(role), org, userID); err != nil {
			return err
		}
		n, err := tx.endOrgSessions(org, userID)
		if err != nil {
			return err
		}
		return tx.audit("member.role_changed", "user", userID, credtrack.OutcomeSuccess,
			map[string]string{"from": string(old), "to": string(role), "sessions_ended": strconv.FormatInt(n, 10)})
	})
}

// RemoveMember takes a member out of the actor's organization
// (member.manage). The account itself stays (it may belong to other
// organizations); its sessions in this organization end. Only owners
// remove owners, and the last owner cannot be removed (ECONFLICT).
// Audited as "member.removed".
func (db *DB) RemoveMember(ctx context.Context, userID string) error {
	org, err := orgScope(ctx, credtrack.PermMemberManage)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		owners, err := tx.lockOwners(org)
		if err != nil {
			return err
		}
		old, err := tx.memberRole(org, userID)
		if err != nil {
			return err
		}
		if err := ownerOnly(ctx, old); err != nil {
			return err
		}
		if old == credtrack.RoleOwner && owners <= 1 {
			return errLastOwner
		}
		if _, err := tx.exec("DELETE FROM memberships WHERE org_id = ? AND user_id = ?", org, userID); err != nil {
			return err
		}
		n, err := tx.endOrgSessions(org, userID)
		if err != nil {
			return err
		}
		return tx.audit("member.removed", "user", userID, credtrack.OutcomeSuccess,
			map[string]string{"role": string(old), "sessions_ended": strconv.FormatInt(n, 10)})
	})
}

// CreateInvitation stores an invitation to the actor's organization for an
// address and a role (member.manage) and returns it with its secret token,
// which is not stored (only its SHA-256 is) and goes into the emailed link.
// Only owners invite owners. A pending invitation to the same address is
// revoked in the same transaction, so only the newest link works. An
// address that is already a member gives ECONFLICT. Audited as
// "invitation.created" (and "invitation.revoked" for a replaced one); the
// address is not put in the audit details.
func (db *DB) CreateInvitation(ctx context.Context, email string, role credtrack.Role) (*credtrack.Invitation, string, error) {
	org, err := orgScope(ctx, credtrack.PermMemberManage)
	if err != nil {
		return nil, "", err
	}
	e, err := credtrack.NormalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	if !role.Valid() {
		return nil, "", credtrack.Errorf(credtrack.EINVALID, "unknown role %q: use one of owner, admin, coordinator, provider, auditor", role)
	}
	if err := ownerOnly(ctx, role); err != nil {
		return nil, "", err
	}
	secret := newSecret("")
	inv := &credtrack.Invitation{OrgID: org, Email: e, Role: role}
	err = db.update(ctx, func(tx *Tx) error {
		var one int
		err := tx.queryRow("SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? AND u.email = ?", org, e).Scan(&one)
		if err == nil {
			return credtrack.Errorf(credtrack.ECONFLICT, "this address already belongs to a member of the organization")
		}
		if err != sql.ErrNoRows {
			return err
		}
		rows, err := tx.query(`SELECT id FROM invitations WHERE org_id = ? AND email = ? AND accepted_at IS NULL
			AND revoked_at IS NULL AND expires_at > ?`, org, e, ts(tx.now))
		if err != nil {
			return err
		}
		var replaced []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			replaced = append(replaced, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range replaced {
			if _, err := tx.exec("UPDATE invitations SET revoked_at = ? WHERE id = ?", ts(tx.now), id); err != nil {
				return err
			}
			if err := tx.audit("invitation.revoked", "invitation", id, credtrack.OutcomeSuccess,
				map[string]string{"reason": "replaced"}); err != nil {
				return err
			}
		}
		a := credtrack.ActorFromContext(ctx)
		inv.ID, inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt = credtrack.NewID(), a.ID, tx.now, tx.now.Add(credtrack.InvitationTTL)
		if _, err := tx.exec(`INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, inv.ID, org, e, string(role), hashToken(secret), inv.InvitedBy,
			ts(inv.CreatedAt), ts(inv.ExpiresAt)); err != nil {
			return err
		}
		return tx.audit("invitation.created", "invitation", inv.ID, credtrack.OutcomeSuccess,
			map[string]string{"role": string(role)})
	})
	if err != nil {
		return nil, "", err
	}
	return inv, secret, nil
}

// ListInvitations returns the pending invitations of the actor's
// organization (not accepted, revoked or expired), newest first
// (member.read).
func (db *DB) ListInvitations(ctx context.Context) ([]*credtrack.Invitation, error) {
	org, err := orgScope(ctx, credtrack.PermMemberRead)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.Invitation
	err = db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT id, org_id, email, role, invited_by, created_at, expires_at FROM invitations
			WHERE org_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?
			ORDER BY created_at DESC, id`, org, ts(tx.now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var inv credtrack.Invitation
			var role string
			var created, expires sql.NullInt64
			if err := rows.Scan(&inv.ID, &inv.OrgID, &inv.Email, &role, &inv.InvitedBy, &created, &expires); err != nil {
				return err
			}
			inv.Role, inv.CreatedAt, inv.ExpiresAt = credtrack.Role(role), fromTS(created), fromTS(expires)
			out = append(out, &inv)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeInvitation makes a pending invitation of the actor's organization
// unusable (member.manage). An invitation of another organization, or one
// that was already accepted, revoked or has expired, gives ENOTFOUND.
// Audited as "invitation.revoked".
func (db *DB) RevokeInvitation(ctx context.Context, id string) error {
	org, err := orgScope(ctx, credtrack.PermMemberManage)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		var role string
		err := tx.queryRow(`SELECT role FROM invitations WHERE id = ? AND org_id = ? AND accepted_at IS NULL
			AND revoked_at IS NULL AND expires_at > ?`, id, org, ts(tx.now)).Scan(&role)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such pending invitation")
		}
		if err != nil {
			return err
		}
		if err := ownerOnly(ctx, credtrack.Role(role)); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE invitations SET revoked_at = ? WHERE id = ? AND org_id = ?", ts(tx.now), id, org); err != nil {
			return err
		}
		return tx.audit("invitation.revoked", "invitation", id, credtrack.OutcomeSuccess, nil)
	})
}

// GetOrgSettings returns the settings of the actor's organization
// (org.manage: the settings page is for those who may change them).
func (db *DB) GetOrgSettings(ctx context.Context) (*credtrack.OrgSettings, error) {
	org, err := orgScope(ctx, credtrack.PermOrgManage)
	if err != nil {
		return nil, err
	}
	var s credtrack.OrgSettings
	err = db.view(ctx, func(tx *Tx) error {
		var req int
		var set string
		if err := tx.queryRow("SELECT name, require_mfa, expiring_window_days, required_credentials FROM organizations WHERE id = ?", org).
			Scan(&s.Name, &req, &s.ExpiringWindowDays, &set); err != nil {
			return err
		}
		s.RequireMFA = req != 0
		var perr error
		s.RequiredCredentials, perr = parseRequiredSet(set)
		return perr
	})
	return &s, err
}

// UpdateOrgSettings changes whether every member must use TOTP, the
// expiring window and, when s.RequiredCredentials is not nil, the required
// credential types per profession of the actor's organization
// (org.manage). s.Name is ignored. Audited as "org.settings_changed" with
// the new values (the professions whose requirements changed by name).
func (db *DB) UpdateOrgSettings(ctx context.Context, s credtrack.OrgSettings) error {
	org, err := orgScope(ctx, credtrack.PermOrgManage)
	if err != nil {
		return err
	}
	if s.ExpiringWindowDays < 1 || s.ExpiringWindowDays > 365 {
		return credtrack.Errorf(credtrack.EINVALID, "expiring window must be between 1 and 365 days")
	}
	req := 0
	if s.RequireMFA {
		req = 1
	}
	if s.RequiredCredentials != nil {
		s.RequiredCredentials = maps.Clone(s.RequiredCredentials)
		if err := s.RequiredCredentials.Validate(); err != nil {
			return err
		}
	}
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec("UPDATE organizations SET require_mfa = ?, expiring_window_days = ? WHERE id = ?",
			req, s.ExpiringWindowDays, org); err != nil {
			return err
		}
		details := map[string]string{
			"require_mfa": strconv.FormatBool(s.RequireMFA), "expiring_window_days": strconv.Itoa(s.ExpiringWindowDays)}
		if s.RequiredCredentials != nil {
			var old string
			if err := tx.queryRow("SELECT required_credentials FROM organizations WHERE id = ?", org).Scan(&old); err != nil {
				return err
			}
			before, err := parseRequiredSet(old)
			if err != nil {
				return err
			}
			var changed []string
			for _, p := range credtrack.Professions {
				if !slices.Equal(before.For(p), s.RequiredCredentials.For(p)) {
					changed = append(changed, string(p))
				}
			}
			if len(changed) > 0 {
				b, err := json.Marshal(s.RequiredCredentials)
				if err != nil {
					return err
				}
				if _, err := tx.exec("UPDATE organizations SET required_credentials = ? WHERE id = ?", string(b), org); err != nil {
					return err
				}
				details["required_credentials_changed"] = strings.Join(changed, ",")
			}
		}
		return tx.audit("org.settings_changed", "organization", org, credtrack.OutcomeSuccess, details)
	})
}

// ListAPITokens returns the API tokens of the actor's organization, newest
// first, revoked and expired ones included so their history stays visible
// (token.manage). The secrets are not stored, so they cannot be listed.
func (db *DB) ListAPITokens(ctx context.Context) ([]*credtrack.APIToken, error) {
	org, err := orgScope(ctx, credtrack.PermTokenManage)
	if err != nil {
		return nil, err
	}
	var out []*credtrack.APIToken
	err = db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT id, org_id, name, role, created_by, created_at, expires_at, last_used_at, revoked_at
			FROM api_tokens WHERE org_id = ? ORDER BY created_at DESC, id`, org)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t credtrack.APIToken
			var role string
			var created, expires, used, revoked sql.NullInt64
			if err := rows.Scan(&t.ID, &t.OrgID, &t.Name, &role, &t.CreatedBy, &created, &expires, &used, &revoked); err != nil {
				return err
			}
			t.Role, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = credtrack.Role(role), fromTS(created), fromTS(expires), fromTS(used), fromTS(revoked)
			out = append(out, &t)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeAPIToken revokes an API token of the actor's organization
// (token.manage); it stops working at once. A token of another
// organization gives ENOTFOUND; revoking a revoked token changes nothing.
// Audited as "api_token.revoked".
func (db *DB) RevokeAPIToken(ctx context.Context, id string) error {
	org, err := orgScope(ctx, credtrack.PermTokenManage)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		var revoked sql.NullInt64
		err := tx.queryRow("SELECT revoked_at FROM api_tokens WHERE id = ? AND org_id = ?", id, org).Scan(&revoked)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such API token")
		}
		if err != nil || revoked.Valid {
			return err
		}
		if _, err := tx.exec("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND org_id = ?", ts(tx.now), id, org); err != nil {
			return err
		}
		return tx.audit("api_token.revoked", "api_token", id, credtrack.OutcomeSuccess, nil)
	})
}

// SwitchSessionOrg makes the session of token act in another organization
// of its user and gives it a new token, which it returns; the old token
// stops working at once, so a role gained in the other organization never
// rides on a token issued before. An organization the user does not belong
// to gives ENOTFOUND and changes nothing; an unknown token EUNAUTHORIZED.
// Audited as "session.org_switched" in the organization switched to.
func (db *DB) SwitchSessionOrg(ctx context.Context, token, orgID string) (string, error) {
	secret := newSecret("")
	err := db.update(ctx, func(tx *Tx) error {
		var id, userID string
		var from sql.NullString
		err := tx.queryRow("SELECT id, user_id, org_id FROM sessions WHERE token_hash = ?", hashToken(token)).Scan(&id, &userID, &from)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
		}
		if err != nil {
			return err
		}
		var role string
		err = tx.queryRow("SELECT role FROM memberships WHERE org_id = ? AND user_id = ?", orgID, userID).Scan(&role)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.ENOTFOUND, "you are not a member of that organization")
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE sessions SET org_id = ?, token_hash = ? WHERE id = ?", orgID, hashToken(secret), id); err != nil {
			return err
		}
		a := credtrack.ActorFromContext(ctx)
		return tx.appendEvent(&credtrack.AuditEvent{OrgID: orgID, ActorKind: credtrack.ActorUser, ActorID: userID,
			ActorRole: credtrack.Role(role), Action: "session.org_switched", TargetType: "session", TargetID: id,
			Outcome: credtrack.OutcomeSuccess, IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID,
			Details: map[string]string{"from_org": from.String}})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// parseRequiredSet reads organizations.required_credentials.
func parseRequiredSet(s string) (credtrack.RequiredCredentialSet, error) {
	set := credtrack.RequiredCredentialSet{}
	if s == "" {
		return set, nil
	}
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return nil, fmt.Errorf("sqlstore: required_credentials: %w", err)
	}
	return set, nil
}
