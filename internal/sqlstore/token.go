package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"credtrack"
)

// CreateAPIToken stores a new API token for the actor's organization
// (token.manage) and returns its secret, which is not stored: only its
// SHA-256 is. Audited as "api_token.created".
func (db *DB) CreateAPIToken(ctx context.Context, t *credtrack.APIToken) (string, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return "", err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermTokenManage); err != nil {
		return "", err
	}
	if !t.Role.Valid() {
		return "", credtrack.Errorf(credtrack.EINVALID, "unknown role %q", t.Role)
	}
	if t.Name == "" || len(t.Name) > 100 {
		return "", credtrack.Errorf(credtrack.EINVALID, "a token needs a name of at most 100 characters")
	}
	secret := newSecret("ctk_")
	err = db.update(ctx, func(tx *Tx) error {
		a := credtrack.ActorFromContext(ctx)
		t.ID, t.OrgID, t.CreatedBy, t.CreatedAt = credtrack.NewID(), org, a.ID, tx.now
		if _, err := tx.exec(`INSERT INTO api_tokens (id, org_id, name, role, token_hash, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, org, t.Name, string(t.Role), hashToken(secret), t.CreatedBy, ts(t.CreatedAt), ts(t.ExpiresAt)); err != nil {
			return err
		}
		return tx.audit("api_token.created", "api_token", t.ID, credtrack.OutcomeSuccess, map[string]string{"role": string(t.Role), "name": t.Name})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// AuthenticateAPIToken returns the token whose secret is given, when it is
// neither revoked nor expired, and records its use. Every failure is the
// same EUNAUTHORIZED so that callers learn nothing about which tokens exist.
func (db *DB) AuthenticateAPIToken(ctx context.Context, secret string) (*credtrack.APIToken, error) {
	unauth := credtrack.Errorf(credtrack.EUNAUTHORIZED, "the API token is missing, invalid, expired or revoked")
	if !strings.HasPrefix(secret, "ctk_") || len(secret) > 200 {
		return nil, unauth
	}
	var t credtrack.APIToken
	var role string
	var created, expires, used, revoked sql.NullInt64
	err := db.view(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT id, org_id, name, role, created_by, created_at, expires_at, last_used_at, revoked_at
			FROM api_tokens WHERE token_hash = ?`, hashToken(secret)).Scan(&t.ID, &t.OrgID, &t.Name, &role, &t.CreatedBy,
			&created, &expires, &used, &revoked)
	})
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	t.Role, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = credtrack.Role(role), fromTS(created), fromTS(expires), fromTS(used), fromTS(revoked)
	now := db.now()
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && now.After(t.ExpiresAt)) {
		return nil, unauth
	}
	// Record use at a minute's resolution so that busy integrations do not
	// turn every read into a write.
	if now.Sub(t.LastUsedAt) > time.Minute {
		if err := db.update(ctx, func(tx *Tx) error {
			_, err := tx.exec("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", ts(now), t.ID)
			return err
		}); err != nil {
			return nil, err
		}
		t.LastUsedAt = now
	}
	return &t, nil
}
