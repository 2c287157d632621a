package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// The contract suite: every test below runs on SQLite and on PostgreSQL
// through storetest.Backends.

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := credtrack.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestMigrate(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx := context.Background()
		n, err := db.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		cur, latest, err := db.SchemaStatus(ctx)
		if err != nil || cur != latest || cur < 1 {
			t.Fatalf("SchemaStatus = %d, %d, %v", cur, latest, err)
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		// A schema from a newer binary is refused, and nothing is applied.
		if err := db.ExecForTest(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", latest+1, "future", 0); err != nil {
			t.Fatal(err)
		}
		var newer *sqlstore.ErrSchemaNewer
		if _, err := db.Migrate(ctx); !errors.As(err, &newer) {
			t.Fatalf("Migrate on a newer schema: %v", err)
		}
		if err := db.CheckSchema(ctx); !errors.As(err, &newer) || !strings.Contains(err.Error(), "upgrade credtrack") {
			t.Fatalf("CheckSchema on a newer schema: %v", err)
		}
	})
}

// TestMigrateFillsGap: a migration numbered below the schema version that
// was never applied (a database that got a later migration first) is
// reported as pending and applied, not skipped.
func TestMigrateFillsGap(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx := context.Background()
		// Undo 0006 (one added column) and forget it was applied.
		if err := db.ExecForTest(ctx, "ALTER TABLE organizations DROP COLUMN required_credentials"); err != nil {
			t.Fatal(err)
		}
		if err := db.ExecForTest(ctx, "DELETE FROM schema_migrations WHERE version = ?", 6); err != nil {
			t.Fatal(err)
		}
		var outdated *sqlstore.ErrSchemaOutdated
		if err := db.CheckSchema(ctx); !errors.As(err, &outdated) || len(outdated.Missing) != 1 || outdated.Missing[0] != 6 ||
			!strings.Contains(err.Error(), "lacks migration 0006") {
			t.Fatalf("CheckSchema with 0006 missing: %v", err)
		}
		if n, err := db.Migrate(ctx); err != nil || n != 1 {
			t.Fatalf("Migrate with 0006 missing = %d, %v; want 1, nil", n, err)
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.ExecForTest(ctx, "UPDATE organizations SET required_credentials = ? WHERE 1 = 0", "{}"); err != nil {
			t.Fatalf("the column of 0006 is back: %v", err)
		}
	})
}

func TestMigrationFilesMatch(t *testing.T) {
	list := func(dir string) []string {
		var names []string
		entries, err := os.ReadDir(filepath.Join("migrations", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	a, b := list("sqlite"), list("postgres")
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("migration files differ between backends:\nsqlite:   %v\npostgres: %v", a, b)
	}
}

func TestWrongKeyCheckRefused(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		if err := db.ExecForTest(ctx, "UPDATE instance_meta SET value = ? WHERE key = ?", "another-key", "key_check"); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckKey(ctx); !errors.Is(err, sqlstore.ErrWrongKey) {
			t.Fatalf("CheckKey = %v, want ErrWrongKey", err)
		}
	})
}

func TestOrgsUsersMemberships(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, org := storetest.NewOrg(t, db, "Mercy General")
		got, err := db.FindOrgByID(ctx, org.ID)
		if err != nil || got.Name != "Mercy General" || got.ExpiringWindowDays != 90 || got.Kind != credtrack.OrgKindTeam {
			t.Fatalf("FindOrgByID = %+v, %v", got, err)
		}
		if _, err := db.FindOrgByID(ctx, "nope"); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("missing org: %v", err)
		}
		if err := db.CreateOrg(ctx, &credtrack.Organization{Name: "  "}); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("blank org name: %v", err)
		}
		u := &credtrack.User{Email: "Nurse.Jane@Example.org", Name: "Jane"}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateUser(ctx, &credtrack.User{Email: "nurse.jane@example.org"}), credtrack.ECONFLICT)
		wantCode(t, db.CreateUser(ctx, &credtrack.User{Email: "nurse.jаne@example.org"}), credtrack.EINVALID) // Cyrillic а
		if f, err := db.FindUserByEmail(ctx, " NURSE.JANE@example.org "); err != nil || f.ID != u.ID {
			t.Fatalf("FindUserByEmail = %v, %v", f, err)
		}
		if err := db.AddMembership(ctx, u.ID, credtrack.RoleCoordinator); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.AddMembership(ctx, u.ID, credtrack.RoleAdmin), credtrack.ECONFLICT)
		// A coordinator may not manage members.
		wantCode(t, db.AddMembership(storetest.As(u.ID, org.ID, credtrack.RoleCoordinator), u.ID, credtrack.RoleOwner), credtrack.EFORBIDDEN)
		ms, err := db.FindMemberships(ctx, u.ID)
		if err != nil || len(ms) != 1 || ms[0].OrgName != "Mercy General" || ms[0].Role != credtrack.RoleCoordinator {
			t.Fatalf("FindMemberships = %v, %v", ms, err)
		}
	})
}

