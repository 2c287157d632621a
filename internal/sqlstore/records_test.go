package sqlstore_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// lastEvent returns the newest audit event with this action in ctx's org.
func lastEvent(t *testing.T, db *sqlstore.DB, ctx context.Context, action string) *credtrack.AuditEvent {
	t.Helper()
	evs, _, err := db.FindAuditEvents(ctx, credtrack.AuditFilter{Action: action, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatalf("no %s event", action)
	}
	return evs[0]
}

func TestUpdateDeleteProvider(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctxA, orgA := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		p := newProvider("1234567893")
		p.SSN, p.DOB = "900123456", credtrack.Date{Time: time.Date(1980, 5, 1, 0, 0, 0, 0, time.UTC)}
		if err := db.CreateProvider(ctxA, p); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)

		got, err := db.FindProviderByID(ctxA, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		got.LastName, got.Specialty, got.NPI = "Okafor-Reyes", "ICU", "1528060837"
		if err := db.UpdateProvider(ctxA, got); err != nil {
			t.Fatal(err)
		}
		again, err := db.FindProviderByID(ctxA, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.LastName != "Okafor-Reyes" || again.NPI != "1528060837" || again.NPILast4 != "0837" ||
			again.SSNLast4 != "3456" || !again.HasDOB || !again.UpdatedAt.After(again.CreatedAt) {
			t.Fatalf("after update: %+v", again)
		}
		// SSN and DOB were kept although the update left them empty.
		if ssn, err := db.RevealProviderField(ctxA, p.ID, "ssn"); err != nil || ssn != "900123456" {
			t.Fatalf("SSN after update = %q, %v", ssn, err)
		}
		if dob, err := db.RevealProviderField(ctxA, p.ID, "dob"); err != nil || dob != "1980-05-01" {
			t.Fatalf("DOB after update = %q, %v", dob, err)
		}
		ev := lastEvent(t, db, ctxA, "provider.updated")
		if ev.TargetID != p.ID || ev.Details["fields"] != "last_name,specialty,npi" {
			t.Fatalf("provider.updated = %+v", ev)
		}
		// The old NPI no longer finds the provider; the new one does.
		if _, n, _ := db.FindProviders(ctxA, credtrack.ProviderFilter{NPI: "1234567893"}); n != 0 {
			t.Error("old NPI still indexed")
		}
		if _, n, _ := db.FindProviders(ctxA, credtrack.ProviderFilter{NPI: "1528060837"}); n != 1 {
			t.Error("new NPI not indexed")
		}
		// Validation, scoping, permissions.
		bad := *again
		bad.NPI = "1234567890"
		wantCode(t, db.UpdateProvider(ctxA, &bad), credtrack.EINVALID)
		other := *again
		wantCode(t, db.UpdateProvider(ctxB, &other), credtrack.ENOTFOUND)
		wantCode(t, db.UpdateProvider(storetest.As("u", orgA.ID, credtrack.RoleAuditor), again), credtrack.EFORBIDDEN)
		wantCode(t, db.DeleteProvider(ctxB, p.ID), credtrack.ENOTFOUND)
		wantCode(t, db.DeleteProvider(storetest.As("u", orgA.ID, credtrack.RoleAuditor), p.ID), credtrack.EFORBIDDEN)
		_, err = db.RevealProviderField(storetest.As("u", orgA.ID, credtrack.RoleAuditor), p.ID, "ssn")
		wantCode(t, err, credtrack.EFORBIDDEN)
		_, err = db.RevealProviderField(ctxB, p.ID, "ssn")
		wantCode(t, err, credtrack.ENOTFOUND)
		_, err = db.RevealProviderField(ctxA, p.ID, "first_name")
		wantCode(t, err, credtrack.EINVALID)
		if ev := lastEvent(t, db, ctxA, "sensitive.revealed"); ev.Details["field"] != "dob" || ev.TargetID != p.ID {
			t.Fatalf("sensitive.revealed = %+v", ev)
		}

		// Delete with a credential, a document and a verification attached.
		lic := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredStateLicense, Number: "RN123456", Jurisdiction: "MO",
			Details: map[string]string{"license_type": "RN"}}
		if err := db.CreateCredential(ctxA, lic); err != nil {
			t.Fatal(err)
		}
		doc := &credtrack.Document{ID: credtrack.NewID(), ProviderID: p.ID, CredentialID: lic.ID, Filename: "l.pdf",
			ContentType: "application/pdf", Size: 10, SHA256: bytes.Repeat([]byte{9}, 32), BlobKey: "k"}
		if err := db.CreateDocument(ctxA, doc, bytes.Repeat([]byte{5}, 32)); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteProvider(ctxA, p.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.FindProviderByID(ctxA, p.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
		bg := context.Background()
		for _, table := range []string{"credentials", "documents", "providers"} {
			if n, err := db.QueryIntForTest(bg, "SELECT count(*) FROM "+table+" WHERE org_id = ?", orgA.ID); err != nil || n != 0 {
				t.Errorf("%s left: %d, %v", table, n, err)
			}
		}
		ev = lastEvent(t, db, ctxA, "provider.deleted")
		if ev.TargetID != p.ID || ev.Details["credentials"] != "1" || ev.Details["documents"] != "1" {
			t.Fatalf("provider.deleted = %+v", ev)
		}
		// No identifier in any audit row.
		n, err := db.QueryIntForTest(bg, "SELECT count(*) FROM audit_events WHERE details LIKE '%1528060837%' OR details LIKE '%900123456%' OR details LIKE '%RN123456%'")
		if err != nil || n != 0 {
			t.Fatalf("identifiers in audit details: %d, %v", n, err)
		}
	})
}

func TestUpdateDeleteCredential(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctxA, orgA := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		p := newProvider("")
		if err := db.CreateProvider(ctxA, p); err != nil {
			t.Fatal(err)
		}
		verifiedAt := clock.Now().Add(-time.Hour)
		lic := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredStateLicense, Number: "RN123456", Jurisdiction: "MO",
			Issuer: "Missouri State Board of Nursing", Details: map[string]string{"license_type": "RN", "compact": "yes"},
			VerifiedAt: verifiedAt, VerifiedBy: "nursys"}
		if err := db.CreateCredential(ctxA, lic); err != nil {
			t.Fatal(err)
		}
		if lic.Details["compact"] != "true" {
			t.Fatalf("details not normalized: %v", lic.Details)
		}
		// Changing dates keeps the number (Number left empty) and the verification.
		upd := *lic
		upd.Number, upd.ExpiresOn = "", credtrack.Date{Time: time.Date(2028, 4, 30, 0, 0, 0, 0, time.UTC)}
		upd.Details = map[string]string{"license_type": "RN", "compact": "true", "license_status": "active"}
		if err := db.UpdateCredential(ctxA, &upd); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindCredentialByID(ctxA, lic.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Number != "RN123456" || got.ExpiresOn.String() != "2028-04-30" || got.VerifiedBy != "nursys" ||
			got.Details["license_status"] != "active" {
			t.Fatalf("after update: %+v", got)
		}
		if ev := lastEvent(t, db, ctxA, "credential.updated"); ev.Details["fields"] != "expires_on,details" {
			t.Fatalf("credential.updated = %+v", ev.Details)
		}
		// A new number clears the verification: it described another number.
		got.Number = "RN999999"
		if err := db.UpdateCredential(ctxA, got); err != nil {
			t.Fatal(err)
		}
		got, _ = db.FindCredentialByID(ctxA, lic.ID)
		if got.Number != "RN999999" || !got.VerifiedAt.IsZero() || got.VerifiedBy != "" || got.NumberLast4 != "9999" {
			t.Fatalf("after number change: %+v", got)
		}
		if n, _ := db.RevealCredentialNumber(ctxA, lic.ID); n != "RN999999" {
			t.Fatalf("RevealCredentialNumber = %q", n)
		}
		if ev := lastEvent(t, db, ctxA, "sensitive.revealed"); ev.TargetID != lic.ID || ev.Details["field"] != "number" {
			t.Fatalf("sensitive.revealed = %+v", ev)
		}
		// Invalid details, other org, role.
		bad := *got
		bad.Details = map[string]string{"license_type": "RN", "compact": "perhaps"}
		wantCode(t, db.UpdateCredential(ctxA, &bad), credtrack.EINVALID)
		wantCode(t, db.UpdateCredential(ctxB, got), credtrack.ENOTFOUND)
		wantCode(t, db.UpdateCredential(storetest.As("u", orgA.ID, credtrack.RoleAuditor), got), credtrack.EFORBIDDEN)
		_, err = db.RevealCredentialNumber(ctxB, lic.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
		wantCode(t, db.DeleteCredential(ctxB, lic.ID), credtrack.ENOTFOUND)
		wantCode(t, db.DeleteCredential(storetest.As("u", orgA.ID, credtrack.RoleProvider), lic.ID), credtrack.ENOTFOUND)

		// A document attached to the credential stays on the provider.
		doc := &credtrack.Document{ID: credtrack.NewID(), ProviderID: p.ID, CredentialID: lic.ID, Filename: "l.pdf",
			ContentType: "application/pdf", Size: 10, SHA256: bytes.Repeat([]byte{9}, 32), BlobKey: "k"}
		if err := db.CreateDocument(ctxA, doc, bytes.Repeat([]byte{5}, 32)); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteCredential(ctxA, lic.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.FindCredentialByID(ctxA, lic.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
		docs, err := db.FindDocuments(ctxA, p.ID)
		if err != nil || len(docs) != 1 || docs[0].CredentialID != "" {
			t.Fatalf("documents after deleting the credential: %+v, %v", docs, err)
		}
		if ev := lastEvent(t, db, ctxA, "credential.deleted"); ev.TargetID != lic.ID || ev.Details["type"] != "state_license" {
			t.Fatalf("credential.deleted = %+v", ev)
		}
	})
}

func TestProviderListFiltersAndRequiredSet(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Org A")
		today := credtrack.DateOf(clock.Now())
		in := func(days int) credtrack.Date { return credtrack.Date{Time: today.AddDate(0, 0, days)} }
		mk := func(first, last string, prof credtrack.Profession, creds ...*credtrack.Credential) *credtrack.Provider {
			p := &credtrack.Provider{FirstName: first, LastName: last, Profession: prof, Active: true}
			if err := db.CreateProvider(ctx, p); err != nil {
				t.Fatal(err)
			}
			for _, c := range creds {
				c.ProviderID = p.ID
				c.VerifiedAt, c.VerifiedBy = clock.Now(), "test"
				if err := db.CreateCredential(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(time.Minute)
			return p
		}
		lic := func(exp int) *credtrack.Credential {
			return &credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN" + credtrack.NewID()[:6], Jurisdiction: "MO",
				ExpiresOn: in(exp), Details: map[string]string{"license_type": "RN"}}
		}
		bls := func(exp int) *credtrack.Credential {
			return &credtrack.Credential{Type: credtrack.CredCertification, ExpiresOn: in(exp), Details: map[string]string{"name": "BLS"}}
		}
		ann := mk("Ann", "Able", credtrack.ProfRN, lic(400), bls(400)) // compliant
		bob := mk("Bob", "Baker", credtrack.ProfRN, lic(20))           // missing certification; expiring in 20
		cat := mk("Cat", "Cole", credtrack.ProfRN, lic(-3), bls(200))  // expired
		dan := mk("Dan", "Dunn", credtrack.ProfPT, lic(60))            // missing NPI; expiring in 60

		names := func(f credtrack.ProviderFilter) string {
			t.Helper()
			ps, total, err := db.FindProviders(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range ps {
				out = append(out, p.FirstName)
			}
			if total < len(ps) {
				t.Errorf("total %d < page %d", total, len(ps))
			}
			return strings.Join(out, ",")
		}
		checks := []struct {
			f    credtrack.ProviderFilter
			want string
		}{
			{credtrack.ProviderFilter{}, "Ann,Bob,Cat,Dan"},
			{credtrack.ProviderFilter{Sort: credtrack.SortNameDesc}, "Dan,Cat,Bob,Ann"},
			{credtrack.ProviderFilter{Sort: credtrack.SortNextExpiry}, "Cat,Bob,Dan,Ann"},
			{credtrack.ProviderFilter{Sort: credtrack.SortUpdated}, "Dan,Cat,Bob,Ann"},
			{credtrack.ProviderFilter{Sort: credtrack.SortWorstFirst}, "Cat,Bob,Dan,Ann"},
			{credtrack.ProviderFilter{CredentialType: credtrack.CredCertification}, "Ann,Cat"},
			{credtrack.ProviderFilter{ExpiringWithinDays: 30}, "Bob"},
			{credtrack.ProviderFilter{ExpiringWithinDays: 90}, "Bob,Dan"},
			{credtrack.ProviderFilter{ExpiringWithinDays: 90, Profession: credtrack.ProfPT}, "Dan"},
			{credtrack.ProviderFilter{Status: credtrack.ProviderMissing}, "Bob,Dan"},
			{credtrack.ProviderFilter{Status: credtrack.ProviderExpired}, "Cat"},
			{credtrack.ProviderFilter{Sort: credtrack.SortWorstFirst, Limit: 2, Offset: 1}, "Bob,Dan"},
		}
		for _, c := range checks {
			if got := names(c.f); got != c.want {
				t.Errorf("FindProviders(%+v) = %s, want %s", c.f, got, c.want)
			}
		}
		_ = ann
		_ = cat

		// The organization's required set and window change the statuses.
		s, err := db.GetOrgSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.RequiredCredentials) != 0 {
			t.Fatalf("new org has overrides: %v", s.RequiredCredentials)
		}
		s.RequiredCredentials = credtrack.RequiredCredentialSet{
			credtrack.ProfRN: {credtrack.CredStateLicense},
			credtrack.ProfPT: {credtrack.CredStateLicense},
		}
		s.ExpiringWindowDays = 30
		if err := db.UpdateOrgSettings(ctx, *s); err != nil {
			t.Fatal(err)
		}
		if ev := lastEvent(t, db, ctx, "org.settings_changed"); ev.Details["required_credentials_changed"] != "RN,PT" {
			t.Fatalf("org.settings_changed = %+v", ev.Details)
		}
		if got := names(credtrack.ProviderFilter{Status: credtrack.ProviderMissing}); got != "" {
			t.Errorf("missing after override = %s", got)
		}
		if got := names(credtrack.ProviderFilter{Status: credtrack.ProviderCompliant}); got != "Ann,Dan" {
			t.Errorf("compliant after override = %s", got)
		}
		if got := names(credtrack.ProviderFilter{Status: credtrack.ProviderExpiring}); got != "Bob" {
			t.Errorf("expiring after override = %s", got)
		}
		o, err := db.FindOrgByID(ctx, s2org(ctx))
		if err != nil || len(o.RequiredCredentials.For(credtrack.ProfRN)) != 1 || len(o.RequiredCredentials.For(credtrack.ProfMD)) != 5 {
			t.Fatalf("FindOrgByID required = %v, %v", o, err)
		}
		// Nil leaves the set alone; empty restores the defaults.
		s.RequiredCredentials = nil
		if err := db.UpdateOrgSettings(ctx, *s); err != nil {
			t.Fatal(err)
		}
		if s2, _ := db.GetOrgSettings(ctx); len(s2.RequiredCredentials) != 2 {
			t.Fatalf("nil changed the set: %v", s2.RequiredCredentials)
		}
		s.RequiredCredentials = credtrack.RequiredCredentialSet{}
		if err := db.UpdateOrgSettings(ctx, *s); err != nil {
			t.Fatal(err)
		}
		if s2, _ := db.GetOrgSettings(ctx); len(s2.RequiredCredentials) != 0 {
			t.Fatalf("empty did not restore the defaults: %v", s2.RequiredCredentials)
		}
		s.RequiredCredentials = credtrack.RequiredCredentialSet{"dentist": nil}
		wantCode(t, db.UpdateOrgSettings(ctx, *s), credtrack.EINVALID)
		_ = bob
		_ = dan
	})
}

func s2org(ctx context.Context) string { return credtrack.ActorFromContext(ctx).OrgID }
