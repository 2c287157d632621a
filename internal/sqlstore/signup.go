package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"credtrack"
)

// The purpose of email verification links in user_tokens.
const verifyPurpose = "verify_email"

// errInvitation is the one answer for an unknown, used, revoked or expired
// invitation link, so the answer does not tell which it was.
var errInvitation = credtrack.Errorf(credtrack.EINVALID, "This invitation link is invalid, already used, withdrawn or expired. Ask the organization for a new one.")

// signUpEvent records an event of a sign-up or an acceptance, attributed
// to the new (or accepting) user in the organization it joins: the request
// is anonymous, but the person is known from here on.
// ev names the action, target and details; the rest is filled here.
func (tx *Tx) signUpEvent(orgID, userID string, role credtrack.Role, ev credtrack.AuditEvent) error {
	a := credtrack.ActorFromContext(tx.ctx)
	ev.OrgID, ev.ActorKind, ev.ActorID, ev.ActorRole, ev.Outcome = orgID, credtrack.ActorUser, userID, role, credtrack.OutcomeSuccess
	ev.IP, ev.UserAgent, ev.RequestID = a.IP, a.UserAgent, a.RequestID
	return tx.appendEvent(&ev)
}

// actInOrg makes the rest of a PostgreSQL transaction act in org for the
// row-level security policies (migrations/postgres/0004_rls.sql): a
// sign-up creates the organization and then writes tenant rows in it,
// before any actor holds it. The setting is transaction-local.
func (tx *Tx) actInOrg(org string) error {
	if tx.db.backend != Postgres {
		return nil
	}
	_, err := tx.exec("SELECT set_config('credtrack.org_id', ?, true)", org)
	return err
}

