package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/demo"
	"credtrack/internal/seal"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// seedSealed fills db with sealed values of every kind: providers (NPI,
// SSN, DOB) and their credentials (numbers) in two organizations, a
// document key, and a user's TOTP seed (instance keyset). It returns the
// contexts of the two organizations.
func seedSealed(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) []context.Context {
	t.Helper()
	ps := demo.Providers(12, credtrack.DateOf(clock.Now()))
	var ctxs []context.Context
	for i, name := range []string{"Org A", "Org B"} {
		ctx, _ := storetest.NewOrg(t, db, name)
		ctxs = append(ctxs, ctx)
		var first string
		for _, p := range ps[i*6 : i*6+6] {
			creds := p.Credentials
			if err := db.CreateProvider(ctx, p); err != nil {
				t.Fatal(err)
			}
			for _, c := range creds {
				c.ProviderID = p.ID
				if err := db.CreateCredential(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			if first == "" {
				first = p.ID
			}
		}
		sum := sha256.Sum256([]byte(name))
		d := &credtrack.Document{ID: credtrack.NewID(), ProviderID: first, BlobKey: "k/" + name, SHA256: sum[:],
			ContentType: "application/pdf", Filename: "a.pdf", Size: 1}
		if err := db.CreateDocument(ctx, d, bytes.Repeat([]byte{byte(i + 1)}, 32)); err != nil {
			t.Fatal(err)
		}
	}
	mfaSession(t, db, "rotate@seal.example", 1)
	return ctxs
}

func sealedValues(t *testing.T, db *sqlstore.DB) (map[string]string, map[string][]byte) {
	t.Helper()
	plain, sealed, err := db.SealedValuesForTest(context.Background())
	if err != nil {
		t.Fatalf("reading every sealed value: %v", err)
	}
	return plain, sealed
}

func orgOf(ctx context.Context) string { return credtrack.ActorFromContext(ctx).OrgID }

// TestKeyRotation: rotate, read every old value, re-encrypt (interrupted
// and resumed, with a server writing under the old key meanwhile), disable
// the old key, read again.
func TestKeyRotation(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ctxs := seedSealed(t, db, clock)
		before, beforeCT := sealedValues(t, db)
		kinds := map[string]bool{}
		for k := range before {
			kinds[k[:strings.Index(k, "/")]] = true
		}
		for _, want := range []string{"providers.npi_enc", "providers.ssn_enc", "providers.dob_enc", "credentials.number_enc",
			"documents.key_enc", "users.totp_secret_enc"} {
			if !kinds[want] {
				t.Fatalf("the seed has no %s value (has %v)", want, kinds)
			}
		}
		orgs, err := db.RotationOrgs(ctx)
		if err != nil || len(orgs) < 4 || orgs[0] != "" {
			t.Fatalf("RotationOrgs = %q, %v", orgs, err)
		}
		rots := map[string]*sqlstore.KeyRotation{}
		for _, org := range orgs {
			r, err := db.StartRotation(ctx, org)
			if err != nil {
				t.Fatal(err)
			}
			rots[org] = r
		}
		// Every old value still reads, and new values use the new key.
		if got, _ := sealedValues(t, db); len(got) != len(before) {
			t.Fatalf("after rotate: %d values, want %d", len(got), len(before))
		}
		orgA := orgOf(ctxs[0])
		fresh := newProvider("1234567893")
		if err := db.CreateProvider(ctxs[0], fresh); err != nil {
			t.Fatal(err)
		}
		_, ct := sealedValues(t, db)
		if sealer := db.SealerForTest(); !sealer.IsCurrent(orgA, ct["providers.npi_enc/"+fresh.ID]) {
			t.Fatal("a value written after the rotation started is not under the new key")
		}
		countOrg := func(org string) int64 {
			var n int64
			for k := range before {
				row := k[strings.Index(k, "/")+1:]
				table := k[:strings.Index(k, ".")]
				var q string
				switch table {
				case "users":
					if org == "" {
						n++
					}
					continue
				default:
					q = "SELECT count(*) FROM " + table + " WHERE id = ? AND org_id = ?"
				}
				if c, _ := db.QueryIntForTest(ctx, q, row, org); c == 1 {
					n++
				}
			}
			return n
		}

		// Org A: interrupted after one batch of two rows, then resumed.
		r, err := db.RunRotation(ctx, rots[orgA].ID, sqlstore.RotateOptions{Batch: 2, StopAfter: 1})
		if err != nil || r.State != "running" || r.RowsDone != 2 || r.Reencrypted == 0 {
			t.Fatalf("interrupted rotation = %+v, %v", r, err)
		}
		again, err := db.StartRotation(ctx, orgA)
		if err != nil || again.ID != rots[orgA].ID {
			t.Fatalf("starting again did not resume: %+v, %v", again, err)
		}
		// Org A also meets a server that still sealed under the old key
		// after pass 1: the old ciphertext of one value is written back
		// while the rotation waits for the grace period.
		var victim string
		for k := range beforeCT {
			if strings.HasPrefix(k, "providers.npi_enc/") && countOrgRow(db, k, orgA) {
				victim = k
				break
			}
		}
		waited := 0
		r, err = db.RunRotation(ctx, rots[orgA].ID, sqlstore.RotateOptions{Batch: 3, Grace: time.Hour,
			Sleep: func(_ context.Context, d time.Duration) error {
				waited++
				if waited == 1 {
					if err := db.ExecForTest(ctx, "UPDATE providers SET npi_enc = ? WHERE id = ?", beforeCT[victim], victim[strings.Index(victim, "/")+1:]); err != nil {
						return err
					}
				}
				clock.Advance(d)
				return nil
			}})
		if err != nil || r.State != "completed" || r.Pass != 3 || waited == 0 {
			t.Fatalf("rotation of org A = %+v (waited %d), %v", r, waited, err)
		}
		if want := countOrg(orgA) + 1; r.Reencrypted != want {
			t.Fatalf("org A re-encrypted %d values, want %d (each once, plus the stale one)", r.Reencrypted, want)
		}
		for _, org := range orgs {
			if org == orgA {
				continue
			}
			r, err := db.RunRotation(ctx, rots[org].ID, sqlstore.RotateOptions{Batch: 3})
			if err != nil || r.State != "completed" {
				t.Fatalf("rotation of %q = %+v, %v", org, r, err)
			}
			if want := countOrg(org); r.Reencrypted != want {
				t.Fatalf("org %q re-encrypted %d values, want %d", org, r.Reencrypted, want)
			}
		}

		// Read again: same plaintexts, new ciphertexts under the new primary.
		after, afterCT := sealedValues(t, db)
		for k, v := range before {
			if after[k] != v {
				t.Fatalf("%s changed on rotation", k)
			}
			if bytes.Equal(afterCT[k], beforeCT[k]) {
				t.Fatalf("%s was not re-encrypted", k)
			}
		}
		sealer := db.SealerForTest()
		for k, c := range afterCT {
			org := ""
			if !strings.HasPrefix(k, "users.") {
				org = orgOfRow(t, db, k)
			}
			if !sealer.IsCurrent(org, c) {
				t.Fatalf("%s is not under the new primary", k)
			}
		}
		// The old keys are disabled: an old ciphertext put back no longer opens.
		infos, err := db.KeyInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			enabled := 0
			for _, k := range in.Keys {
				if k.Enabled {
					enabled++
				}
			}
			if len(in.Keys) != 2 || enabled != 1 {
				t.Fatalf("keys of %q = %+v", in.OrgID, in.Keys)
			}
		}
		id := victim[strings.Index(victim, "/")+1:]
		if err := db.ExecForTest(ctx, "UPDATE providers SET npi_enc = ? WHERE id = ?", beforeCT[victim], id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindProviderByID(ctxs[0], id); err == nil {
			t.Fatal("a value under a disabled key still opens")
		}
		if err := db.ExecForTest(ctx, "UPDATE providers SET npi_enc = ? WHERE id = ?", afterCT[victim], id); err != nil {
			t.Fatal(err)
		}
		if p, err := db.FindProviderByID(ctxs[0], id); err != nil || p.NPI != before[victim] {
			t.Fatalf("re-encrypted NPI reads %v", err)
		}
		for _, action := range []string{"keys.rotation.started", "keys.rotation.completed"} {
			if n, _ := db.QueryIntForTest(ctx, "SELECT count(*) FROM audit_events WHERE action = ? AND actor_kind = 'system' AND actor_id = 'keys-rotation'", action); n != len(orgs) {
				t.Fatalf("%d %s events, want %d", n, action, len(orgs))
			}
		}
		// A new rotation starts from the new key.
		if r, err := db.StartRotation(ctx, orgA); err != nil || r.ID == rots[orgA].ID {
			t.Fatalf("second rotation = %+v, %v", r, err)
		}
	})
}

