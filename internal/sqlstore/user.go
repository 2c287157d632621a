package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"time"

	"credtrack"
)

// CreateUser stores a new account. The address must not be taken
// (ECONFLICT). "user.created" is audited in the actor's organization.
func (db *DB) CreateUser(ctx context.Context, u *credtrack.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	err := db.update(ctx, func(tx *Tx) error {
		u.ID = credtrack.NewID()
		u.CreatedAt = tx.now
		if _, err := tx.exec("INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			u.ID, u.Email, u.Name, u.PasswordHash, ts(u.EmailVerifiedAt), ts(u.CreatedAt)); err != nil {
			return err
		}
		return tx.audit("user.created", "user", u.ID, credtrack.OutcomeSuccess, nil)
	})
	if credtrack.ErrorCode(err) == credtrack.ECONFLICT {
		return credtrack.Errorf(credtrack.ECONFLICT, "an account with this email address already exists")
	}
	return err
}

const userColumns = "id, email, name, password_hash, email_verified_at, created_at, disabled_at, adult_attested_at, totp_enabled_at"

func scanUser(row interface{ Scan(...any) error }) (*credtrack.User, error) {
	var u credtrack.User
	var verified, created, disabled, adult, totp sql.NullInt64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &verified, &created, &disabled, &adult, &totp); err != nil {
		return nil, err
	}
	u.EmailVerifiedAt, u.CreatedAt, u.DisabledAt = fromTS(verified), fromTS(created), fromTS(disabled)
	u.AdultAttestedAt, u.TOTPEnabledAt = fromTS(adult), fromTS(totp)
	return &u, nil
}

// FindUserByEmail returns the account with this address (normalized first).
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*credtrack.User, error) {
	e, err := credtrack.NormalizeEmail(email)
	if err != nil {
		return nil, credtrack.Errorf(credtrack.ENOTFOUND, "not found")
	}
	var u *credtrack.User
	err = db.view(ctx, func(tx *Tx) error {
		u, err = scanUser(tx.queryRow("SELECT "+userColumns+" FROM users WHERE email = ?", e))
		return err
	})
	return u, err
}

// FindUserByID returns the account with this ID.
func (db *DB) FindUserByID(ctx context.Context, id string) (*credtrack.User, error) {
	var u *credtrack.User
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		u, err = scanUser(tx.queryRow("SELECT "+userColumns+" FROM users WHERE id = ?", id))
		return err
	})
	return u, err
}

// AddMembership gives a user a role in the actor's organization
// (member.manage). Audited as "member.added".
func (db *DB) AddMembership(ctx context.Context, userID string, role credtrack.Role) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if !role.Valid() {
		return credtrack.Errorf(credtrack.EINVALID, "unknown role %q", role)
	}
	if err := credtrack.Authorize(ctx, credtrack.PermMemberManage); err != nil {
		return err
	}
	err = db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
			org, userID, string(role), ts(tx.now)); err != nil {
			return err
		}
		return tx.audit("member.added", "user", userID, credtrack.OutcomeSuccess, map[string]string{"role": string(role)})
	})
	if credtrack.ErrorCode(err) == credtrack.ECONFLICT {
		return credtrack.Errorf(credtrack.ECONFLICT, "this user is already a member of the organization")
	}
	return err
}

// FindMemberships lists a user's organizations and roles, oldest first.
func (db *DB) FindMemberships(ctx context.Context, userID string) ([]*credtrack.Membership, error) {
	var out []*credtrack.Membership
	err := db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT m.org_id, o.name, o.kind, o.require_mfa, m.user_id, m.role, m.created_at
			FROM memberships m JOIN organizations o ON o.id = m.org_id
			WHERE m.user_id = ? ORDER BY m.created_at, o.name`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m credtrack.Membership
			var role, kind string
			var requireMFA int
			var created sql.NullInt64
			if err := rows.Scan(&m.OrgID, &m.OrgName, &kind, &requireMFA, &m.UserID, &role, &created); err != nil {
				return err
			}
			m.Role, m.CreatedAt = credtrack.Role(role), fromTS(created)
			m.OrgKind, m.OrgRequireMFA = credtrack.OrgKind(kind), requireMFA != 0
			out = append(out, &m)
		}
		return rows.Err()
	})
	return out, err
}

// hashToken returns the SHA-256 of a secret token: what the database keeps
// instead of the token, so a database leak yields no usable token.
func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newSecret returns a 256-bit (two rand.Text) random token with a prefix
// naming its kind, so a leaked token is recognizable in secret scanners.
func newSecret(prefix string) string { return prefix + rand.Text() + rand.Text() }

// CreateUserToken stores a one-time link token (purpose "set_password",
// "reset_password" or "verify_email") for a user and returns the secret.
// Only its hash is stored.
func (db *DB) CreateUserToken(ctx context.Context, userID, purpose string, ttl time.Duration) (string, error) {
	secret := newSecret("")
	err := db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec("INSERT INTO user_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
			hashToken(secret), userID, purpose, ts(tx.now), ts(tx.now.Add(ttl))); err != nil {
			return err
		}
		return tx.audit("user_token.created", "user", userID, credtrack.OutcomeSuccess, map[string]string{"purpose": purpose})
	})
	return secret, err
}

// CreateMember creates an account and its membership in the actor's
// organization in one transaction (member.manage), so a failure leaves
// neither. When linkTTL > 0 it also creates a one-time set-password link
// in the same transaction and returns its secret.
func (db *DB) CreateMember(ctx context.Context, u *credtrack.User, role credtrack.Role, linkTTL time.Duration) (string, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return "", err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermMemberManage); err != nil {
		return "", err
	}
	if !role.Valid() {
		return "", credtrack.Errorf(credtrack.EINVALID, "unknown role %q", role)
	}
	if err := u.Validate(); err != nil {
		return "", err
	}
	var secret string
	err = db.update(ctx, func(tx *Tx) error {
		u.ID, u.CreatedAt = credtrack.NewID(), tx.now
		if _, err := tx.exec("INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			u.ID, u.Email, u.Name, u.PasswordHash, ts(u.EmailVerifiedAt), ts(u.CreatedAt)); err != nil {
			if db.isUniqueViolation(err) {
				return credtrack.Errorf(credtrack.ECONFLICT, "an account with this email address already exists")
			}
			return err
		}
		if err := tx.audit("user.created", "user", u.ID, credtrack.OutcomeSuccess, nil); err != nil {
			return err
		}
		if _, err := tx.exec("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
			org, u.ID, string(role), ts(tx.now)); err != nil {
			return err
		}
		if err := tx.audit("member.added", "user", u.ID, credtrack.OutcomeSuccess, map[string]string{"role": string(role)}); err != nil {
			return err
		}
		if linkTTL <= 0 {
			return nil
		}
		secret = newSecret("")
		if _, err := tx.exec("INSERT INTO user_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
			hashToken(secret), u.ID, "set_password", ts(tx.now), ts(tx.now.Add(linkTTL))); err != nil {
			return err
		}
		return tx.audit("user_token.created", "user", u.ID, credtrack.OutcomeSuccess, map[string]string{"purpose": "set_password"})
	})
	return secret, err
}