// insertUser inserts u (validated by the caller) with its 18+ attestation.
// A taken address gives ECONFLICT.
func (tx *Tx) insertUser(u *credtrack.User) error {
	u.ID, u.CreatedAt = credtrack.NewID(), tx.now
	if _, err := tx.exec(`INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at, adult_attested_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, u.PasswordHash, ts(u.EmailVerifiedAt), ts(u.CreatedAt), ts(u.AdultAttestedAt)); err != nil {
		if tx.db.isUniqueViolation(err) {
			return credtrack.Errorf(credtrack.ECONFLICT, "an account with this email address already exists")
		}
		return err
	}
	return nil
}

// insertVerifyToken stores a one-time email verification link for userID
// and returns its secret (only the hash is kept).
func (tx *Tx) insertVerifyToken(orgID, userID string, role credtrack.Role, ttl time.Duration) (string, error) {
	secret := newSecret("")
	if _, err := tx.exec("INSERT INTO user_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		hashToken(secret), userID, verifyPurpose, ts(tx.now), ts(tx.now.Add(ttl))); err != nil {
		return "", err
	}
	return secret, tx.signUpEvent(orgID, userID, role, credtrack.AuditEvent{Action: "user_token.created", TargetType: "user", TargetID: userID, Details: map[string]string{"purpose": verifyPurpose}})
}

// SignUp creates, in one transaction, a new account (u, with PasswordHash
// and AdultAttestedAt set by the caller), a new organization o in which
// the account holds role, and, when p is not nil, the provider record p
// linked to the account (the personal workspace of an individual
// provider). When verifyTTL > 0 it also issues an email verification link
// and returns its secret. A taken address gives ECONFLICT and writes
// nothing. Audited in the new organization as "org.created",
// "user.signed_up", "member.added" (and "provider.created",
// "user_token.created"), attributed to the new user.
func (db *DB) SignUp(ctx context.Context, u *credtrack.User, o *credtrack.Organization, role credtrack.Role, p *credtrack.Provider, verifyTTL time.Duration) (string, error) {
	if err := u.Validate(); err != nil {
		return "", err
	}
	if err := o.Validate(); err != nil {
		return "", err
	}
	if !role.Valid() {
		return "", credtrack.Errorf(credtrack.EINVALID, "unknown role %q", role)
	}
	if p != nil {
		if err := p.Validate(); err != nil {
			return "", err
		}
	}
	var secret string
	err := db.update(ctx, func(tx *Tx) error {
		if err := tx.insertUser(u); err != nil {
			return err
		}
		o.ID, o.CreatedAt = credtrack.NewID(), tx.now
		if _, err := tx.exec("INSERT INTO organizations (id, name, kind, expiring_window_days, created_at) VALUES (?, ?, ?, ?, ?)",
			o.ID, o.Name, string(o.Kind), o.ExpiringWindowDays, ts(o.CreatedAt)); err != nil {
			return err
		}
		if err := tx.createOrgKeys(o.ID); err != nil {
			return err
		}
		if err := tx.actInOrg(o.ID); err != nil {
			return err
		}
		if err := tx.signUpEvent(o.ID, u.ID, role, credtrack.AuditEvent{Action: "org.created", TargetType: "organization", TargetID: o.ID, Details: map[string]string{"kind": string(o.Kind)}}); err != nil {
			return err
		}
		if err := tx.signUpEvent(o.ID, u.ID, role, credtrack.AuditEvent{Action: "user.signed_up", TargetType: "user", TargetID: u.ID, Details: map[string]string{"kind": string(o.Kind)}}); err != nil {
			return err
		}
		if _, err := tx.exec("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
			o.ID, u.ID, string(role), ts(tx.now)); err != nil {
			return err
		}
		if err := tx.signUpEvent(o.ID, u.ID, role, credtrack.AuditEvent{Action: "member.added", TargetType: "user", TargetID: u.ID, Details: map[string]string{"role": string(role)}}); err != nil {
			return err
		}
		if p != nil {
			if err := tx.insertOwnProvider(o.ID, u, role, p); err != nil {
				return err
			}
		}
		if verifyTTL > 0 {
			var err error
			secret, err = tx.insertVerifyToken(o.ID, u.ID, role, verifyTTL)
			return err
		}
		return nil
	})
	return secret, err
}

// insertOwnProvider stores the provider record of a person who signed up
// alone, linked to their account, sealing the date of birth as
// CreateProvider does.
func (tx *Tx) insertOwnProvider(org string, u *credtrack.User, role credtrack.Role, p *credtrack.Provider) error {
	db := tx.db
	p.ID, p.OrgID, p.UserID, p.CreatedAt, p.UpdatedAt, p.Active = credtrack.NewID(), org, u.ID, tx.now, tx.now, true
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
	if _, err := tx.exec(`INSERT INTO providers (id, org_id, user_id, first_name, middle_name, last_name, suffix, sort_name,
		email, phone, profession, specialty, employer, state, npi_enc, npi_bidx, npi_last4, ssn_enc, ssn_bidx, ssn_last4,
		dob_enc, active, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, org, u.ID, p.FirstName, p.MiddleName, p.LastName, p.Suffix, sortName(p),
		p.Email, p.Phone, string(p.Profession), p.Specialty, p.Employer, p.State,
		npi, db.sealer.Index(org, "npi", p.NPI), credtrack.Last4(p.NPI),
		ssn, db.sealer.Index(org, "ssn", p.SSN), credtrack.Last4(p.SSN),
		dob, p.Active, ts(p.CreatedAt), ts(p.UpdatedAt)); err != nil {
		return err
	}
	return tx.signUpEvent(org, u.ID, role, credtrack.AuditEvent{Action: "provider.created", TargetType: "provider", TargetID: p.ID, Details: map[string]string{"profession": string(p.Profession)}})
}

// VerifyEmailWithToken consumes a one-time email verification link and
// marks the address of its user verified, atomically (a conditional
// UPDATE, so the link works once even under concurrent use). It returns
// the user's ID. An unknown, used or expired link gives EINVALID with one
// message. Audited as "user.email_verified".
func (db *DB) VerifyEmailWithToken(ctx context.Context, secret string) (string, error) {
	var userID string
	err := db.update(ctx, func(tx *Tx) error {
		err := tx.queryRow("SELECT user_id FROM user_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
			hashToken(secret), verifyPurpose, ts(tx.now)).Scan(&userID)
		if err == sql.ErrNoRows {
			return errResetLink
		}
		if err != nil {
			return err
		}
		res, err := tx.exec("UPDATE user_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", ts(tx.now), hashToken(secret))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errResetLink
		}
		if _, err := tx.exec("UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ?", ts(tx.now), userID); err != nil {
			return err
		}
		a := credtrack.ActorFromContext(tx.ctx)
		return tx.appendEvent(&credtrack.AuditEvent{OrgID: a.OrgID, ActorKind: credtrack.ActorUser, ActorID: userID,
			Action: "user.email_verified", TargetType: "user", TargetID: userID, Outcome: credtrack.OutcomeSuccess,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID})
	})
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		return "", errResetLink
	}
	return userID, err
}

// PeekInvitation returns what an invitation link offers, without
// consuming it: the organization (ID, name, kind) and role, as a
// Membership with no UserID, and the invited address. An unknown, used,
// revoked or expired link gives EINVALID with one message.
func (db *DB) PeekInvitation(ctx context.Context, secret string) (*credtrack.Membership, string, error) {
	var m *credtrack.Membership
	var email string
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		m, email, _, err = tx.liveInvitation(secret)
		return err
	})
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		return nil, "", errInvitation
	}
	return m, email, err
}

