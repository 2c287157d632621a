package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// TestAuditAppRoleCannotRewrite: the application's own transactions may
// not update or delete audit events (PostgreSQL: no grant and a trigger;
// SQLite: the triggers).
func TestAuditAppRoleCannotRewrite(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		storetest.NewOrg(t, db, "Org A")
		ctx := context.Background()
		for _, q := range []string{"UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"} {
			err := db.ExecAsAppForTest(ctx, q)
			if err == nil {
				t.Fatalf("%s succeeded", q)
			}
			if db.Backend() == sqlstore.Postgres && !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("%s: %v, want permission denied for the app role", q, err)
			}
		}
		if db.Backend() == sqlstore.Postgres {
			if err := db.ExecAsAppForTest(ctx, "TRUNCATE audit_events"); err == nil {
				t.Fatal("TRUNCATE succeeded")
			}
		}
	})
}

// TestAuditTamperDetected drops the append-only protection as an attacker
// with database access would, edits one event's details, and expects
// VerifyChain to name exactly that event.
func TestAuditTamperDetected(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, org := storetest.NewOrg(t, db, "Org A")
		for i := 0; i < 5; i++ {
			if err := db.CreateProvider(ctx, newProvider("")); err != nil {
				t.Fatal(err)
			}
		}
		bg := context.Background()
		if db.Backend() == sqlstore.Postgres {
			if err := db.ExecForTest(bg, "ALTER TABLE audit_events DISABLE TRIGGER USER"); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := db.ExecForTest(bg, "DROP TRIGGER audit_events_no_update"); err != nil {
				t.Fatal(err)
			}
		}
		// Event 4 is the third provider's creation.
		if err := db.ExecForTest(bg, `UPDATE audit_events SET details = '{"profession":"MD"}' WHERE org_id = ? AND seq = 4`, org.ID); err != nil {
			t.Fatal(err)
		}
		brk, _, err := db.VerifyChain(bg, org.ID)
		if err != nil || brk == nil || brk.Seq != 4 || !strings.Contains(brk.Reason, "content") {
			t.Fatalf("VerifyChain = %+v, %v; want a break at event 4", brk, err)
		}
		// Deleting an event is caught as a gap.
		if err := db.ExecForTest(bg, "UPDATE audit_events SET details = '{\"profession\":\"RN\"}' WHERE org_id = ? AND seq = 4", org.ID); err != nil {
			t.Fatal(err)
		}
		if brk, _, _ := db.VerifyChain(bg, org.ID); brk != nil {
			t.Fatalf("restored chain still broken: %+v", brk)
		}
		if db.Backend() == sqlstore.SQLite {
			db.ExecForTest(bg, "DROP TRIGGER audit_events_no_delete")
		}
		if err := db.ExecForTest(bg, "DELETE FROM audit_events WHERE org_id = ? AND seq = 2", org.ID); err != nil {
			t.Fatal(err)
		}
		if brk, _, _ := db.VerifyChain(bg, org.ID); brk == nil || brk.Seq != 3 {
			t.Fatalf("deleted event not detected: %+v", brk)
		}
	})
}

// TestAuditConcurrentWritersOneChain: two store handles (two pools, as two
// server processes would have) append to one organization's chain at
// once; the chain must come out whole, without forks or gaps.
func TestAuditConcurrentWritersOneChain(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			clock := &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
			opts := storetest.Options(clock)
			if backend == "postgres" {
				opts.DatabaseURL = storetest.PostgresDatabase(t)
			} else {
				opts.SQLitePath = filepath.Join(t.TempDir(), "shared.db")
			}
			var dbs []*sqlstore.DB
			for i := 0; i < 2; i++ {
				db, err := sqlstore.Open(context.Background(), opts)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				dbs = append(dbs, db)
			}
			ctx, org := storetest.NewOrg(t, dbs[0], "Shared")
			const writers, each = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					db := dbs[w%2]
					for i := 0; i < each; i++ {
						var err error
						if i%2 == 0 {
							err = db.RecordEvent(ctx, &credtrack.AuditEvent{Action: "test.event", TargetID: fmt.Sprint(w, "-", i), Outcome: credtrack.OutcomeSuccess})
						} else {
							err = db.CreateProvider(ctx, newProvider(""))
						}
						if err != nil {
							errs <- err
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			brk, n, err := dbs[1].VerifyChain(context.Background(), org.ID)
			if err != nil || brk != nil || n != 1+writers*each {
				t.Fatalf("VerifyChain = %+v, %d events, %v; want %d intact", brk, n, err, 1+writers*each)
			}
		})
	}
}