func newProvider(npi string) *credtrack.Provider {
	return &credtrack.Provider{FirstName: "Abigail", LastName: "Okafor", Profession: credtrack.ProfRN, State: "MO",
		NPI: npi, SSN: "900-12-3456", DOB: credtrack.Date{}, Active: true}
}

func TestProvidersScopedAndSealed(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctxA, orgA := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		p := newProvider("1234567893")
		if err := db.CreateProvider(ctxA, p); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateProvider(ctxA, newProvider("1234567890")), credtrack.EINVALID)
		got, err := db.FindProviderByID(ctxA, p.ID)
		if err != nil || got.NPI != "1234567893" || got.FullName() != "Abigail Okafor" || got.SSN != "" {
			t.Fatalf("FindProviderByID = %+v, %v", got, err)
		}
		// Another organization's ID is simply not found.
		_, err = db.FindProviderByID(ctxB, p.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
		list, total, err := db.FindProviders(ctxB, credtrack.ProviderFilter{})
		if err != nil || total != 0 || len(list) != 0 {
			t.Fatalf("org B lists %d/%d providers, %v", len(list), total, err)
		}
		// Exact-match search by NPI through the blind index, in org A only.
		list, total, err = db.FindProviders(ctxA, credtrack.ProviderFilter{NPI: "1234567893"})
		if err != nil || total != 1 || list[0].ID != p.ID {
			t.Fatalf("by NPI = %v, %d, %v", list, total, err)
		}
		if _, total, _ := db.FindProviders(ctxB, credtrack.ProviderFilter{NPI: "1234567893"}); total != 0 {
			t.Fatal("org B finds org A's NPI")
		}
		if _, total, _ := db.FindProviders(ctxA, credtrack.ProviderFilter{Query: "okaf"}); total != 1 {
			t.Fatal("name search failed")
		}
		if _, total, _ := db.FindProviders(ctxA, credtrack.ProviderFilter{Query: "%"}); total != 0 {
			t.Fatal("LIKE wildcard in the query was not escaped")
		}
		// No plaintext identifier in the row.
		n, err := db.QueryIntForTest(context.Background(), "SELECT count(*) FROM providers WHERE npi_last4 = '7893' AND ssn_last4 = '3456'")
		if err != nil || n != 1 {
			t.Fatalf("last4 columns: %d, %v", n, err)
		}
		// An auditor reads; a provider-role user without a linked record sees nothing.
		if _, err := db.FindProviderByID(storetest.As("u-aud", orgA.ID, credtrack.RoleAuditor), p.ID); err != nil {
			t.Fatalf("auditor read: %v", err)
		}
		_, err = db.FindProviderByID(storetest.As("u-prov", orgA.ID, credtrack.RoleProvider), p.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
		wantCode(t, db.CreateProvider(storetest.As("u-aud", orgA.ID, credtrack.RoleAuditor), newProvider("")), credtrack.EFORBIDDEN)
		// Without an organization in scope nothing is reachable.
		_, err = db.FindProviderByID(context.Background(), p.ID)
		wantCode(t, err, credtrack.EUNAUTHORIZED)
	})
}

func TestCredentials(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctxA, orgA := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		p := newProvider("")
		p.Profession = credtrack.ProfMD
		if err := db.CreateProvider(ctxA, p); err != nil {
			t.Fatal(err)
		}
		today := credtrack.DateOf(clock.Now())
		dea := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredDEA, Number: "bb1388568", Jurisdiction: "MO",
			ExpiresOn: credtrack.Date{Time: today.AddDate(0, 0, 20)}, Details: map[string]string{"schedules": "2,3,4,5"}}
		if err := db.CreateCredential(ctxA, dea); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateCredential(ctxA, &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredDEA, Number: "BB1388561"}), credtrack.EINVALID)
		// A provider of another organization cannot receive credentials from here.
		wantCode(t, db.CreateCredential(ctxB, &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredOther, Number: "x"}), credtrack.ENOTFOUND)
		got, err := db.FindCredentialByID(ctxA, dea.ID)
		if err != nil || got.Number != "BB1388568" || got.NumberLast4 != "8568" || got.Details["schedules"] != "2,3,4,5" {
			t.Fatalf("FindCredentialByID = %+v, %v", got, err)
		}
		if s := got.Status(today, 90); s != credtrack.StatusExpiring {
			t.Fatalf("status = %s, want expiring", s)
		}
		_, err = db.FindCredentialByID(ctxB, dea.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
		full, err := db.FindProviderByID(ctxA, p.ID)
		if err != nil || len(full.Credentials) != 1 || full.Credentials[0].Number != "" {
			t.Fatalf("provider credentials = %+v, %v (numbers must stay sealed in lists)", full.Credentials, err)
		}
		if s := full.Status(today, 90); s != credtrack.ProviderMissing {
			t.Fatalf("provider status = %s, want missing (an MD needs a license, NPI, board cert, malpractice)", s)
		}
		_ = orgA
	})
}

