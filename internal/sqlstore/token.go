package sqlstore

import (
	"context"

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
