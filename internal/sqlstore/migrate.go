package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// migration is one numbered, forward-only schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the backend's migrations in order. Files are named
// NNNN_name.sql under migrations/<backend>/; both directories must hold the
// same numbers (a test checks).
func (db *DB) migrations() ([]migration, error) {
	dir := path.Join("migrations", string(db.backend))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("sqlstore: bad migration file name %s", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaStatus returns the applied schema version (the highest applied
// migration) and the newest version this binary knows.
func (db *DB) SchemaStatus(ctx context.Context) (current, latest int, err error) {
	ms, err := db.migrations()
	if err != nil {
		return 0, 0, err
	}
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	current, err = db.currentVersion(ctx, db.write)
	return current, latest, err
}

// rowQuerier is what currentVersion and appliedVersions need from a
// connection pool or a transaction.
type rowQuerier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

func (db *DB) migrationsTableExists(ctx context.Context, q rowQuerier) (bool, error) {
	var exists int
	var probe string
	if db.backend == Postgres {
		probe = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
	} else {
		probe = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	}
	if err := q.QueryRowContext(ctx, probe).Scan(&exists); err != nil {
		return false, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	return exists > 0, nil
}

func (db *DB) currentVersion(ctx context.Context, q rowQuerier) (int, error) {
	if ok, err := db.migrationsTableExists(ctx, q); err != nil || !ok {
		return 0, err
	}
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// appliedVersions returns the set of migrations recorded as applied. The
// set, not the highest number, decides what is pending: a database that
// got a later migration first (two branches developed side by side) must
// still get the earlier one rather than skip it silently.
func (db *DB) appliedVersions(ctx context.Context, q rowQuerier) (map[int]bool, error) {
	applied := map[int]bool{}
	if ok, err := db.migrationsTableExists(ctx, q); err != nil || !ok {
		return applied, err
	}
	rows, err := q.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read schema versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// pendingMigrations returns, in order, the migrations of ms not in
// applied, up to and including upTo (0: all).
func pendingMigrations(ms []migration, applied map[int]bool, upTo int) []migration {
	var out []migration
	for _, m := range ms {
		if applied[m.version] || (upTo > 0 && m.version > upTo) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// ErrSchemaNewer is returned when the database was migrated by a newer credtrack.
type ErrSchemaNewer struct{ Current, Latest int }

func (e *ErrSchemaNewer) Error() string {
	return fmt.Sprintf("the database schema is version %d, newer than this credtrack knows (%d): upgrade credtrack, or restore a backup taken before the upgrade", e.Current, e.Latest)
}

// ErrSchemaOutdated is returned by CheckSchema when migrations are
// pending: Missing lists them (it may include versions below Current).
type ErrSchemaOutdated struct {
	Current, Latest int
	Missing         []int
}

func (e *ErrSchemaOutdated) Error() string {
	if e.Current >= e.Latest && len(e.Missing) > 0 {
		return fmt.Sprintf("the database schema is version %d but lacks migration %04d (and %d more): run `credtrack migrate` first (or start serve without --migrate=false)", e.Current, e.Missing[0], len(e.Missing)-1)
	}
	return fmt.Sprintf("the database schema is version %d but this credtrack needs %d: run `credtrack migrate` first (or start serve without --migrate=false)", e.Current, e.Latest)
}

// CheckSchema returns nil when the schema is exactly current, and
// *ErrSchemaOutdated or *ErrSchemaNewer otherwise.
func (db *DB) CheckSchema(ctx context.Context) error {
	cur, latest, err := db.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	if cur > latest {
		return &ErrSchemaNewer{cur, latest}
	}
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	applied, err := db.appliedVersions(ctx, db.write)
	if err != nil {
		return err
	}
	if pending := pendingMigrations(ms, applied, 0); len(pending) > 0 {
		e := &ErrSchemaOutdated{Current: cur, Latest: latest}
		for _, m := range pending {
			e.Missing = append(e.Missing, m.version)
		}
		return e
	}
	return nil
}

// Migrate applies the pending migrations, each in its own transaction
// together with its schema_migrations row, so a failure leaves the schema
// at the last complete version. On PostgreSQL a transaction-scoped
// advisory lock makes concurrent servers apply each migration once. It
// returns how many migrations were applied. After migrating it stores or
// checks the master key's check value.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	applied, err := db.MigrateTo(ctx, 0)
	if err != nil {
		return applied, err
	}
	return applied, db.checkKey(ctx)
}

// MigrateTo applies the pending migrations up to and including version
// (0: all of them) without touching the key check; restore uses it to
// rebuild the schema a backup was taken with before loading its rows.
func (db *DB) MigrateTo(ctx context.Context, version int) (int, error) {
	ms, err := db.migrations()
	if err != nil {
		return 0, err
	}
	latest := ms[len(ms)-1].version
	if version > latest {
		return 0, &ErrSchemaNewer{version, latest}
	}
	cur, err := db.currentVersion(ctx, db.write)
	if err != nil {
		return 0, err
	}
	if cur > latest {
		return 0, &ErrSchemaNewer{cur, latest}
	}
	done, err := db.appliedVersions(ctx, db.write)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, m := range pendingMigrations(ms, done, version) {
		if m.version < cur {
			db.log.Warn("applying a migration numbered below the schema version: it was skipped before", "version", m.version, "name", m.name, "schema_version", cur)
		}
		ok, err := db.applyMigration(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s failed and was rolled back: %w", m.version, m.name, err)
		}
		if ok {
			applied++
			db.log.Info("applied migration", "version", m.version, "name", m.name)
		}
	}
	return applied, nil
}

func (db *DB) applyMigration(ctx context.Context, m migration) (bool, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if db.backend == Postgres {
		// 0x637472 = "ctr": one lock id for all credtrack migrations.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(6517874)"); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, db.rebind("SELECT count(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 { // another process applied it while we waited for the lock
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, db.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		m.version, m.name, db.now().UnixMicro()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// ErrWrongKey is returned when the master key does not match the one the
// database was created with.
var ErrWrongKey = fmt.Errorf("the master key does not match the one this database was created with: supply the original key (--master-key or CREDTRACK_MASTER_KEY_FILE)")

// checkKey stores the master key's check value on first use and compares
// it afterwards. On SQLite a wrong key already fails at open (the pages do
// not decrypt); on PostgreSQL this is the canary that catches it.
func (db *DB) checkKey(ctx context.Context) error {
	if err := db.checkKeyValue(ctx); err != nil {
		return err
	}
	return db.initKeys(ctx)
}

// checkKeyValue is the comparison of checkKey.
func (db *DB) checkKeyValue(ctx context.Context) error {
	if db.keyCheck == "" {
		return nil
	}
	var stored string
	err := db.write.QueryRowContext(ctx, db.rebind("SELECT value FROM instance_meta WHERE key = ?"), "key_check").Scan(&stored)
	if err == sql.ErrNoRows {
		_, err = db.write.ExecContext(ctx, db.rebind("INSERT INTO instance_meta (key, value) VALUES (?, ?)"), "key_check", db.keyCheck)
		if db.isUniqueViolation(err) {
			return db.checkKeyValue(ctx) // another process stored it first
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("sqlstore: read key check: %w", err)
	}
	if stored != db.keyCheck {
		return ErrWrongKey
	}
	return nil
}

// CheckKey compares the master key with the stored check value (serve
// calls it after CheckSchema when it does not migrate).
func (db *DB) CheckKey(ctx context.Context) error { return db.checkKey(ctx) }