// TestReadFailsClosed: when the audit event of a read cannot be written,
// the read returns EUNAVAILABLE and no data.
func TestReadFailsClosed(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Org A")
		p := newProvider("1234567893")
		if err := db.CreateProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
		bg := context.Background()
		// Make every read event fail to insert, as a full disk or a broken
		// audit table would.
		if db.Backend() == sqlstore.Postgres {
			if err := db.ExecForTest(bg, `CREATE FUNCTION refuse_reads() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.action LIKE '%.read' OR NEW.action LIKE '%.listed' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$`); err != nil {
				t.Fatal(err)
			}
			if err := db.ExecForTest(bg, "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_reads()"); err != nil {
				t.Fatal(err)
			}
		} else if err := db.ExecForTest(bg, `CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_events
			WHEN NEW.action LIKE '%.read' OR NEW.action LIKE '%.listed' BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindProviderByID(ctx, p.ID)
		if credtrack.ErrorCode(err) != credtrack.EUNAVAILABLE || got != nil {
			t.Fatalf("FindProviderByID with a failing audit = %v, %v; want EUNAVAILABLE and no data", got, err)
		}
		list, _, err := db.FindProviders(ctx, credtrack.ProviderFilter{})
		if credtrack.ErrorCode(err) != credtrack.EUNAVAILABLE || list != nil {
			t.Fatalf("FindProviders with a failing audit = %v, %v", list, err)
		}
	})
}

// TestWriteRollsBackWithItsEvent: a write whose audit event cannot be
// written does not happen at all.
func TestWriteRollsBackWithItsEvent(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Org A")
		bg := context.Background()
		if db.Backend() == sqlstore.Postgres {
			if err := db.ExecForTest(bg, `CREATE FUNCTION refuse_creates() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.action = 'provider.created' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$`); err != nil {
				t.Fatal(err)
			}
			if err := db.ExecForTest(bg, "CREATE TRIGGER refuse_creates BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_creates()"); err != nil {
				t.Fatal(err)
			}
		} else if err := db.ExecForTest(bg, `CREATE TRIGGER refuse_creates BEFORE INSERT ON audit_events
			WHEN NEW.action = 'provider.created' BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateProvider(ctx, newProvider("1234567893")); err == nil {
			t.Fatal("CreateProvider succeeded although its audit event failed")
		}
		if n, err := db.QueryIntForTest(bg, "SELECT count(*) FROM providers"); err != nil || n != 0 {
			t.Fatalf("providers after the failed write: %d, %v", n, err)
		}
	})
}

// TestAuditExportAndRecordReads: exports stream everything that matches,
// oldest first, after recording the export; a provider sees who read
// their own record, and nobody else's.
func TestAuditExportAndRecordReads(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx, org := storetest.NewOrg(t, db, "Org A")
		nurse := &credtrack.User{Email: "nurse@example.org"}
		if err := db.CreateUser(ctx, nurse); err != nil {
			t.Fatal(err)
		}
		mine := newProvider("")
		mine.UserID = nurse.ID
		other := newProvider("")
		for _, p := range []*credtrack.Provider{mine, other} {
			if err := db.CreateProvider(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		lic := &credtrack.Credential{ProviderID: mine.ID, Type: credtrack.CredStateLicense, Number: "RN123456", Jurisdiction: "MO"}
		if err := db.CreateCredential(ctx, lic); err != nil {
			t.Fatal(err)
		}
		coord := storetest.As("coord-1", org.ID, credtrack.RoleCoordinator)
		for _, id := range []string{mine.ID, other.ID} {
			if _, err := db.FindProviderByID(coord, id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.FindCredentialByID(coord, lic.ID); err != nil {
			t.Fatal(err)
		}
		asNurse := storetest.As(nurse.ID, org.ID, credtrack.RoleProvider)
		reads, err := db.FindRecordReads(asNurse, mine.ID)
		if err != nil || len(reads) != 2 || reads[0].Action != "credential.read" || reads[1].ActorID != "coord-1" {
			t.Fatalf("FindRecordReads = %d events, %v", len(reads), err)
		}
		if _, err := db.FindRecordReads(asNurse, other.ID); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("a provider read someone else's access log: %v", err)
		}
		// Export: coordinators may not; auditors may, and the export is on record first.
		noop := func(*credtrack.AuditEvent) error { return nil }
		if err := db.ExportAuditEvents(coord, credtrack.AuditFilter{}, "csv", noop); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Fatalf("coordinator export: %v", err)
		}
		var got []*credtrack.AuditEvent
		aud := storetest.As("aud-1", org.ID, credtrack.RoleAuditor)
		if err := db.ExportAuditEvents(aud, credtrack.AuditFilter{Action: "provider.read"}, "jsonl", func(ev *credtrack.AuditEvent) error {
			got = append(got, ev)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Seq > got[1].Seq || got[0].TargetID != mine.ID {
			t.Fatalf("export = %d events", len(got))
		}
		evs, _, err := db.FindAuditEvents(aud, credtrack.AuditFilter{Action: "export.created"})
		if err != nil || len(evs) != 1 || evs[0].Details["format"] != "jsonl" || evs[0].ActorID != "aud-1" {
			t.Fatalf("export not on record: %v, %v", evs, err)
		}
	})
}
