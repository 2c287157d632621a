package sqlstore

import (
	"context"
	"slices"
	"strings"

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
		if !mayDocuments(a, credtrack.PermDocumentRead, credtrack.PermOwnRecordRead, owner) {
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

// RevealableProviderFields are the sealed provider fields RevealProvider
// opens.
var RevealableProviderFields = []string{"npi", "ssn", "dob"}

// RevealProvider opens sealed fields of one provider ("npi", "ssn",
// "dob") for an actor with sensitive.reveal, and returns them by name
// (an absent value is ""). The reveal is audited as "sensitive.revealed"
// with the field names (never the values) before the values are
// returned; if the event cannot be written nothing is revealed. An actor
// without the permission gets EFORBIDDEN (and an "authz.denied" event);
// another organization's provider ENOTFOUND.
func (db *DB) RevealProvider(ctx context.Context, id string, fields []string) (map[string]string, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if !slices.Contains(RevealableProviderFields, f) {
			return nil, credtrack.Errorf(credtrack.EINVALID, "a provider's revealable fields are npi, ssn and dob")
		}
	}
	if err := credtrack.Authorize(ctx, credtrack.PermSensitiveReveal); err != nil {
		db.auditDenied(ctx, "provider", id)
		return nil, err
	}
	out := map[string]string{}
	err = db.auditedRead(ctx, "sensitive.revealed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		r, err := scanProvider(tx.queryRow("SELECT "+providerColumns+" FROM providers WHERE id = ? AND org_id = ?", id, org))
		if err != nil {
			return nil, err
		}
		sealed := map[string][]byte{"npi": r.npi, "ssn": r.ssn, "dob": r.dob}
		for _, f := range fields {
			v, err := db.open(org, "providers", f, r.p.ID, sealed[f])
			if err != nil {
				return nil, err
			}
			out[f] = v
		}
		return actorEvent(ctx, "sensitive.revealed", "provider", id, credtrack.OutcomeSuccess,
			map[string]string{"fields": strings.Join(fields, ",")}), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
