package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"credtrack"
)

// UpdateProvider replaces the stored fields of provider p.ID in the
// actor's organization (provider.write). NPI is replaced as given (empty
// clears it); SSN and date of birth, which reads never open, are kept when
// p leaves them empty. Sealed values are sealed again under the current
// key. Audited as "provider.updated" in the same transaction, with the
// names (never the values) of the changed fields.
func (db *DB) UpdateProvider(ctx context.Context, p *credtrack.Provider) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermProviderWrite); err != nil {
		return err
	}
	if p.ID == "" {
		return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		old, err := scanProvider(tx.queryRow("SELECT "+providerColumns+" FROM providers WHERE id = ? AND org_id = ?", p.ID, org))
		if err != nil {
			return err
		}
		oldNPI, err := db.open(org, "providers", "npi", p.ID, old.npi)
		if err != nil {
			return err
		}
		var changed []string
		diff := func(name string, a, b any) {
			if a != b {
				changed = append(changed, name)
			}
		}
		o := &old.p
		diff("user_id", o.UserID, p.UserID)
		diff("first_name", o.FirstName, p.FirstName)
		diff("middle_name", o.MiddleName, p.MiddleName)
		diff("last_name", o.LastName, p.LastName)
		diff("suffix", o.Suffix, p.Suffix)
		diff("email", o.Email, p.Email)
		diff("phone", o.Phone, p.Phone)
		diff("profession", o.Profession, p.Profession)
		diff("specialty", o.Specialty, p.Specialty)
		diff("employer", o.Employer, p.Employer)
		diff("state", o.State, p.State)
		diff("npi", oldNPI, p.NPI)
		diff("active", o.Active, p.Active)

		npi, err := db.seal(org, "providers", "npi", p.ID, p.NPI)
		if err != nil {
			return err
		}
		var userID any
		if p.UserID != "" {
			userID = p.UserID
		}
		p.OrgID, p.CreatedAt, p.UpdatedAt = org, o.CreatedAt, tx.now
		if _, err := tx.exec(`UPDATE providers SET user_id = ?, first_name = ?, middle_name = ?, last_name = ?, suffix = ?,
			sort_name = ?, email = ?, phone = ?, profession = ?, specialty = ?, employer = ?, state = ?,
			npi_enc = ?, npi_bidx = ?, npi_last4 = ?, active = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
			userID, p.FirstName, p.MiddleName, p.LastName, p.Suffix, sortName(p), p.Email, p.Phone, string(p.Profession),
			p.Specialty, p.Employer, p.State, npi, db.sealer.Index(org, "npi", p.NPI), credtrack.Last4(p.NPI),
			p.Active, ts(p.UpdatedAt), p.ID, org); err != nil {
			return err
		}
		p.NPILast4 = credtrack.Last4(p.NPI)
		if p.SSN != "" {
			changed = append(changed, "ssn")
			ssn, err := db.seal(org, "providers", "ssn", p.ID, p.SSN)
			if err != nil {
				return err
			}
			if _, err := tx.exec("UPDATE providers SET ssn_enc = ?, ssn_bidx = ?, ssn_last4 = ? WHERE id = ? AND org_id = ?",
				ssn, db.sealer.Index(org, "ssn", p.SSN), credtrack.Last4(p.SSN), p.ID, org); err != nil {
				return err
			}
			p.SSNLast4 = credtrack.Last4(p.SSN)
		} else {
			p.SSNLast4 = old.ssnLast4
		}
		if !p.DOB.IsZero() {
			changed = append(changed, "dob")
			dob, err := db.seal(org, "providers", "dob", p.ID, p.DOB.String())
			if err != nil {
				return err
			}
			if _, err := tx.exec("UPDATE providers SET dob_enc = ? WHERE id = ? AND org_id = ?", dob, p.ID, org); err != nil {
				return err
			}
			p.HasDOB = true
		} else {
			p.HasDOB = o.HasDOB
		}
		return tx.audit("provider.updated", "provider", p.ID, credtrack.OutcomeSuccess,
			map[string]string{"fields": strings.Join(changed, ",")})
	})
}

// ContactFields are the fields of a provider record that the provider may
// maintain themselves (UpdateProviderContact). Name, profession, NPI, SSN,
// date of birth, status and the account link stay with staff: they are
// what primary-source verification and screening match on, so a change
// needs someone to check it.
var ContactFields = []string{"email", "phone"}

// UpdateProviderContact changes the email address and phone number of a
// provider: staff with provider.write on any record of the organization,
// a provider-role member (own.write) on the record linked to their own
// account only. Nothing else of the record changes. Someone else's record
// is not found, and the refusal is audited ("authz.denied"). Audited as
// "provider.updated" in the same transaction, with the names of the
// changed fields.
func (db *DB) UpdateProviderContact(ctx context.Context, providerID, email, phone string) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermProviderWrite) && !a.Can(credtrack.PermOwnRecordWrite) {
		return credtrack.Authorize(ctx, credtrack.PermProviderWrite)
	}
	if email = strings.TrimSpace(email); email != "" {
		if email, err = credtrack.NormalizeEmail(email); err != nil {
			return err
		}
	}
	phone = strings.TrimSpace(phone)
	if len(phone) > 40 || strings.Trim(phone, "0123456789+-(). ") != "" {
		return credtrack.Errorf(credtrack.EINVALID, "a phone number is up to 40 digits, spaces and + - ( ) . characters")
	}
	denied := false
	err = db.update(ctx, func(tx *Tx) error {
		var owner, oldEmail, oldPhone string
		if err := tx.queryRow("SELECT COALESCE(user_id, ''), email, phone FROM providers WHERE id = ? AND org_id = ?", providerID, org).
			Scan(&owner, &oldEmail, &oldPhone); err != nil {
			return err
		}
		if !mayRecord(a, credtrack.PermProviderWrite, credtrack.PermOwnRecordWrite, owner) {
			denied = true
			return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		var changed []string
		if email != oldEmail {
			changed = append(changed, "email")
		}
		if phone != oldPhone {
			changed = append(changed, "phone")
		}
		if _, err := tx.exec("UPDATE providers SET email = ?, phone = ?, updated_at = ? WHERE id = ? AND org_id = ?",
			email, phone, ts(tx.now), providerID, org); err != nil {
			return err
		}
		ev := map[string]string{"fields": strings.Join(changed, ",")}
		if !a.Can(credtrack.PermProviderWrite) {
			ev["self_service"] = "true"
		}
		return tx.audit("provider.updated", "provider", providerID, credtrack.OutcomeSuccess, ev)
	})
	if denied {
		db.auditDenied(ctx, "provider", providerID)
	}
	return err
}

// DeleteProvider deletes a provider of the actor's organization with its
// credentials, verification records and checks, and document records
// (provider.write). A document record holds the wrapped key of its blob,
// so the blob can no longer be decrypted once the record is gone; callers
// that can should delete documents through the document service first so
// that the blobs go too (the web handler does). Audited as
// "provider.deleted" in the same transaction, with the counts removed.
func (db *DB) DeleteProvider(ctx context.Context, id string) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermProviderWrite); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		var prof string
		if err := tx.queryRow("SELECT profession FROM providers WHERE id = ? AND org_id = ?", id, org).Scan(&prof); err != nil {
			return err
		}
		details := map[string]string{"profession": prof}
		for _, t := range []struct{ table, key string }{
			{"documents", "documents"}, {"verification_checks", "verification_checks"}, {"verifications", "verifications"},
			{"credentials", "credentials"},
		} {
			res, err := tx.exec("DELETE FROM "+t.table+" WHERE provider_id = ? AND org_id = ?", id, org)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			details[t.key] = strconv.FormatInt(n, 10)
		}
		if _, err := tx.exec("DELETE FROM providers WHERE id = ? AND org_id = ?", id, org); err != nil {
			return err
		}
		return tx.audit("provider.deleted", "provider", id, credtrack.OutcomeSuccess, details)
	})
}

// UpdateCredential replaces the stored fields of credential c.ID in the
// actor's organization (credential.write), or, for a provider-role member
// (own.write), of a credential on the record linked to their own account.
// The provider cannot change. An empty Number keeps the stored number.
// When the type, number or jurisdiction changes, the last verification no
// longer describes the credential and is cleared; when a provider changes
// anything of their own credential, the verification is cleared too (and
// the one they send is ignored), so the credential is pending verification
// until staff check it again. Someone else's credential is not found, and
// the refusal is audited ("authz.denied"). Audited as "credential.updated"
// in the same transaction, with the names (never the values) of the
// changed fields.
func (db *DB) UpdateCredential(ctx context.Context, c *credtrack.Credential) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermCredentialWrite) && !a.Can(credtrack.PermOwnRecordWrite) {
		return credtrack.Authorize(ctx, credtrack.PermCredentialWrite)
	}
	self := !a.Can(credtrack.PermCredentialWrite)
	if c.ID == "" {
		return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
	}
	denied := false
	err = db.update(ctx, func(tx *Tx) error {
		old, sealed, err := scanCredential(tx.queryRow("SELECT "+credentialColumns+" FROM credentials WHERE id = ? AND org_id = ?", c.ID, org))
		if err != nil {
			return err
		}
		owner, err := tx.providerOwner(org, old.ProviderID)
		if err != nil {
			return err
		}
		if !mayRecord(a, credtrack.PermCredentialWrite, credtrack.PermOwnRecordWrite, owner) {
			denied = true
			return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		if self {
			c.VerifiedAt, c.VerifiedBy = old.VerifiedAt, old.VerifiedBy
		}
		if old.Number, err = db.open(org, "credentials", "number", c.ID, sealed); err != nil {
			return err
		}
		c.ProviderID, c.OrgID, c.CreatedAt = old.ProviderID, org, old.CreatedAt
		keptNumber := c.Number == ""
		if keptNumber {
			c.Number = old.Number
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if err := tx.checkDocumentDetails(org, c, old.Details); err != nil {
			return err
		}
		var changed []string
		diff := func(name string, a, b any) {
			if a != b {
				changed = append(changed, name)
			}
		}
		diff("type", old.Type, c.Type)
		diff("issuer", old.Issuer, c.Issuer)
		diff("jurisdiction", old.Jurisdiction, c.Jurisdiction)
		diff("number", old.Number, c.Number)
		diff("issued_on", old.IssuedOn.String(), c.IssuedOn.String())
		diff("expires_on", old.ExpiresOn.String(), c.ExpiresOn.String())
		diff("notes", old.Notes, c.Notes)
		if !maps.Equal(old.Details, c.Details) {
			changed = append(changed, "details")
		}
		if (self && len(changed) > 0) ||
			slices.ContainsFunc(changed, func(f string) bool { return f == "type" || f == "number" || f == "jurisdiction" }) {
			c.VerifiedAt, c.VerifiedBy = time.Time{}, ""
		}
		if !c.VerifiedAt.Equal(old.VerifiedAt) || c.VerifiedBy != old.VerifiedBy {
			changed = append(changed, "verification")
		}
		details, err := json.Marshal(c.Details)
		if err != nil || c.Details == nil {
			details = []byte("{}")
		}
		number, err := db.seal(org, "credentials", "number", c.ID, c.Number)
		if err != nil {
			return err
		}
		c.UpdatedAt = tx.now
		if _, err := tx.exec(`UPDATE credentials SET type = ?, issuer = ?, jurisdiction = ?, number_enc = ?, number_bidx = ?,
			number_last4 = ?, issued_on = ?, expires_on = ?, verified_at = ?, verified_by = ?, notes = ?, details = ?,
			updated_at = ? WHERE id = ? AND org_id = ?`,
			string(c.Type), c.Issuer, c.Jurisdiction, number, db.sealer.Index(org, "credential."+string(c.Type), c.Number),
			c.NumberLast4, dateStr(c.IssuedOn), dateStr(c.ExpiresOn), ts(c.VerifiedAt), c.VerifiedBy, c.Notes,
			string(details), ts(c.UpdatedAt), c.ID, org); err != nil {
			return err
		}
		if keptNumber {
			c.Number = ""
		}
		ev := map[string]string{"type": string(c.Type), "provider_id": c.ProviderID, "fields": strings.Join(changed, ",")}
		if self {
			ev["self_service"] = "true"
		}
		return tx.audit("credential.updated", "credential", c.ID, credtrack.OutcomeSuccess, ev)
	})
	if denied {
		db.auditDenied(ctx, "credential", c.ID)
	}
	return err
}

// DeleteCredential deletes a credential of the actor's organization
// (credential.write). A provider-role member (own.write) may delete a
// credential of their own record that is not verified (one they entered,
// or whose verification a change cleared); a verified credential is part
// of the organization's file and only staff remove it (EFORBIDDEN, nothing
// changes, audited "authz.denied"). Documents and verification records
// attached to it stay on the provider, detached from the credential.
// Audited as "credential.deleted" in the same transaction.
func (db *DB) DeleteCredential(ctx context.Context, id string) error {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermCredentialWrite) && !a.Can(credtrack.PermOwnRecordWrite) {
		return credtrack.Authorize(ctx, credtrack.PermCredentialWrite)
	}
	self := !a.Can(credtrack.PermCredentialWrite)
	denied := false
	err = db.update(ctx, func(tx *Tx) error {
		var typ, provider string
		var verified sql.NullInt64
		if err := tx.queryRow("SELECT type, provider_id, verified_at FROM credentials WHERE id = ? AND org_id = ?", id, org).
			Scan(&typ, &provider, &verified); err != nil {
			return err
		}
		owner, err := tx.providerOwner(org, provider)
		if err != nil {
			return err
		}
		if !mayRecord(a, credtrack.PermCredentialWrite, credtrack.PermOwnRecordWrite, owner) {
			denied = true
			return credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		if self && !fromTS(verified).IsZero() {
			denied = true
			return credtrack.Errorf(credtrack.EFORBIDDEN, "this credential has been verified; ask your credentialing team to remove it")
		}
		for _, table := range []string{"documents", "verifications", "verification_checks"} {
			if _, err := tx.exec("UPDATE "+table+" SET credential_id = NULL WHERE credential_id = ? AND org_id = ?", id, org); err != nil {
				return err
			}
		}
		if _, err := tx.exec("DELETE FROM credentials WHERE id = ? AND org_id = ?", id, org); err != nil {
			return err
		}
		ev := map[string]string{"type": typ, "provider_id": provider}
		if self {
			ev["self_service"] = "true"
		}
		return tx.audit("credential.deleted", "credential", id, credtrack.OutcomeSuccess, ev)
	})
	if denied {
		db.auditDenied(ctx, "credential", id)
	}
	return err
}

// The sensitive fields RevealProviderField opens.
var revealableProviderFields = []string{"npi", "ssn", "dob"}

// ownRevealableFields are those a provider may reveal on their own record.
var ownRevealableFields = []string{"npi"}

// RevealProviderField opens one sensitive field of a provider ("npi",
// "ssn" or "dob") for a person who asked to see it (sensitive.reveal). The
// reveal is audited ("sensitive.revealed", with the field's name, never
// its value) before the value is returned; if the event cannot be written
// nothing is revealed. "" with no error means the field is empty.
//
// A provider-role member may reveal the NPI of their own record (own.read),
// audited the same way: NPIs are public in the NPPES registry, and seeing
// the stored one lets them check it. Their own SSN and date of birth they
// know already; revealing those would serve only someone holding a stolen
// session (provider accounts need not enrol MFA), so that is EFORBIDDEN.
// Anyone else's record is not found, audited as "authz.denied".
func (db *DB) RevealProviderField(ctx context.Context, providerID, field string) (string, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return "", err
	}
	a := credtrack.ActorFromContext(ctx)
	staff := a.Can(credtrack.PermSensitiveReveal)
	if !staff && !a.Can(credtrack.PermOwnRecordRead) {
		return "", credtrack.Authorize(ctx, credtrack.PermSensitiveReveal)
	}
	if !staff && slices.Contains(revealableProviderFields, field) && !slices.Contains(ownRevealableFields, field) {
		db.auditDenied(ctx, "provider", providerID)
		return "", credtrack.Errorf(credtrack.EFORBIDDEN, "your role may not reveal this field; ask your credentialing team")
	}
	if !slices.Contains(revealableProviderFields, field) {
		// Another organization's record is not found, whatever the field.
		err := db.view(ctx, func(tx *Tx) error {
			var one int
			return tx.queryRow("SELECT 1 FROM providers WHERE id = ? AND org_id = ?", providerID, org).Scan(&one)
		})
		if err != nil {
			return "", err
		}
		return "", credtrack.Errorf(credtrack.EINVALID, "unknown field")
	}
	var value string
	err = db.auditedRead(ctx, "sensitive.revealed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		var sealed []byte
		var owner string
		if err := tx.queryRow("SELECT "+field+"_enc, COALESCE(user_id, '') FROM providers WHERE id = ? AND org_id = ?", providerID, org).
			Scan(&sealed, &owner); err != nil {
			return nil, err
		}
		if !mayRecord(a, credtrack.PermSensitiveReveal, credtrack.PermOwnRecordRead, owner) {
			return actorEvent(ctx, "authz.denied", "provider", providerID, credtrack.OutcomeDenied, nil),
				credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		v, err := db.open(org, "providers", field, providerID, sealed)
		if err != nil {
			return nil, err
		}
		value = v
		return actorEvent(ctx, "sensitive.revealed", "provider", providerID, credtrack.OutcomeSuccess,
			map[string]string{"field": field}), nil
	})
	if err != nil {
		return "", err
	}
	return value, nil
}

// RevealCredentialNumber opens the number of a credential (license, DEA,
// policy number…) for a person who asked to see it (sensitive.reveal), or
// for a provider-role member on a credential of their own record
// (own.read: the numbers are theirs, and they need them to check what
// they entered), audited as "sensitive.revealed" before the value is
// returned. Anyone else's credential is not found, audited as
// "authz.denied".
func (db *DB) RevealCredentialNumber(ctx context.Context, id string) (string, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return "", err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermSensitiveReveal) && !a.Can(credtrack.PermOwnRecordRead) {
		return "", credtrack.Authorize(ctx, credtrack.PermSensitiveReveal)
	}
	var value string
	err = db.auditedRead(ctx, "sensitive.revealed", func(tx *Tx) (*credtrack.AuditEvent, error) {
		var sealed []byte
		var typ, owner string
		if err := tx.queryRow(`SELECT c.number_enc, c.type, COALESCE(p.user_id, '') FROM credentials c
			JOIN providers p ON p.id = c.provider_id AND p.org_id = c.org_id WHERE c.id = ? AND c.org_id = ?`, id, org).
			Scan(&sealed, &typ, &owner); err != nil {
			return nil, err
		}
		if !mayRecord(a, credtrack.PermSensitiveReveal, credtrack.PermOwnRecordRead, owner) {
			return actorEvent(ctx, "authz.denied", "credential", id, credtrack.OutcomeDenied, nil),
				credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		v, err := db.open(org, "credentials", "number", id, sealed)
		if err != nil {
			return nil, err
		}
		value = v
		return actorEvent(ctx, "sensitive.revealed", "credential", id, credtrack.OutcomeSuccess,
			map[string]string{"field": "number", "type": typ}), nil
	})
	if err != nil {
		return "", err
	}
	return value, nil
}
