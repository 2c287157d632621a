package sqlstore

import (
	"context"
	"database/sql"
	"strconv"

	"credtrack"
)

// Documents are deleted hard: the row holds the only copy of the wrapped
// per-document key, so deleting it crypto-shreds the blob even if removing
// the blob itself later fails. The audit log keeps the record that the
// document existed and was deleted.

const documentColumns = `id, org_id, provider_id, COALESCE(credential_id, ''), filename, content_type, size, sha256,
	blob_key, key_enc, uploaded_by, created_at`

func scanDocument(row interface{ Scan(...any) error }) (*credtrack.Document, []byte, error) {
	var d credtrack.Document
	var keyEnc []byte
	var created sql.NullInt64
	if err := row.Scan(&d.ID, &d.OrgID, &d.ProviderID, &d.CredentialID, &d.Filename, &d.ContentType, &d.Size, &d.SHA256,
		&d.BlobKey, &keyEnc, &d.UploadedBy, &created); err != nil {
		return nil, nil, err
	}
	d.CreatedAt = fromTS(created)
	return &d, keyEnc, nil
}

// mayRecord applies the record-level rule for documents and credentials:
// staff with perm act on every provider of the organization; a
// provider-role user holding own acts on the record linked to their own
// account only. API tokens are linked to no one, so a provider-role token
// passes for no record.
func mayRecord(a credtrack.Actor, perm, own credtrack.Permission, providerUserID string) bool {
	if a.Can(perm) {
		return true
	}
	return a.Can(own) && a.Kind == credtrack.ActorUser && providerUserID != "" && providerUserID == a.ID
}

// providerOwner returns the account linked to a provider of org, or
// ENOTFOUND (through sql.ErrNoRows) when the provider is not in org.
func (tx *Tx) providerOwner(org, providerID string) (string, error) {
	var owner string
	err := tx.queryRow("SELECT COALESCE(user_id, '') FROM providers WHERE id = ? AND org_id = ?", providerID, org).Scan(&owner)
	return owner, err
}

