package sqlstore

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// This file holds what `credtrack backup` and `credtrack restore` need
// from the database: a consistent snapshot of either backend, and the
// loading of a PostgreSQL dump into an empty database.

// SnapshotSQLite writes a consistent copy of the SQLite database to path
// (which must not exist) with VACUUM INTO. The copy goes through the same
// AES-256-XTS VFS (xtsvfs) with the same key, so it is as encrypted as the live
// file and opens with the same master key. VACUUM INTO reads in one
// transaction: writers carry on (WAL) and the copy is the database as of
// the moment it started. It runs on the checkpointer's connection, so it
// neither blocks the writer nor takes a reader from the pool.
func (db *DB) SnapshotSQLite(ctx context.Context, path string) error {
	if db.backend != SQLite {
		return errors.New("sqlstore: SnapshotSQLite on a PostgreSQL store")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err == nil {
		return fmt.Errorf("sqlstore: snapshot target %s exists", abs)
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: url.Values{"vfs": {db.sqliteVFS}, "hexkey": {db.sqliteHexKey}}.Encode()}
	if _, err := db.ckpt.conn.ExecContext(ctx, "VACUUM INTO ?", u.String()); err != nil {
		os.Remove(abs)
		return fmt.Errorf("sqlstore: snapshot: %w", err)
	}
	return nil
}

// PGTable describes one table of a PostgreSQL dump: its name, the columns
// in the dump's order, and the file (under the dump directory) holding its
// rows in COPY text format.
type PGTable struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	File    string   `json:"file"`
	Rows    int64    `json:"rows"`
}

// rawPG runs fn on one pgx connection taken from the pool.
func (db *DB) rawPG(ctx context.Context, fn func(c *pgx.Conn) error) error {
	if db.backend != Postgres {
		return errors.New("sqlstore: PostgreSQL only")
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return fn(dc.(*stdlib.Conn).Conn()) })
}