func TestAuditAppendOnlyAndChained(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, org := storetest.NewOrg(t, db, "Org A")
		p := newProvider("1234567893")
		if err := db.CreateProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindProviderByID(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		evs, total, err := db.FindAuditEvents(ctx, credtrack.AuditFilter{})
		if err != nil || total != 3 {
			t.Fatalf("FindAuditEvents total = %d, %v", total, err)
		}
		wantActions := []string{"provider.read", "provider.created", "org.created"}
		for i, ev := range evs {
			if ev.Action != wantActions[i] || ev.Seq != int64(3-i) || ev.OrgID != org.ID {
				t.Errorf("event %d = %s seq %d", i, ev.Action, ev.Seq)
			}
		}
		bg := context.Background()
		if err := db.ExecForTest(bg, "UPDATE audit_events SET action = 'x'"); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("UPDATE on audit_events: %v", err)
		}
		if err := db.ExecForTest(bg, "DELETE FROM audit_events"); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("DELETE on audit_events: %v", err)
		}
		brk, n, err := db.VerifyChain(bg, org.ID)
		if err != nil || brk != nil || n != 4 { // 3 + the audit.read of viewing the log
			t.Fatalf("VerifyChain = %+v, %d, %v", brk, n, err)
		}
		// Auditors read the log; coordinators may not.
		if _, _, err := db.FindAuditEvents(storetest.As("u", org.ID, credtrack.RoleAuditor), credtrack.AuditFilter{}); err != nil {
			t.Fatal(err)
		}
		_, _, err = db.FindAuditEvents(storetest.As("u", org.ID, credtrack.RoleCoordinator), credtrack.AuditFilter{})
		wantCode(t, err, credtrack.EFORBIDDEN)
		// No identifier in any audit row.
		n2, err := db.QueryIntForTest(bg, "SELECT count(*) FROM audit_events WHERE details LIKE '%1234567893%' OR details LIKE '%900123456%'")
		if err != nil || n2 != 0 {
			t.Fatalf("identifiers in audit details: %d, %v", n2, err)
		}
	})
}

func TestAPITokens(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, org := storetest.NewOrg(t, db, "Org A")
		tok := &credtrack.APIToken{Name: "roster sync", Role: credtrack.RoleCoordinator}
		secret, err := db.CreateAPIToken(ctx, tok)
		if err != nil || !strings.HasPrefix(secret, "ctk_") || len(secret) < 50 {
			t.Fatalf("CreateAPIToken = %q, %v", secret, err)
		}
		n, err := db.QueryIntForTest(context.Background(), "SELECT count(*) FROM api_tokens WHERE token_hash = ?", []byte(secret))
		if err != nil || n != 0 {
			t.Fatal("the secret is stored as is")
		}
		_, err = db.CreateAPIToken(storetest.As("u", org.ID, credtrack.RoleCoordinator), &credtrack.APIToken{Name: "x", Role: credtrack.RoleOwner})
		wantCode(t, err, credtrack.EFORBIDDEN)
		_, err = db.CreateAPIToken(ctx, &credtrack.APIToken{Name: "x", Role: "root"})
		wantCode(t, err, credtrack.EINVALID)
	})
}

// TestSQLiteFileEncrypted checks the at-rest promise: the database file
// has no SQLite header and none of the stored names, and a wrong key is
// refused with a clear message.
func TestSQLiteFileEncrypted(t *testing.T) {
	dir := t.TempDir()
	clock := &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	opts := storetest.Options(clock)
	opts.SQLitePath = filepath.Join(dir, "ct.db")
	db, err := sqlstore.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, _ := storetest.NewOrg(t, db, "Zebulon Quintanilla Clinic")
	if err := db.CreateProvider(ctx, &credtrack.Provider{FirstName: "Xanthippe", LastName: "Vandersloot", Active: true}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range []string{"SQLite format 3", "Vandersloot", "Xanthippe", "Quintanilla"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains %q in plaintext", filepath.Base(path), s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	opts.SQLiteKey = bytes.Repeat([]byte{8}, 64)
	if _, err := sqlstore.Open(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "another master key") {
		t.Fatalf("wrong key: %v", err)
	}
	// A file that is not a database at all gets the same clear message.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 100), 0o600)
	opts.SQLitePath = junk
	if _, err := sqlstore.Open(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "not a credtrack database") {
		t.Fatalf("junk file: %v", err)
	}
}
