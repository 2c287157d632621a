package sqlstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// countDenied counts the authz.denied events on target in the org.
func countDenied(t *testing.T, db *sqlstore.DB, _ context.Context, orgID, targetID string) int {
	t.Helper()
	ctx := storetest.As("aud", orgID, credtrack.RoleAuditor)
	evs, _, err := db.FindAuditEvents(ctx, credtrack.AuditFilter{Action: "authz.denied", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.TargetID == targetID {
			n++
		}
	}
	return n
}

// TestProviderSelfService: a provider-role member maintains the
// credentials and contact details of the record linked to their account;
// what they enter is pending verification; anything else is refused with
// nothing changed and the refusal on record.
func TestProviderSelfService(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		sys, org := storetest.NewOrg(t, db, "Org A")
		sysB, _ := storetest.NewOrg(t, db, "Org B")
		nurse := &credtrack.User{Email: "nurse@example.org"}
		if err := db.CreateUser(sys, nurse); err != nil {
			t.Fatal(err)
		}
		mine, other, far := newProvider("1234567893"), newProvider(""), newProvider("")
		mine.UserID = nurse.ID
		for _, p := range []*credtrack.Provider{mine, other} {
			if err := db.CreateProvider(sys, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.CreateProvider(sysB, far); err != nil {
			t.Fatal(err)
		}
		verified := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
		lic := &credtrack.Credential{ProviderID: mine.ID, Type: credtrack.CredStateLicense, Number: "RN123456", Jurisdiction: "MO",
			ExpiresOn: credtrack.Date{Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, VerifiedAt: verified, VerifiedBy: "MO board"}
		otherLic := &credtrack.Credential{ProviderID: other.ID, Type: credtrack.CredStateLicense, Number: "RN999999", Jurisdiction: "MO"}
		for _, c := range []*credtrack.Credential{lic, otherLic} {
			if err := db.CreateCredential(sys, c); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Hour)
		me := storetest.As(nurse.ID, org.ID, credtrack.RoleProvider)
		today := credtrack.DateOf(clock.Now())

		// Add a CE credit: stored, but a claimed verification is dropped.
		ce := &credtrack.Credential{ProviderID: mine.ID, Type: credtrack.CredCE, Issuer: "ANCC", Jurisdiction: "MO",
			IssuedOn: today, Details: map[string]string{"course": "Sepsis update", "hours": "2"},
			VerifiedAt: clock.Now(), VerifiedBy: "myself"}
		if err := db.CreateCredential(me, ce); err != nil {
			t.Fatal(err)
		}
		// A certificate must be a document of their own record.
		forged := &credtrack.Credential{ProviderID: mine.ID, Type: credtrack.CredCE, Jurisdiction: "MO", IssuedOn: today,
			Details: map[string]string{"hours": "1", "certificate_document_id": "someone-elses-document"}}
		wantCode(t, db.CreateCredential(me, forged), credtrack.EINVALID)
		got, err := db.FindCredentialByID(me, ce.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.VerifiedAt.IsZero() || got.VerifiedBy != "" || got.Status(today, 90) != credtrack.StatusPending {
			t.Fatalf("self-entered CE = verified %v by %q, status %s", got.VerifiedAt, got.VerifiedBy, got.Status(today, 90))
		}
		ev := lastEvent(t, db, sys, "credential.created")
		if ev.TargetID != ce.ID || ev.ActorID != nurse.ID || ev.ActorRole != credtrack.RoleProvider || ev.Details["self_service"] != "true" {
			t.Fatalf("credential.created = %+v", ev)
		}

		// Renew the verified license: the change clears the verification.
		l, err := db.FindCredentialByID(me, lic.ID)
		if err != nil {
			t.Fatal(err)
		}
		l.ExpiresOn = credtrack.Date{Time: time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)}
		l.Number = ""
		if err := db.UpdateCredential(me, l); err != nil {
			t.Fatal(err)
		}
		l, _ = db.FindCredentialByID(me, lic.ID)
		if !l.VerifiedAt.IsZero() || l.Number != "RN123456" || l.Status(today, 90) != credtrack.StatusPending {
			t.Fatalf("renewed license = %+v", l)
		}
		if ev := lastEvent(t, db, sys, "credential.updated"); ev.Details["fields"] != "expires_on,verification" || ev.ActorID != nurse.ID {
			t.Fatalf("credential.updated = %+v", ev)
		}
		// Saving without a change keeps a staff verification.
		staff := storetest.As("coord", org.ID, credtrack.RoleCoordinator)
		l.VerifiedAt, l.VerifiedBy, l.Number = verified, "MO board", ""
		if err := db.UpdateCredential(staff, l); err != nil {
			t.Fatal(err)
		}
		l, _ = db.FindCredentialByID(me, lic.ID)
		l.Number, l.VerifiedAt, l.VerifiedBy = "", time.Time{}, ""
		if err := db.UpdateCredential(me, l); err != nil {
			t.Fatal(err)
		}
		if l, _ = db.FindCredentialByID(me, lic.ID); !l.VerifiedAt.Equal(verified) {
			t.Fatalf("an unchanged save lost the verification: %+v", l)
		}

		// Numbers: their own credential numbers and NPI, not SSN or DOB.
		if v, err := db.RevealCredentialNumber(me, lic.ID); err != nil || v != "RN123456" {
			t.Fatalf("reveal own license = %q, %v", v, err)
		}
		if v, err := db.RevealProviderField(me, mine.ID, "npi"); err != nil || v != "1234567893" {
			t.Fatalf("reveal own NPI = %q, %v", v, err)
		}
		if ev := lastEvent(t, db, sys, "sensitive.revealed"); ev.ActorID != nurse.ID || ev.Details["field"] != "npi" {
			t.Fatalf("sensitive.revealed = %+v", ev)
		}
		for _, f := range []string{"ssn", "dob"} {
			_, err := db.RevealProviderField(me, mine.ID, f)
			wantCode(t, err, credtrack.EFORBIDDEN)
		}

		// Contact details.
		if err := db.UpdateProviderContact(me, mine.ID, " Abby@Example.org ", "+1 (314) 555-0100"); err != nil {
			t.Fatal(err)
		}
		p, err := db.FindProviderByID(me, mine.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Email != "abby@example.org" || p.Phone != "+1 (314) 555-0100" || p.LastName != "Okafor" || p.UserID != nurse.ID || !p.Active {
			t.Fatalf("after contact update: %+v", p)
		}
		if ev := lastEvent(t, db, sys, "provider.updated"); ev.Details["fields"] != "email,phone" || ev.ActorID != nurse.ID {
			t.Fatalf("provider.updated = %+v", ev)
		}
		wantCode(t, db.UpdateProviderContact(me, mine.ID, "a@b.c", "call me<script>"), credtrack.EINVALID)
		wantCode(t, db.UpdateProviderContact(me, mine.ID, "not an address", ""), credtrack.EINVALID)

		// Delete: an unverified credential of their own, not a verified one.
		before := countDenied(t, db, sys, org.ID, lic.ID)
		wantCode(t, db.DeleteCredential(me, lic.ID), credtrack.EFORBIDDEN)
		if _, err := db.FindCredentialByID(sys, lic.ID); err != nil {
			t.Fatalf("verified license deleted by its provider: %v", err)
		}
		if countDenied(t, db, sys, org.ID, lic.ID) != before+1 {
			t.Error("refused delete not audited")
		}
		if err := db.DeleteCredential(me, ce.ID); err != nil {
			t.Fatal(err)
		}
		if ev := lastEvent(t, db, sys, "credential.deleted"); ev.TargetID != ce.ID || ev.ActorID != nurse.ID {
			t.Fatalf("credential.deleted = %+v", ev)
		}

		// Refusals: someone else's record, another organization's IDs, an
		// unlinked provider member, a provider-role API token, an auditor.
		// Each is refused, nothing changes, and the refusal is on record.
		stranger := storetest.As("stranger", org.ID, credtrack.RoleProvider)
		token := credtrack.NewContextWithActor(t.Context(), credtrack.Actor{Kind: credtrack.ActorToken, ID: nurse.ID,
			OrgID: org.ID, Role: credtrack.RoleProvider})
		snapshot := func() string {
			t.Helper()
			var s string
			for _, id := range []string{mine.ID, other.ID} {
				p, err := db.FindProviderByID(sys, id)
				if err != nil {
					t.Fatal(err)
				}
				s += p.Email + "|" + p.Phone + "|" + p.UpdatedAt.String()
				for _, c := range p.Credentials {
					s += "|" + c.ID + c.ExpiresOn.String() + c.UpdatedAt.String() + c.VerifiedAt.String()
				}
			}
			return s
		}
		was := snapshot()
		for _, tc := range []struct {
			name           string
			ctx            context.Context
			provider, cred string
			org            string // the organization the denial is recorded in
		}{
			{"another provider", me, other.ID, otherLic.ID, org.ID},
			{"another org", me, far.ID, otherLic.ID, org.ID},
			{"unlinked member", stranger, mine.ID, lic.ID, org.ID},
			{"provider token", token, mine.ID, lic.ID, org.ID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				deniedBefore := countDenied(t, db, sys, tc.org, tc.provider)
				c := &credtrack.Credential{ProviderID: tc.provider, Type: credtrack.CredCE, Jurisdiction: "MO", IssuedOn: today,
					Details: map[string]string{"hours": "1"}}
				wantCode(t, db.CreateCredential(tc.ctx, c), credtrack.ENOTFOUND)
				wantCode(t, db.UpdateProviderContact(tc.ctx, tc.provider, "x@example.org", "1"), credtrack.ENOTFOUND)
				_, err := db.RevealProviderField(tc.ctx, tc.provider, "npi")
				wantCode(t, err, credtrack.ENOTFOUND)
				if tc.name != "another org" {
					if n := countDenied(t, db, sys, tc.org, tc.provider); n < deniedBefore+3 {
						t.Errorf("authz.denied events on the provider: %d, want %d", n, deniedBefore+3)
					}
				}
				upd := &credtrack.Credential{ID: tc.cred, Type: credtrack.CredStateLicense, Jurisdiction: "MO", Notes: "mine now"}
				wantCode(t, db.UpdateCredential(tc.ctx, upd), credtrack.ENOTFOUND)
				wantCode(t, db.DeleteCredential(tc.ctx, tc.cred), credtrack.ENOTFOUND)
				_, err = db.RevealCredentialNumber(tc.ctx, tc.cred)
				wantCode(t, err, credtrack.ENOTFOUND)
				if snapshot() != was {
					t.Fatal("a refused write changed something")
				}
			})
		}
		// The other organization's record is untouched, and roles without
		// own.write or credential.write are refused outright.
		if p, err := db.FindProviderByID(sysB, far.ID); err != nil || p.Email != "" || len(p.Credentials) != 0 {
			t.Fatalf("org B record = %+v, %v", p, err)
		}
		aud := storetest.As("aud", org.ID, credtrack.RoleAuditor)
		wantCode(t, db.CreateCredential(aud, &credtrack.Credential{ProviderID: mine.ID, Type: credtrack.CredCE, IssuedOn: today,
			Details: map[string]string{"hours": "1"}}), credtrack.EFORBIDDEN)
		wantCode(t, db.UpdateProviderContact(aud, mine.ID, "", ""), credtrack.EFORBIDDEN)
		_, err = db.RevealCredentialNumber(aud, lic.ID)
		wantCode(t, err, credtrack.EFORBIDDEN)
	})
}

// TestProviderCannotDeleteFlaggedDocument: a provider may delete a
// document of their own record, but not one flagged as possible fraud
// (the same file is on another provider's record); staff may.
func TestProviderCannotDeleteFlaggedDocument(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		sys, org := storetest.NewOrg(t, db, "Org A")
		nurse := &credtrack.User{Email: "nurse@example.org"}
		if err := db.CreateUser(sys, nurse); err != nil {
			t.Fatal(err)
		}
		mine, other := newProvider(""), newProvider("")
		mine.UserID = nurse.ID
		for _, p := range []*credtrack.Provider{mine, other} {
			if err := db.CreateProvider(sys, p); err != nil {
				t.Fatal(err)
			}
		}
		doc := func(provider string, sum byte) *credtrack.Document {
			d := &credtrack.Document{ID: credtrack.NewID(), ProviderID: provider, Filename: "card.pdf",
				ContentType: "application/pdf", Size: 10, SHA256: bytes.Repeat([]byte{sum}, 32), BlobKey: credtrack.NewID()}
			if err := db.CreateDocument(sys, d, bytes.Repeat([]byte{5}, 32)); err != nil {
				t.Fatal(err)
			}
			return d
		}
		plain, flagged := doc(mine.ID, 1), doc(mine.ID, 2)
		doc(other.ID, 2) // the same file on another provider's record
		me := storetest.As(nurse.ID, org.ID, credtrack.RoleProvider)

		_, err := db.DeleteDocument(me, flagged.ID)
		wantCode(t, err, credtrack.EFORBIDDEN)
		bg := context.Background()
		if n, err := db.QueryIntForTest(bg, "SELECT count(*) FROM documents WHERE id = ?", flagged.ID); err != nil || n != 1 {
			t.Fatalf("the flagged document after the refused delete: %d rows, %v", n, err)
		}
		if _, err := db.DeleteDocument(me, plain.ID); err != nil {
			t.Fatalf("deleting an own, unflagged document: %v", err)
		}
		staff := storetest.As("coord", org.ID, credtrack.RoleCoordinator)
		if _, err := db.DeleteDocument(staff, flagged.ID); err != nil {
			t.Fatalf("staff deleting the flagged document: %v", err)
		}
	})
}
