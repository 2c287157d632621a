package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// TestRowLevelSecurity checks SECURITY.md §2 item 27 on PostgreSQL: with
// the application role and organization A set (as every store transaction
// does), organization B's tenant rows cannot be seen, changed, deleted or
// created, even by SQL that forgets the org_id filter; a transaction with
// no organization sees no tenant row at all. SQLite has no row-level
// security (see migrations/sqlite/0004_rls.sql): there the store's own
// org filter is the wall, tested by TestProvidersScopedAndSealed.
func TestRowLevelSecurity(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		if db.Backend() != sqlstore.Postgres {
			t.Skip("row-level security is PostgreSQL only")
		}
		ctxA, orgA := storetest.NewOrg(t, db, "Org A")
		ctxB, orgB := storetest.NewOrg(t, db, "Org B")
		pA, pB := newProvider("1234567893"), newProvider("")
		if err := db.CreateProvider(ctxA, pA); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateProvider(ctxB, pB); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateAPIToken(ctxB, &credtrack.APIToken{Name: "b", Role: credtrack.RoleAuditor}); err != nil {
			t.Fatal(err)
		}
		// Rows in other tenant tables of org B, written as the owner
		// (outside RLS) so that every protected table has one.
		raw := []string{
			`INSERT INTO credentials (id, org_id, provider_id, type, created_at, updated_at) VALUES ('cred-b', ?, ?, 'state_license', 1, 1)`,
			`INSERT INTO documents (id, org_id, provider_id, filename, content_type, size, sha256, blob_key, key_enc, uploaded_by, created_at)
				VALUES ('doc-b', ?, ?, 'b.pdf', 'application/pdf', 1, '\x00', 'k', '\x00', 'u', 1)`,
			`INSERT INTO verifications (id, org_id, provider_id, source, result, actor_kind, actor_id, created_at)
				VALUES ('ver-b', ?, ?, 'nppes', 'match', 'system', 's', 1)`,
		}
		for _, q := range raw {
			if err := db.ExecForTest(context.Background(), q, orgB.ID, pB.ID); err != nil {
				t.Fatalf("seed %s: %v", q, err)
			}
		}
		tables := []string{"providers", "credentials", "documents", "verifications", "api_tokens"}
		count := func(ctx context.Context, table, org string) int {
			t.Helper()
			n, err := db.QueryIntAsAppForTest(ctx, "SELECT count(*) FROM "+table+" WHERE org_id = ?", org)
			if err != nil {
				t.Fatalf("count %s: %v", table, err)
			}
			return n
		}
		for _, table := range tables {
			// The owner sees B's row; the app role acting in B does too.
			if n, _ := db.QueryIntForTest(context.Background(), "SELECT count(*) FROM "+table+" WHERE org_id = ?", orgB.ID); n != 1 {
				t.Fatalf("%s: seed rows of B = %d", table, n)
			}
			if n := count(ctxB, table, orgB.ID); n != 1 {
				t.Errorf("%s: org B sees %d of its own rows, want 1", table, n)
			}
			// Acting in A, a query without the org filter still sees none of B.
			if n := count(ctxA, table, orgB.ID); n != 0 {
				t.Errorf("%s: org A sees %d of org B's rows", table, n)
			}
			// UPDATE and DELETE of B's rows from A affect nothing.
			set := "created_at = 2"
			if n, err := db.ExecCountAsAppForTest(ctxA, "UPDATE "+table+" SET "+set+" WHERE org_id = ?", orgB.ID); err != nil || n != 0 {
				t.Errorf("%s: update from org A affected %d rows, %v", table, n, err)
			}
			if table != "providers" { // providers are referenced; the others are leaves
				if n, err := db.ExecCountAsAppForTest(ctxA, "DELETE FROM "+table+" WHERE org_id = ?", orgB.ID); err != nil || n != 0 {
					t.Errorf("%s: delete from org A affected %d rows, %v", table, n, err)
				}
			}
		}
		if n, err := db.ExecCountAsAppForTest(ctxA, "DELETE FROM providers WHERE id = ?", pB.ID); err != nil || n != 0 {
			t.Errorf("providers: delete from org A affected %d rows, %v", n, err)
		}
		if n, _ := db.QueryIntForTest(context.Background(), "SELECT count(*) FROM providers WHERE org_id = ? AND created_at = 2", orgB.ID); n != 0 {
			t.Error("org B's provider was changed from org A")
		}
		// Moving A's own row into B is refused by the policy's WITH CHECK.
		_, err := db.ExecCountAsAppForTest(ctxA, "UPDATE providers SET org_id = ? WHERE id = ?", orgB.ID, pA.ID)
		wantRLSViolation(t, "update into org B", err)

		// INSERT with org B's id while acting in A is refused.
		inserts := map[string]string{
			"providers": `INSERT INTO providers (id, org_id, first_name, last_name, sort_name, profession, created_at, updated_at)
				VALUES ('p-x', ?, 'X', 'Y', 'y x', 'md', 1, 1)`,
			"credentials":   `INSERT INTO credentials (id, org_id, provider_id, type, created_at, updated_at) VALUES ('c-x', ?, '` + pB.ID + `', 'state_license', 1, 1)`,
			"verifications": `INSERT INTO verifications (id, org_id, provider_id, source, result, actor_kind, actor_id, created_at) VALUES ('v-x', ?, '` + pB.ID + `', 'nppes', 'match', 'system', 's', 1)`,
			"api_tokens":    `INSERT INTO api_tokens (id, org_id, name, role, token_hash, created_by, created_at) VALUES ('t-x', ?, 'x', 'owner', '\x01', 'u', 1)`,
		}
		for table, q := range inserts {
			_, err := db.ExecCountAsAppForTest(ctxA, q, orgB.ID)
			wantRLSViolation(t, table+" insert for org B", err)
		}

		// Without an organization no tenant row is visible, even with no
		// filter at all. (api_tokens are the documented exception: the API
		// looks a token up by its hash before its organization is known.)
		system := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", ""))
		for _, ctx := range []context.Context{context.Background(), system} {
			for _, table := range []string{"providers", "credentials", "documents", "verifications"} {
				n, err := db.QueryIntAsAppForTest(ctx, "SELECT count(*) FROM "+table)
				if err != nil || n != 0 {
					t.Errorf("%s without an organization: %d rows visible, %v", table, n, err)
				}
			}
			_, err := db.ExecCountAsAppForTest(ctx, inserts["providers"], orgA.ID)
			wantRLSViolation(t, "insert without an organization", err)
		}
		// The setting ends with the transaction: a pooled connection that
		// served org A serves the next transaction without it.
		for range 5 {
			if n := count(ctxA, "providers", orgA.ID); n != 1 {
				t.Fatalf("org A sees %d of its providers", n)
			}
			if n, _ := db.QueryIntAsAppForTest(context.Background(), "SELECT count(*) FROM providers"); n != 0 {
				t.Fatalf("a transaction after org A's sees %d providers", n)
			}
		}
		// The store's own methods keep working through the policies.
		if got, err := db.FindProviderByID(ctxA, pA.ID); err != nil || got.ID != pA.ID {
			t.Fatalf("FindProviderByID in org A = %v, %v", got, err)
		}
		_, err = db.FindProviderByID(ctxA, pB.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
	})
}

func wantRLSViolation(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("%s: err = %v, want a row-level security violation", what, err)
	}
}