func countOrgRow(db *sqlstore.DB, k, org string) bool {
	table := k[:strings.Index(k, ".")]
	n, _ := db.QueryIntForTest(context.Background(), "SELECT count(*) FROM "+table+" WHERE id = ? AND org_id = ?", k[strings.Index(k, "/")+1:], org)
	return n == 1
}

func orgOfRow(t *testing.T, db *sqlstore.DB, k string) string {
	t.Helper()
	table := k[:strings.Index(k, ".")]
	var org string
	rows, err := db.WriteDB().Query(rebindForTest(db, "SELECT org_id FROM "+table+" WHERE id = ?"), k[strings.Index(k, "/")+1:])
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		rows.Scan(&org)
	}
	return org
}

func rebindForTest(db *sqlstore.DB, q string) string {
	if db.Backend() == sqlstore.Postgres {
		return strings.Replace(q, "?", "$1", 1)
	}
	return q
}

// reopenable opens a database of the backend twice, as two processes
// would (a restart, another master key).
func reopenable(t *testing.T, backend string, clock *storetest.Clock) func(*seal.Sealer) (*sqlstore.DB, error) {
	opts := storetest.Options(clock)
	if backend == "sqlite" {
		opts.SQLitePath = filepath.Join(t.TempDir(), "k.db")
	} else {
		opts.DatabaseURL = storetest.PostgresDatabase(t)
	}
	return func(s *seal.Sealer) (*sqlstore.DB, error) {
		o := opts
		o.Sealer = s
		db, err := sqlstore.Open(context.Background(), o)
		if err != nil {
			return nil, err
		}
		if _, err := db.Migrate(context.Background()); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
}

func testSealer(fieldByte byte) *seal.Sealer {
	return seal.New(bytes.Repeat([]byte{fieldByte}, 32), bytes.Repeat([]byte{2}, 32))
}

// TestRotationResumesAfterRestartAndWrongKeyRefused: a rotation stopped
// midway by a process exit continues in the next process from its
// persisted cursor; and a master key whose derived keys do not unwrap the
// stored keysets is refused at start, even with a matching check value.
func TestRotationResumesAfterRestartAndWrongKeyRefused(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			clock := &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
			if backend == "postgres" {
				storetest.PostgresURL(t)
			}
			open := reopenable(t, backend, clock)
			db, err := open(testSealer(1))
			if err != nil {
				t.Fatal(err)
			}
			ctxs := seedSealed(t, db, clock)
			before, _ := sealedValues(t, db)
			org := orgOf(ctxs[1])
			r, err := db.StartRotation(context.Background(), org)
			if err != nil {
				t.Fatal(err)
			}
			if r, err = db.RunRotation(context.Background(), r.ID, sqlstore.RotateOptions{Batch: 4, StopAfter: 1}); err != nil || r.RowsDone != 4 {
				t.Fatalf("first run: %+v, %v", r, err)
			}
			db.Close()

			// Another master key, same check value: the keysets are the canary.
			if db, err := open(testSealer(9)); !errors.Is(err, sqlstore.ErrWrongKey) || !strings.Contains(err.Error(), "do not unwrap") {
				if db != nil {
					db.Close()
				}
				t.Fatalf("wrong master key: %v, want ErrWrongKey about the data keys", err)
			}

			db, err = open(testSealer(1))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			running, err := db.Rotations(context.Background(), true)
			if err != nil || len(running) != 1 || running[0].ID != r.ID || running[0].RowsDone != 4 {
				t.Fatalf("after restart: %+v, %v", running, err)
			}
			done, err := db.RunRotation(context.Background(), r.ID, sqlstore.RotateOptions{Batch: 4})
			if err != nil || done.State != "completed" || done.Pass != 2 {
				t.Fatalf("resumed run: %+v, %v", done, err)
			}
			after, _ := sealedValues(t, db)
			for k, v := range before {
				if after[k] != v {
					t.Fatalf("%s differs after the resumed rotation", k)
				}
			}
		})
	}
}

// TestSealedColumnsListed: every *_enc column of the schema is known to
// the rotation; a sealed column it missed would lose its values when the
// old key is disabled.
func TestSealedColumnsListed(t *testing.T) {
	clock := &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	db := storetest.OpenSQLite(t, clock)
	rows, err := db.WriteDB().Query(`SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND p.name LIKE '%\_enc' ESCAPE '\' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for _, c := range sqlstore.SealedColumnsForTest() {
		known[c] = true
	}
	n := 0
	for rows.Next() {
		var col string
		rows.Scan(&col)
		n++
		if !known[col] {
			t.Errorf("sealed column %s is not in sqlstore.sealedTables (rotate.go)", col)
		}
	}
	if n < 6 {
		t.Fatalf("found only %d *_enc columns", n)
	}
}
