package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"credtrack/internal/seal"
)

// Per-organization data keys (seal/keyset.go) live in org_keys, wrapped by
// a key derived from the master key (migrations/*/0005_keys.sql). At start
// (Migrate, CheckKey) every stored keyset is unwrapped: with a wrong master
// key this fails before any request is served, even when the key check
// value was somehow right. Organizations get their keyset in the
// transaction that creates them; organizations created before 0005 get
// one at the next start. Their existing values (sealed under the earlier
// HKDF-derived keys) keep opening and move to the keysets at the first
// rotation (rotate.go).

// keysetTTL is how long a process trusts its copy of a keyset before
// reloading it when it seals (see seal.Sealer.SetLoader); a rotation
// waits for at least twice this before its final pass (RotationGrace).
const keysetTTL = 10 * time.Second

// RotationGrace is how long a rotation waits after adding the new primary
// key before its last pass, so that every server process has reloaded the
// keyset and seals with the new key (2 × keysetTTL).
const RotationGrace = 2 * keysetTTL

// loadKeyset reads an organization's stored keyset; (nil, nil) when none.
func (db *DB) loadKeyset(ctx context.Context, org string) (*seal.Stored, error) {
	st := &seal.Stored{OrgID: org}
	err := db.read.QueryRowContext(ctx, db.rebind("SELECT keyset, generation FROM org_keys WHERE org_id = ?"), org).
		Scan(&st.Wrapped, &st.Generation)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read the data keys: %w", err)
	}
	return st, nil
}

// initKeys unwraps and installs every stored keyset (the canary of the
// keysets), then creates the missing ones: the instance keyset (”) and
// one for each organization created before keysets existed.
func (db *DB) initKeys(ctx context.Context) error {
	if db.sealer == nil {
		return nil
	}
	rows, err := db.write.QueryContext(ctx, "SELECT org_id, keyset, generation FROM org_keys")
	if err != nil {
		return fmt.Errorf("sqlstore: read the data keys: %w", err)
	}
	have := map[string]bool{}
	var stored []*seal.Stored
	for rows.Next() {
		st := &seal.Stored{}
		if err := rows.Scan(&st.OrgID, &st.Wrapped, &st.Generation); err != nil {
			rows.Close()
			return err
		}
		stored = append(stored, st)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, st := range stored {
		if err := db.sealer.Install(st); err != nil {
			if errors.Is(err, seal.ErrUnwrap) {
				return fmt.Errorf("%w (the data keys of organization %q do not unwrap)", ErrWrongKey, st.OrgID)
			}
			return err
		}
		have[st.OrgID] = true
	}
	var missing []string
	if !have[""] {
		missing = append(missing, "")
	}
	orgs, err := db.write.QueryContext(ctx, "SELECT id FROM organizations ORDER BY id")
	if err != nil {
		return err
	}
	for orgs.Next() {
		var id string
		if err := orgs.Scan(&id); err != nil {
			orgs.Close()
			return err
		}
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if err := orgs.Close(); err != nil {
		return err
	}
	for _, org := range missing {
		if err := db.update(ctx, func(tx *Tx) error { return tx.createOrgKeys(org) }); err != nil {
			return err
		}
	}
	return nil
}

// createOrgKeys gives an organization (or the instance, org ”) its
// keyset in tx, unless another process stored one first, in which case
// that one is installed. The new keyset is usable at once by the rest of
// tx (an organization's first values are often sealed in the transaction
// that creates it).
func (tx *Tx) createOrgKeys(org string) error {
	db := tx.db
	st, err := db.sealer.NewKeyset(org)
	if err != nil {
		return err
	}
	res, err := tx.exec("INSERT INTO org_keys (org_id, keyset, generation, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id) DO NOTHING",
		org, st.Wrapped, st.Generation, ts(tx.now), ts(tx.now))
	if err != nil {
		return fmt.Errorf("sqlstore: store the data keys: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	won := &seal.Stored{OrgID: org}
	if err := tx.queryRow("SELECT keyset, generation FROM org_keys WHERE org_id = ?", org).Scan(&won.Wrapped, &won.Generation); err != nil {
		return err
	}
	if err := db.sealer.Install(won); err != nil {
		if errors.Is(err, seal.ErrUnwrap) {
			return fmt.Errorf("%w (the data keys of organization %q do not unwrap)", ErrWrongKey, org)
		}
		return err
	}
	return nil
}

// OrgKeyInfo describes an organization's data keys for `credtrack keys
// status` (IDs and states, never key material).
type OrgKeyInfo struct {
	OrgID      string
	Generation int64
	Keys       []seal.KeyInfo
}

// KeyInfo lists the data keys of every organization (” is the instance).
func (db *DB) KeyInfo(ctx context.Context) ([]OrgKeyInfo, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT org_id, keyset, generation FROM org_keys ORDER BY org_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OrgKeyInfo
	for rows.Next() {
		st := &seal.Stored{}
		if err := rows.Scan(&st.OrgID, &st.Wrapped, &st.Generation); err != nil {
			return nil, err
		}
		keys, err := db.sealer.Keys(st)
		if err != nil {
			return nil, fmt.Errorf("%w (the data keys of organization %q do not unwrap)", ErrWrongKey, st.OrgID)
		}
		out = append(out, OrgKeyInfo{OrgID: st.OrgID, Generation: st.Generation, Keys: keys})
	}
	return out, rows.Err()
}
