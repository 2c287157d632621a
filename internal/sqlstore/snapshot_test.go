package sqlstore_test

import (
	"context"
	"database/sql"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// TestDumpAndLoadAsOwner dumps and loads PostgreSQL as the production
// setup connects: a role that owns the database but is no superuser, so
// FORCE ROW LEVEL SECURITY applies to it. Every organization's rows must
// be in the dump, and the load must put them all back.
func TestDumpAndLoadAsOwner(t *testing.T) {
	base := storetest.PostgresURL(t)
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	role := "ct_owner_" + strings.ToLower(credtrack.NewID()[:10])
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS", // 0001 runs CREATE ROLE credtrack_app, which checks CREATEROLE before existence
		"DO $$ BEGIN CREATE ROLE credtrack_app NOLOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
		"GRANT credtrack_app TO " + role,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role) })
	ownedDB := func() (owner, super string) {
		u := storetest.PostgresDatabase(t)
		name := u[strings.LastIndex(u, "/")+1:]
		if i := strings.Index(name, "?"); i >= 0 {
			name = name[:i]
		}
		if _, err := admin.ExecContext(ctx, "ALTER DATABASE "+name+" OWNER TO "+role); err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(u)
		pu.User = url.User(role)
		// The public schema must be the owner's to create tables in it.
		sdb, err := sql.Open("pgx", u)
		if err != nil {
			t.Fatal(err)
		}
		defer sdb.Close()
		if _, err := sdb.ExecContext(ctx, "ALTER SCHEMA public OWNER TO "+role); err != nil {
			t.Fatal(err)
		}
		return pu.String(), u
	}
	open := func(u string) *sqlstore.DB {
		opts := storetest.Options(&storetest.Clock{T: credtrack.Now()})
		opts.DatabaseURL = u
		db, err := sqlstore.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	srcURL, _ := ownedDB()
	src := open(srcURL)
	if _, err := src.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Org A", "Org B"} {
		octx, _ := storetest.NewOrg(t, src, name)
		p := newProvider("")
		if err := src.CreateProvider(octx, p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	tables, version, err := src.DumpPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, tb := range tables {
		rows[tb.Name] = tb.Rows
	}
	if rows["providers"] != 2 || rows["organizations"] != 2 {
		t.Fatalf("the dump as owner misses rows under row-level security: %v", rows)
	}

	dstURL, dstSuper := ownedDB()
	dst := open(dstURL)
	if empty, err := dst.IsEmptyPostgres(ctx); err != nil || !empty {
		t.Fatalf("IsEmptyPostgres = %v, %v", empty, err)
	}
	if _, err := dst.MigrateTo(ctx, version); err != nil {
		t.Fatal(err)
	}
	err = dst.LoadPostgres(ctx, tables, func(file string) (io.ReadCloser, error) { return os.Open(filepath.Join(dir, file)) })
	if err != nil {
		t.Fatal(err)
	}
	tables2, _, err := dst.DumpPostgres(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables2 {
		if tb.Rows != rows[tb.Name] {
			t.Fatalf("%s: %d rows after the load, %d before", tb.Name, tb.Rows, rows[tb.Name])
		}
	}
	// Row-level security is forced again after the load.
	sdb, err := sql.Open("pgx", dstSuper)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	var forced bool
	if err := sdb.QueryRowContext(ctx, "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'providers'").Scan(&forced); err != nil || !forced {
		t.Fatalf("providers FORCE ROW LEVEL SECURITY after the load = %v, %v", forced, err)
	}
	if err := dst.CheckKey(ctx); err != nil {
		t.Fatal(err)
	}
	if empty, _ := dst.IsEmptyPostgres(ctx); empty {
		t.Fatal("IsEmptyPostgres after a load")
	}
	if err := dst.LoadPostgres(ctx, tables, func(file string) (io.ReadCloser, error) { return os.Open(filepath.Join(dir, file)) }); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a second load into the same tables: %v", err)
	}
}
