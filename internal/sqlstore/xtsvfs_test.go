package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"

	_ "github.com/ncruces/go-sqlite3/vfs/xts" // the driver's VFS, which wrote databases before internal/xtsvfs
)

// TestSQLiteFileFromDriverVFS: a database written through the driver's
// "xts" VFS (what the store used before internal/xtsvfs) opens, is read
// and written through the store's VFS, snapshots, and still opens through
// the driver's VFS afterwards, so existing installations keep working and
// the format has not changed.
func TestSQLiteFileFromDriverVFS(t *testing.T) {
	dir := t.TempDir()
	clock := &storetest.Clock{T: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	opts := storetest.Options(clock)
	opts.SQLitePath = filepath.Join(dir, "ct.db")
	ctx := context.Background()

	opts.SQLiteVFS = "xts"
	old, err := sqlstore.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	octx, org := storetest.NewOrg(t, old, "Old Format Clinic")
	p := &credtrack.Provider{FirstName: "Ada", LastName: "Oldformat", NPI: "1234567893", Active: true}
	if err := old.CreateProvider(octx, p); err != nil {
		t.Fatal(err)
	}
	old.Close()

	opts.SQLiteVFS = "" // the store's default, internal/xtsvfs
	db, err := sqlstore.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.FindProviderByID(octx, p.ID)
	if err != nil || got.LastName != "Oldformat" {
		t.Fatalf("provider written through the driver's VFS: %+v %v", got, err)
	}
	if npi, err := db.RevealProviderField(octx, p.ID, "npi"); err != nil || npi != "1234567893" {
		t.Fatalf("sealed NPI written through the driver's VFS: %v", err)
	}
	q := &credtrack.Provider{FirstName: "Bea", LastName: "Newformat", Active: true}
	if err := db.CreateProvider(octx, q); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "snap.db")
	if err := db.SnapshotSQLite(ctx, snap); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, path := range []string{opts.SQLitePath, snap} {
		opts.SQLiteVFS, opts.SQLitePath = "xts", path
		back, err := sqlstore.Open(ctx, opts)
		if err != nil {
			t.Fatalf("%s through the driver's VFS: %v", filepath.Base(path), err)
		}
		for _, want := range []*credtrack.Provider{p, q} {
			if got, err := back.FindProviderByID(octx, want.ID); err != nil || got.LastName != want.LastName {
				t.Errorf("%s through the driver's VFS: %+v %v", filepath.Base(path), got, err)
			}
		}
		if brk, _, err := back.VerifyChain(ctx, org.ID); err != nil || brk != nil {
			t.Errorf("%s: audit chain %+v %v", filepath.Base(path), brk, err)
		}
		back.Close()
	}
}

// TestSQLiteSynchronous: commits wait for the WAL to reach the disk unless
// the operator chose normal (the connections themselves run at NORMAL
// either way; see walsync.go), and an unknown level is refused before
// anything opens. Writes and audited reads work through the syncer.
func TestSQLiteSynchronous(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		level string
		syncs bool
	}{{"", true}, {"full", true}, {"normal", false}} {
		clock := &storetest.Clock{T: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
		opts := storetest.Options(clock)
		opts.SQLitePath = filepath.Join(t.TempDir(), "ct.db")
		opts.SQLiteSynchronous = c.level
		db, err := sqlstore.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := db.QueryIntForTest(ctx, "PRAGMA synchronous")
		if err != nil || got != 1 || db.SyncsCommitsForTest() != c.syncs {
			t.Errorf("synchronous %q: PRAGMA synchronous = %d, %v, syncs commits %v; want 1 and %v", c.level, got, err, db.SyncsCommitsForTest(), c.syncs)
		}
		octx, _ := storetest.NewOrg(t, db, "Sync Clinic")
		p := &credtrack.Provider{FirstName: "Ada", LastName: "Durable", Active: true}
		if err := db.CreateProvider(octx, p); err != nil {
			t.Fatal(err)
		}
		// Concurrent audited reads share group commits and their syncs.
		errs := make(chan error, 16)
		for range 16 {
			go func() {
				_, err := db.FindProviderByID(octx, p.ID)
				errs <- err
			}()
		}
		for range 16 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	opts := storetest.Options(&storetest.Clock{})
	opts.SQLitePath = filepath.Join(t.TempDir(), "ct.db")
	opts.SQLiteSynchronous = "off"
	if db, err := sqlstore.Open(ctx, opts); err == nil {
		db.Close()
		t.Fatal("synchronous off was accepted")
	}
}
