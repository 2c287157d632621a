package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// TestExpiryReminderRecords: a reminder is claimed once per (credential,
// expiry date, threshold), its claim is audited, and the records are
// tenant data (another organization neither sees them nor, on PostgreSQL,
// reaches them past row-level security).
func TestExpiryReminderRecords(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctxA, _ := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		p := &credtrack.Provider{FirstName: "Ann", LastName: "Lee", Profession: credtrack.ProfRN, Active: true}
		if err := db.CreateProvider(ctxA, p); err != nil {
			t.Fatal(err)
		}
		today := credtrack.DateOf(clock.T)
		c := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredStateLicense, Number: "RN123", Jurisdiction: "MO",
			ExpiresOn: credtrack.DateOf(clock.T.Add(20 * 24 * time.Hour))}
		if err := db.CreateCredential(ctxA, c); err != nil {
			t.Fatal(err)
		}
		window := credtrack.Date{Time: today.AddDate(0, 0, 90)}
		list, err := db.ExpiringCredentials(ctxA, today, window)
		if err != nil || len(list) != 1 || list[0].CredentialID != c.ID || list[0].ProviderName != "Ann Lee" || len(list[0].Sent) != 0 {
			t.Fatalf("expiring: %+v %v", list, err)
		}
		r := &credtrack.ExpiryReminder{CredentialID: c.ID, ProviderID: p.ID, ExpiresOn: c.ExpiresOn, Threshold: 30, DaysLeft: 20}
		for i, want := range []bool{true, false} {
			if added, err := db.RecordReminder(ctxA, r); err != nil || added != want {
				t.Fatalf("claim %d: %v %v", i, added, err)
			}
		}
		if _, err := db.RecordReminder(ctxA, &credtrack.ExpiryReminder{CredentialID: c.ID}); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("reminder without a date: %v", err)
		}
		if list, _ := db.ExpiringCredentials(ctxA, today, window); len(list) != 1 || len(list[0].Sent) != 1 || list[0].Sent[0] != 30 {
			t.Fatalf("after the claim: %+v", list[0])
		}
		ev, _, err := db.FindAuditEvents(ctxA, credtrack.AuditFilter{Action: "reminder.sent"})
		if err != nil || len(ev) != 1 || ev[0].TargetID != c.ID || ev[0].Details["threshold_days"] != "30" || ev[0].Details["days_left"] != "20" {
			t.Fatalf("events: %+v %v", ev, err)
		}
		if list, err := db.ExpiringCredentials(ctxB, today, window); err != nil || len(list) != 0 {
			t.Fatalf("org B sees %+v %v", list, err)
		}
		if n, err := db.QueryIntAsAppForTest(ctxB, "SELECT count(*) FROM expiry_reminders"); err != nil || (db.Backend() == sqlstore.Postgres && n != 0) {
			t.Fatalf("rows visible to B: %d %v", n, err)
		}
		if n, err := db.QueryIntAsAppForTest(ctxA, "SELECT count(*) FROM expiry_reminders"); err != nil || n != 1 {
			t.Fatalf("rows visible to A: %d %v", n, err)
		}
		if n, err := db.QueryIntAsAppForTest(context.Background(), "SELECT count(*) FROM expiry_reminders"); err != nil ||
			(db.Backend() == sqlstore.Postgres && n != 0) {
			t.Fatalf("rows visible outside any organization: %d %v", n, err)
		}
	})
}