// DumpPostgres writes every table of the current schema into dir (one
// file per table, COPY text format) in one REPEATABLE READ, READ ONLY
// transaction, so the files are one consistent snapshot, and returns the
// tables in dependency order (a table after those its foreign keys point
// to) with the schema version. schema_migrations is not dumped: restore
// rebuilds the schema by running the migrations up to that version.
//
// Tables under row-level security are read one organization at a time
// with credtrack.org_id set, so the dump is complete whether the
// connecting role is a superuser, a BYPASSRLS role or the table owner
// (whom FORCE ROW LEVEL SECURITY subjects to the policies).
func (db *DB) DumpPostgres(ctx context.Context, dir string) (tables []PGTable, version int, err error) {
	err = db.rawPG(ctx, func(c *pgx.Conn) error {
		tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		infos, err := pgTables(ctx, tx)
		if err != nil {
			return err
		}
		var orgs []string
		rows, err := tx.Query(ctx, "SELECT id FROM organizations ORDER BY id")
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			orgs = append(orgs, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, t := range infos {
			file := fmt.Sprintf("%03d_%s.copy", i+1, t.Name)
			f, err := os.OpenFile(filepath.Join(dir, file), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(f, 256<<10)
			cols := quoteIdents(t.Columns)
			var n int64
			if t.rls {
				if !slicesContains(t.Columns, "org_id") {
					f.Close()
					return fmt.Errorf("table %s has row-level security but no org_id column: cannot dump it", t.Name)
				}
				for _, org := range orgs {
					if _, err := tx.Exec(ctx, "SELECT set_config('credtrack.org_id', $1, true)", org); err != nil {
						f.Close()
						return err
					}
					tag, err := tx.Conn().PgConn().CopyTo(ctx, w, fmt.Sprintf("COPY (SELECT %s FROM %s WHERE org_id = %s ORDER BY 1) TO STDOUT",
						cols, pgx.Identifier{t.Name}.Sanitize(), quoteLiteral(org)))
					if err != nil {
						f.Close()
						return fmt.Errorf("dump %s: %w", t.Name, err)
					}
					n += tag.RowsAffected()
				}
			} else {
				tag, err := tx.Conn().PgConn().CopyTo(ctx, w, fmt.Sprintf("COPY %s (%s) TO STDOUT", pgx.Identifier{t.Name}.Sanitize(), cols))
				if err != nil {
					f.Close()
					return fmt.Errorf("dump %s: %w", t.Name, err)
				}
				n = tag.RowsAffected()
			}
			if err := w.Flush(); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			tables = append(tables, PGTable{Name: t.Name, Columns: t.Columns, File: file, Rows: n})
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: dump: %w", err)
	}
	return tables, version, nil
}

type pgTableInfo struct {
	Name    string
	Columns []string
	rls     bool
}

// pgTables lists the tables of the current schema other than
// schema_migrations, parents before children.
func pgTables(ctx context.Context, tx pgx.Tx) ([]pgTableInfo, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname, c.relrowsecurity FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
		ORDER BY c.relname`)
	if err != nil {
		return nil, err
	}
	byName := map[string]*pgTableInfo{}
	var names []string
	for rows.Next() {
		t := &pgTableInfo{}
		if err := rows.Scan(&t.Name, &t.rls); err != nil {
			rows.Close()
			return nil, err
		}
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
			ORDER BY ordinal_position`, name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var col string
			if err := rows.Scan(&col); err != nil {
				rows.Close()
				return nil, err
			}
			byName[name].Columns = append(byName[name].Columns, col)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	deps := map[string][]string{}
	rows, err = tx.Query(ctx, `SELECT c.relname, p.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE k.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return nil, err
		}
		if child != parent {
			deps[child] = append(deps[child], parent)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	order, err := topoSort(names, deps)
	if err != nil {
		return nil, err
	}
	out := make([]pgTableInfo, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, nil
}

// topoSort orders names so that every name comes after its deps; ties go
// alphabetically, so the order is stable from one dump to the next.
func topoSort(names []string, deps map[string][]string) ([]string, error) {
	done := map[string]bool{}
	var out []string
	sort.Strings(names)
	for len(out) < len(names) {
		progressed := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, d := range deps[n] {
				if !done[d] && slicesContains(names, d) {
					ready = false
					break
				}
			}
			if ready {
				done[n] = true
				out = append(out, n)
				progressed = true
			}
		}
		if !progressed {
			return nil, errors.New("foreign keys form a cycle between tables")
		}
	}
	return out, nil
}

// IsEmptyPostgres reports whether the current schema of the database holds
// no table at all, which is what restore requires of its target.
func (db *DB) IsEmptyPostgres(ctx context.Context) (bool, error) {
	var n int
	err := db.write.QueryRowContext(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')`).Scan(&n)
	return n == 0, err
}

// LoadPostgres loads a dump written by DumpPostgres into a database whose
// schema was just migrated to the dump's version and holds no rows, all
// in one transaction: either every row arrives or none does. open returns
// a table's file. Row-level security is lifted (NO FORCE) for the load,
// because COPY FROM refuses tables under a policy, and put back before the
// commit; a superuser is not subject to it anyway.
func (db *DB) LoadPostgres(ctx context.Context, tables []PGTable, open func(file string) (io.ReadCloser, error)) error {
	return db.rawPG(ctx, func(c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		var forced []string
		for _, t := range tables {
			name := pgx.Identifier{t.Name}.Sanitize()
			var force bool
			if err := tx.QueryRow(ctx, `SELECT c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind = 'r'`, t.Name).Scan(&force); err != nil {
				if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("the backup has table %s, which the migrated schema does not", t.Name)
				}
				return err
			}
			var rows int64
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&rows); err != nil {
				return err
			}
			if rows > 0 {
				return fmt.Errorf("table %s is not empty", t.Name)
			}
			if force {
				if _, err := tx.Exec(ctx, "ALTER TABLE "+name+" NO FORCE ROW LEVEL SECURITY"); err != nil {
					return err
				}
				forced = append(forced, name)
			}
			r, err := open(t.File)
			if err != nil {
				return err
			}
			tag, err := tx.Conn().PgConn().CopyFrom(ctx, r, fmt.Sprintf("COPY %s (%s) FROM STDIN", name, quoteIdents(t.Columns)))
			r.Close()
			if err != nil {
				return fmt.Errorf("load %s: %w", t.Name, err)
			}
			if tag.RowsAffected() != t.Rows {
				return fmt.Errorf("load %s: %d rows loaded, the backup lists %d", t.Name, tag.RowsAffected(), t.Rows)
			}
		}
		for _, name := range forced {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+name+" FORCE ROW LEVEL SECURITY"); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	})
}

func quoteIdents(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func slicesContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
