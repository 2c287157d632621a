// Package storetest opens real databases for tests: an encrypted SQLite
// file in a temporary directory, and, when CREDTRACK_TEST_POSTGRES_URL is
// set, a fresh PostgreSQL database per test. Each test owns its database,
// so tests can run in parallel and runs never collide.
package storetest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/seal"
	"credtrack/internal/sqlstore"
)

// EnvPostgres names the variable holding the PostgreSQL URL for tests.
const EnvPostgres = "CREDTRACK_TEST_POSTGRES_URL"

// Clock is a settable fake clock for tests.
type Clock struct{ T time.Time }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.T }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.T = c.T.Add(d) }

// Options returns store options with fixed test keys.
func Options(clock *Clock) sqlstore.Options {
	return sqlstore.Options{
		SQLiteKey: bytes.Repeat([]byte{7}, 64),
		Sealer:    seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)),
		AuditKey:  bytes.Repeat([]byte{3}, 32),
		KeyCheck:  "test-key-check",
		Now:       clock.Now,
	}
}

// Backends runs fn once per available backend as a subtest ("sqlite",
// "postgres"). PostgreSQL runs when CREDTRACK_TEST_POSTGRES_URL is set; in
// CI (CI=true) a missing or unreachable PostgreSQL fails the test instead
// of skipping it, so a misconfigured CI cannot go green on SQLite alone.
func Backends(t *testing.T, fn func(t *testing.T, db *sqlstore.DB, clock *Clock)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		clock := &Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
		fn(t, OpenSQLite(t, clock), clock)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		clock := &Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
		fn(t, OpenPostgres(t, clock), clock)
	})
}

// OpenSQLite opens and migrates an encrypted SQLite database in a
// temporary directory.
func OpenSQLite(tb testing.TB, clock *Clock) *sqlstore.DB {
	tb.Helper()
	opts := Options(clock)
	opts.SQLitePath = filepath.Join(tb.TempDir(), "test.db")
	return openMigrated(tb, opts)
}

// PostgresURL returns the base URL for PostgreSQL tests, skipping (or in
// CI failing) the test when there is none.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL suite", EnvPostgres)
		}
		tb.Skipf("PostgreSQL tests skipped: set %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them", EnvPostgres)
	}
	return u
}

// PostgresDatabase creates a fresh, empty PostgreSQL database for this
// test, drops it when the test ends, and returns its URL.
func PostgresDatabase(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	name := "ct_test_" + strings.ToLower(credtrack.NewID()[:16])
	url, drop, err := sqlstore.CreatePostgresDatabase(context.Background(), base, name)
	if err != nil {
		tb.Fatalf("PostgreSQL at %s is not usable: %v", EnvPostgres, err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	return url
}

// OpenPostgres opens and migrates a fresh PostgreSQL database (see
// PostgresDatabase).
func OpenPostgres(tb testing.TB, clock *Clock) *sqlstore.DB {
	tb.Helper()
	opts := Options(clock)
	opts.DatabaseURL = PostgresDatabase(tb)
	return openMigrated(tb, opts)
}

func openMigrated(tb testing.TB, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(context.Background(), opts)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db
}

// NewOrg creates an organization and returns a context acting in it as a
// system actor (all permissions).
func NewOrg(tb testing.TB, db *sqlstore.DB, name string) (context.Context, *credtrack.Organization) {
	tb.Helper()
	ctx := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", ""))
	o := &credtrack.Organization{Name: name}
	if err := db.CreateOrg(ctx, o); err != nil {
		tb.Fatalf("create org: %v", err)
	}
	return credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", o.ID)), o
}

// As returns ctx acting as a user with role in org.
func As(userID, orgID string, role credtrack.Role) context.Context {
	return credtrack.NewContextWithActor(context.Background(), credtrack.Actor{
		Kind: credtrack.ActorUser, ID: userID, OrgID: orgID, Role: role, IP: "192.0.2.1", UserAgent: "test", RequestID: "req-test"})
}
