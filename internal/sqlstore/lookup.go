package sqlstore

import (
	"context"

	"credtrack"
)

// ProviderVisible returns nil when the actor in ctx may read the provider
// id of its organization, and ENOTFOUND otherwise (another
// organization's ID, an unknown ID, or a record the actor may not read).
// It returns no data and so is not audited as a read; the API calls it
// before accepting a body for a provider (a credential, a document), so
// that another organization's ID is refused before anything is read or
// stored.
func (db *DB) ProviderVisible(ctx context.Context, id string) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	var owner string
	err = db.view(ctx, func(tx *Tx) error {
		return tx.queryRow("SELECT COALESCE(user_id, '') FROM providers WHERE id = ? AND org_id = ?", id, org).Scan(&owner)
	})
	if err != nil {
		return db.mapError(err)
	}
	if !canReadProvider(a, &credtrack.Provider{UserID: owner}) {
		return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
	}
	return nil
}

// FindDocumentByID returns a document's record (name, type, size,
// fingerprint; never its key) in the actor's organization. Another
// organization's document, or one the actor may not read, gives
// ENOTFOUND. Audited as "document.read" before it is returned.
func (db *DB) FindDocumentByID(ctx context.Context, id string) (*credtrack.Document, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	var d *credtrack.Document
	err = db.auditedRead(ctx, "document.read", func(tx *Tx) (*credtrack.AuditEvent, error) {
		found, _, err := scanDocument(tx.queryRow("SELECT "+documentColumns+" FROM documents WHERE id = ? AND org_id = ?", id, org))
		if err != nil {
			return nil, err
		}
		owner, err := tx.providerOwner(org, found.ProviderID)
		if err != nil {
			return nil, err
		}
		if !mayRecord(a, credtrack.PermDocumentRead, credtrack.PermOwnRecordRead, owner) {
			return actorEvent(ctx, "authz.denied", "document", id, credtrack.OutcomeDenied, nil),
				credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		var others int
		if err := tx.queryRow("SELECT count(*) FROM documents WHERE org_id = ? AND sha256 = ? AND provider_id <> ?",
			org, found.SHA256, found.ProviderID).Scan(&others); err != nil {
			return nil, err
		}
		found.PossibleFraud = others > 0
		d = found
		return actorEvent(ctx, "document.read", "document", id, credtrack.OutcomeSuccess,
			map[string]string{"provider_id": found.ProviderID}), nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// CredentialVisible returns nil when the actor in ctx may read the
// credential id of its organization, and ENOTFOUND otherwise. It returns
// no data and is not audited as a read; the API calls it before accepting
// a body that changes or deletes the credential.
func (db *DB) CredentialVisible(ctx context.Context, id string) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	var owner string
	err = db.view(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT COALESCE(p.user_id, '') FROM credentials c JOIN providers p ON p.id = c.provider_id AND p.org_id = c.org_id
			WHERE c.id = ? AND c.org_id = ?`, id, org).Scan(&owner)
	})
	if err != nil {
		return db.mapError(err)
	}
	if !a.Can(credtrack.PermCredentialRead) && !(a.Can(credtrack.PermOwnRecordRead) && a.Kind == credtrack.ActorUser && owner == a.ID) {
		return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
	}
	return nil
}
