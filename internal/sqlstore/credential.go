package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"credtrack"
)

// #nosec G101 -- column names of the credentials table, not a credential
const credentialColumns = `id, org_id, provider_id, type, issuer, jurisdiction, number_enc, number_last4, issued_on,
	expires_on, verified_at, verified_by, notes, details, created_at, updated_at`

// scanCredential scans a credential row and returns the sealed number
// separately, so that callers open it only when the number is needed.
func scanCredential(row interface{ Scan(...any) error }) (*credtrack.Credential, []byte, error) {
	var c credtrack.Credential
	var typ, issued, expires, details string
	var verified, created, updated sql.NullInt64
	var number []byte
	if err := row.Scan(&c.ID, &c.OrgID, &c.ProviderID, &typ, &c.Issuer, &c.Jurisdiction, &number, &c.NumberLast4,
		&issued, &expires, &verified, &c.VerifiedBy, &c.Notes, &details, &created, &updated); err != nil {
		return nil, nil, err
	}
	c.Type, c.IssuedOn, c.ExpiresOn = credtrack.CredentialType(typ), parseDate(issued), parseDate(expires)
	c.VerifiedAt, c.CreatedAt, c.UpdatedAt = fromTS(verified), fromTS(created), fromTS(updated)
	if err := json.Unmarshal([]byte(details), &c.Details); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: details of credential %s: %w", c.ID, err)
	}
	return &c, number, nil
}

// CreateCredential stores a credential for a provider of the actor's
// organization (credential.write), or, for a provider-role member
// (own.write), for the record linked to their own account only. The
// number is sealed and indexed. A self-entered credential is stored
// without a verification, so it counts as pending verification until staff
// verify it. Another provider's record, or another organization's, is not
// found, and the refusal is audited ("authz.denied"). Audited as
// "credential.created" in the same transaction.
func (db *DB) CreateCredential(ctx context.Context, c *credtrack.Credential) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermCredentialWrite) && !a.Can(credtrack.PermOwnRecordWrite) {
		return credtrack.Authorize(ctx, credtrack.PermCredentialWrite)
	}
	self := !a.Can(credtrack.PermCredentialWrite)
	if self {
		// A provider's own statement is not a primary-source verification.
		c.VerifiedAt, c.VerifiedBy = time.Time{}, ""
	}
	if err := c.Validate(); err != nil {
		return err
	}
	details, err := json.Marshal(c.Details)
	if err != nil || c.Details == nil {
		details = []byte("{}")
	}
	denied := false
	err = db.update(ctx, func(tx *Tx) error {
		// The provider must be in this organization (and, for a
		// provider, be their own); otherwise it is not found.
		owner, err := tx.providerOwner(org, c.ProviderID)
		if err != nil {
			return err
		}
		if !mayRecord(a, credtrack.PermCredentialWrite, credtrack.PermOwnRecordWrite, owner) {
			denied = true
			return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		if err := tx.checkDocumentDetails(org, c, nil); err != nil {
			return err
		}
		c.ID, c.OrgID, c.CreatedAt, c.UpdatedAt = credtrack.NewID(), org, tx.now, tx.now
		number, err := db.seal(org, "credentials", "number", c.ID, c.Number)
		if err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO credentials (id, org_id, provider_id, type, issuer, jurisdiction, number_enc,
			number_bidx, number_last4, issued_on, expires_on, verified_at, verified_by, notes, details, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, org, c.ProviderID, string(c.Type), c.Issuer, c.Jurisdiction, number,
			db.sealer.Index(org, "credential."+string(c.Type), c.Number), c.NumberLast4, dateStr(c.IssuedOn), dateStr(c.ExpiresOn),
			ts(c.VerifiedAt), c.VerifiedBy, c.Notes, string(details), ts(c.CreatedAt), ts(c.UpdatedAt)); err != nil {
			return err
		}
		ev := map[string]string{"type": string(c.Type), "provider_id": c.ProviderID}
		if self {
			ev["self_service"] = "true"
		}
		return tx.audit("credential.created", "credential", c.ID, credtrack.OutcomeSuccess, ev)
	})
	if denied {
		db.auditDenied(ctx, "provider", c.ProviderID)
	}
	return err
}

// FindCredentialByID returns one credential of the actor's organization
// with its number opened. The read is audited ("credential.read") before
// the value is returned.
func (db *DB) FindCredentialByID(ctx context.Context, id string) (*credtrack.Credential, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	var c *credtrack.Credential
	err = db.auditedRead(ctx, "credential.read", func(tx *Tx) (*credtrack.AuditEvent, error) {
		found, number, err := scanCredential(tx.queryRow("SELECT "+credentialColumns+" FROM credentials WHERE id = ? AND org_id = ?", id, org))
		if err != nil {
			return nil, err
		}
		var owner string
		if err := tx.queryRow("SELECT COALESCE(user_id, '') FROM providers WHERE id = ? AND org_id = ?", found.ProviderID, org).Scan(&owner); err != nil {
			return nil, err
		}
		if !a.Can(credtrack.PermCredentialRead) && !(a.Can(credtrack.PermOwnRecordRead) && a.Kind == credtrack.ActorUser && owner == a.ID) {
			return actorEvent(ctx, "authz.denied", "credential", id, credtrack.OutcomeDenied, nil),
				credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		if found.Number, err = db.open(org, "credentials", "number", found.ID, number); err != nil {
			return nil, err
		}
		c = found
		return actorEvent(ctx, "credential.read", "credential", id, credtrack.OutcomeSuccess, map[string]string{"type": string(found.Type)}), nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// checkDocumentDetails refuses a type-specific document field (such as a
// CE certificate) that names anything but a document of the credential's
// own provider, so that a provider maintaining their record cannot point
// at another provider's document. A value kept from before (old) is not
// checked again: the document may since have been deleted, and that must
// not block other changes.
func (tx *Tx) checkDocumentDetails(org string, c *credtrack.Credential, old map[string]string) error {
	for _, f := range c.Type.Spec().Fields {
		id := c.Details[f.Key]
		if f.Kind != credtrack.FieldDocument || id == "" || id == old[f.Key] {
			continue
		}
		var n int
		if err := tx.queryRow("SELECT count(*) FROM documents WHERE id = ? AND org_id = ? AND provider_id = ?",
			id, org, c.ProviderID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return credtrack.Errorf(credtrack.EINVALID, "%s: choose one of this provider's documents", f.Label)
		}
	}
	return nil
}