// CreateDocument records a document whose encrypted blob has already been
// written under d.BlobKey. d.ID is chosen by the caller (the blob's
// encryption is bound to it); key is the per-document data key, which is
// sealed here under the organization's key, bound to the document's row
// (org|documents|key|id). The provider (and credential, if any) must be in
// the actor's organization. If another provider of the organization already
// has a document with the same fingerprint, d.PossibleFraud is set and the
// event says so. Audited as "document.uploaded" in the same transaction.
// On error nothing is stored, and the caller must delete the blob.
func (db *DB) CreateDocument(ctx context.Context, d *credtrack.Document, key []byte) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermDocumentWrite) && !a.Can(credtrack.PermOwnRecordWrite) {
		return credtrack.Authorize(ctx, credtrack.PermDocumentWrite)
	}
	if d.ID == "" || d.BlobKey == "" || len(d.SHA256) != 32 || len(key) == 0 || d.ContentType == "" {
		return credtrack.Errorf(credtrack.EINVALID, "incomplete document record")
	}
	denied := false
	err = db.update(ctx, func(tx *Tx) error {
		owner, err := tx.providerOwner(org, d.ProviderID)
		if err != nil {
			return err
		}
		if !mayRecord(a, credtrack.PermDocumentWrite, credtrack.PermOwnRecordWrite, owner) {
			denied = true
			return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		var credential any
		if d.CredentialID != "" {
			var one int
			if err := tx.queryRow("SELECT 1 FROM credentials WHERE id = ? AND org_id = ? AND provider_id = ?",
				d.CredentialID, org, d.ProviderID).Scan(&one); err != nil {
				return err
			}
			credential = d.CredentialID
		}
		var others int
		if err := tx.queryRow("SELECT count(*) FROM documents WHERE org_id = ? AND sha256 = ? AND provider_id <> ?",
			org, d.SHA256, d.ProviderID).Scan(&others); err != nil {
			return err
		}
		d.PossibleFraud = others > 0
		keyEnc, err := db.seal(org, "documents", "key", d.ID, string(key))
		if err != nil {
			return err
		}
		d.OrgID, d.UploadedBy, d.CreatedAt = org, a.ID, tx.now
		if _, err := tx.exec(`INSERT INTO documents (id, org_id, provider_id, credential_id, filename, content_type, size,
			sha256, blob_key, key_enc, uploaded_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, org, d.ProviderID, credential, d.Filename, d.ContentType, d.Size, d.SHA256, d.BlobKey, keyEnc,
			d.UploadedBy, ts(d.CreatedAt)); err != nil {
			return err
		}
		details := map[string]string{"provider_id": d.ProviderID, "content_type": d.ContentType,
			"size": strconv.FormatInt(d.Size, 10)}
		if d.PossibleFraud {
			details["possible_fraud"] = "true"
		}
		return tx.audit("document.uploaded", "document", d.ID, credtrack.OutcomeSuccess, details)
	})
	if denied {
		db.auditDenied(ctx, "provider", d.ProviderID)
	}
	return err
}

// auditDenied records a refused write after its transaction rolled back
// (an event written inside it would have been rolled back too).
func (db *DB) auditDenied(ctx context.Context, targetType, targetID string) {
	if err := db.appendStandalone(ctx, actorEvent(ctx, "authz.denied", targetType, targetID, credtrack.OutcomeDenied, nil)); err != nil {
		db.log.Error("audit write failed", "action", "authz.denied", "err", err)
	}
}

// OpenDocument returns a document of the actor's organization with its
// per-document key unsealed, for a download. Another organization's
// document, or one the actor may not read, gives ENOTFOUND. The download
// is audited ("document.downloaded") before the key is returned.
func (db *DB) OpenDocument(ctx context.Context, id string) (*credtrack.Document, []byte, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	var d *credtrack.Document
	var key []byte
	err = db.auditedRead(ctx, "document.downloaded", func(tx *Tx) (*credtrack.AuditEvent, error) {
		found, keyEnc, err := scanDocument(tx.queryRow("SELECT "+documentColumns+" FROM documents WHERE id = ? AND org_id = ?", id, org))
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
		k, err := db.open(org, "documents", "key", found.ID, keyEnc)
		if err != nil {
			return nil, err
		}
		d, key = found, []byte(k)
		return actorEvent(ctx, "document.downloaded", "document", id, credtrack.OutcomeSuccess,
			map[string]string{"provider_id": found.ProviderID}), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return d, key, nil
}

// FindDocuments lists the documents of one provider of the actor's
// organization, newest first, without keys, with PossibleFraud set on
// those whose fingerprint is also on record for another provider. Audited
// as "document.listed".
func (db *DB) FindDocuments(ctx context.Context, providerID string) ([]*credtrack.Document, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	var out []*credtrack.Document
	err = db.auditedRead(ctx, "document.listed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		owner, err := tx.providerOwner(org, providerID)
		if err != nil {
			return nil, err
		}
		if !mayRecord(a, credtrack.PermDocumentRead, credtrack.PermOwnRecordRead, owner) {
			return actorEvent(ctx, "authz.denied", "provider", providerID, credtrack.OutcomeDenied, nil),
				credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		docs, err := tx.documents("org_id = ? AND provider_id = ?", org, providerID)
		if err != nil {
			return nil, err
		}
		// Flag the documents whose fingerprint is also on record for
		// another provider of the organization (possible fraud).
		rows, err := tx.query(`SELECT d.id FROM documents d WHERE d.org_id = ? AND d.provider_id = ? AND EXISTS
			(SELECT 1 FROM documents o WHERE o.org_id = d.org_id AND o.sha256 = d.sha256 AND o.provider_id <> d.provider_id)`,
			org, providerID)
		if err != nil {
			return nil, err
		}
		flagged := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			flagged[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, d := range docs {
			d.PossibleFraud = flagged[d.ID]
		}
		out = docs
		return actorEvent(ctx, "document.listed", "provider", providerID, credtrack.OutcomeSuccess,
			map[string]string{"results": strconv.Itoa(len(docs))}), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (tx *Tx) documents(where string, args ...any) ([]*credtrack.Document, error) {
	rows, err := tx.query("SELECT "+documentColumns+" FROM documents WHERE "+where+" ORDER BY created_at DESC, id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*credtrack.Document
	for rows.Next() {
		d, _, err := scanDocument(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// FindDocumentsBySHA256 answers "verify a document": which documents of the
// actor's organization (document.read) have this plaintext fingerprint.
// Matches on two or more different providers set PossibleFraud. Only this
// organization is searched, so a fingerprint never reveals another
// tenant's documents. Audited as "document.verified" (the number of
// matches and the fraud flag; not the fingerprint).
func (db *DB) FindDocumentsBySHA256(ctx context.Context, sum []byte) (*credtrack.DocumentMatch, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermDocumentRead); err != nil {
		return nil, err
	}
	if len(sum) != 32 {
		return nil, credtrack.Errorf(credtrack.EINVALID, "a SHA-256 fingerprint is 32 bytes (64 hex digits)")
	}
	m := &credtrack.DocumentMatch{SHA256: sum}
	err = db.auditedRead(ctx, "document.verified", func(tx *Tx) (*credtrack.AuditEvent, error) {
		docs, err := tx.documents("org_id = ? AND sha256 = ?", org, sum)
		if err != nil {
			return nil, err
		}
		providers := map[string]bool{}
		for _, d := range docs {
			providers[d.ProviderID] = true
		}
		m.Documents, m.PossibleFraud = docs, len(providers) > 1
		for _, d := range docs {
			d.PossibleFraud = m.PossibleFraud
		}
		details := map[string]string{"matches": strconv.Itoa(len(docs))}
		if m.PossibleFraud {
			details["possible_fraud"] = "true"
		}
		return actorEvent(ctx, "document.verified", "document", "", credtrack.OutcomeSuccess, details), nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DeleteDocument removes a document's row (document.write, or the
// provider's own record) and returns it, so the caller can delete the
// blob after the commit. Audited as "document.deleted".
func (db *DB) DeleteDocument(ctx context.Context, id string) (*credtrack.Document, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermDocumentWrite) && !a.Can(credtrack.PermOwnRecordWrite) {
		return nil, credtrack.Authorize(ctx, credtrack.PermDocumentWrite)
	}
	var d *credtrack.Document
	denied := false
	err = db.update(ctx, func(tx *Tx) error {
		found, _, err := scanDocument(tx.queryRow("SELECT "+documentColumns+" FROM documents WHERE id = ? AND org_id = ?", id, org))
		if err != nil {
			return err
		}
		owner, err := tx.providerOwner(org, found.ProviderID)
		if err != nil {
			return err
		}
		if !mayRecord(a, credtrack.PermDocumentWrite, credtrack.PermOwnRecordWrite, owner) {
			denied = true
			return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		if !a.Can(credtrack.PermDocumentWrite) {
			// A provider removing their own file must not be able to
			// remove the evidence of a fraud flag or of a verification:
			// those stay until staff decide.
			var flagged, evidence int
			if err := tx.queryRow("SELECT count(*) FROM documents WHERE org_id = ? AND sha256 = ? AND provider_id <> ?",
				org, found.SHA256, found.ProviderID).Scan(&flagged); err != nil {
				return err
			}
			if err := tx.queryRow("SELECT count(*) FROM verifications WHERE org_id = ? AND document_id = ?", org, id).Scan(&evidence); err != nil {
				return err
			}
			if flagged > 0 || evidence > 0 {
				denied = true
				return credtrack.Errorf(credtrack.EFORBIDDEN, "This document is kept for review (it is flagged or is evidence of a verification); ask your credentialing team to remove it.")
			}
		}
		if _, err := tx.exec("DELETE FROM documents WHERE id = ? AND org_id = ?", id, org); err != nil {
			return err
		}
		d = found
		return tx.audit("document.deleted", "document", id, credtrack.OutcomeSuccess,
			map[string]string{"provider_id": found.ProviderID})
	})
	if denied {
		db.auditDenied(ctx, "document", id)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DocumentExists reports whether the actor's organization has a document
// with this ID. It returns no document data and is not audited itself; it
// serves the orphan-blob sweep, which records what it removes.
func (db *DB) DocumentExists(ctx context.Context, id string) (bool, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return false, err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermDocumentWrite); err != nil {
		return false, err
	}
	var n int
	err = db.view(ctx, func(tx *Tx) error {
		return tx.queryRow("SELECT count(*) FROM documents WHERE id = ? AND org_id = ?", id, org).Scan(&n)
	})
	return n > 0, err
}