// liveInvitation looks up an invitation by its token that is neither
// accepted, revoked nor expired, and returns its offer, the invited
// address and its ID.
func (tx *Tx) liveInvitation(secret string) (*credtrack.Membership, string, string, error) {
	var m credtrack.Membership
	var id, email, role, kind string
	var requireMFA int
	err := tx.queryRow(`SELECT i.id, i.email, i.role, o.id, o.name, o.kind, o.require_mfa
		FROM invitations i JOIN organizations o ON o.id = i.org_id
		WHERE i.token_hash = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?`,
		hashToken(secret), ts(tx.now)).Scan(&id, &email, &role, &m.OrgID, &m.OrgName, &kind, &requireMFA)
	if err == sql.ErrNoRows {
		return nil, "", "", errInvitation
	}
	if err != nil {
		return nil, "", "", err
	}
	m.Role, m.OrgKind, m.OrgRequireMFA = credtrack.Role(role), credtrack.OrgKind(kind), requireMFA != 0
	// Compare and create accounts with the normalized form, whatever the
	// inviting code stored.
	if e, err := credtrack.NormalizeEmail(email); err == nil {
		email = e
	}
	if !m.Role.Valid() {
		return nil, "", "", errInvitation
	}
	return &m, email, id, nil
}

// AcceptInvitation consumes an invitation link for an existing account
// and gives it the invited role, in one transaction. The account's address
// must be the invited one (EFORBIDDEN otherwise: the link was sent to
// someone else); an account that is already a member gives ECONFLICT and
// leaves the invitation usable. A dead link gives EINVALID. Audited in the
// organization as "invitation.accepted" and "member.added".
func (db *DB) AcceptInvitation(ctx context.Context, secret, userID string) (*credtrack.Membership, error) {
	var m *credtrack.Membership
	err := db.update(ctx, func(tx *Tx) error {
		var email string
		err := tx.queryRow("SELECT email FROM users WHERE id = ? AND disabled_at IS NULL", userID).Scan(&email)
		if err == sql.ErrNoRows {
			return credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
		}
		if err != nil {
			return err
		}
		var invited, id string
		m, invited, id, err = tx.liveInvitation(secret)
		if err != nil {
			return err
		}
		if invited != email {
			return credtrack.Errorf(credtrack.EFORBIDDEN, "This invitation was sent to another email address. Sign in with that address to accept it.")
		}
		return tx.accept(m, id, userID)
	})
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		return nil, errInvitation
	}
	return m, err
}

// SignUpWithInvitation creates an account for the invited address and
// accepts the invitation, in one transaction. u's Email is replaced by the
// invited address, which counts as verified: the link proved it. An
// address that already has an account gives ECONFLICT (that person
// accepts by signing in). A dead link gives EINVALID. Audited in the
// organization as "user.signed_up", "invitation.accepted" and
// "member.added".
func (db *DB) SignUpWithInvitation(ctx context.Context, secret string, u *credtrack.User) (*credtrack.Membership, error) {
	var m *credtrack.Membership
	err := db.update(ctx, func(tx *Tx) error {
		var email, id string
		var err error
		m, email, id, err = tx.liveInvitation(secret)
		if err != nil {
			return err
		}
		u.Email, u.EmailVerifiedAt = email, tx.now
		if err := u.Validate(); err != nil {
			return err
		}
		if err := tx.insertUser(u); err != nil {
			if credtrack.ErrorCode(err) == credtrack.ECONFLICT {
				return credtrack.Errorf(credtrack.ECONFLICT, "An account with this address already exists. Sign in to accept the invitation.")
			}
			return err
		}
		if err := tx.signUpEvent(m.OrgID, u.ID, m.Role, credtrack.AuditEvent{Action: "user.signed_up", TargetType: "user", TargetID: u.ID, Details: map[string]string{"kind": "invitation"}}); err != nil {
			return err
		}
		return tx.accept(m, id, u.ID)
	})
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		return nil, errInvitation
	}
	return m, err
}

// accept marks invitation id accepted by userID (once: a conditional
// UPDATE) and adds the membership m describes.
func (tx *Tx) accept(m *credtrack.Membership, id, userID string) error {
	res, err := tx.exec("UPDATE invitations SET accepted_at = ?, accepted_by = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL",
		ts(tx.now), userID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errInvitation
	}
	var n int
	if err := tx.queryRow("SELECT COUNT(*) FROM memberships WHERE org_id = ? AND user_id = ?", m.OrgID, userID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return credtrack.Errorf(credtrack.ECONFLICT, "You are already a member of this organization.")
	}
	if _, err := tx.exec("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
		m.OrgID, userID, string(m.Role), ts(tx.now)); err != nil {
		return err
	}
	m.UserID, m.CreatedAt = userID, tx.now
	if err := tx.signUpEvent(m.OrgID, userID, m.Role, credtrack.AuditEvent{Action: "invitation.accepted", TargetType: "invitation", TargetID: id, Details: map[string]string{"role": string(m.Role)}}); err != nil {
		return err
	}
	return tx.signUpEvent(m.OrgID, userID, m.Role, credtrack.AuditEvent{Action: "member.added", TargetType: "user", TargetID: userID, Details: map[string]string{"role": string(m.Role)}})
}
