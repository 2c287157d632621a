package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"credtrack/internal/xtsvfs"
)

// openSQLite opens the embedded database through the xtsvfs VFS, which
// encrypts every page with AES-256-XTS, so the file on disk holds no
// plaintext. Its format is that of the driver's own "xts" VFS, so files
// written before it was introduced keep opening; it moves runs of whole
// sectors with one system call where the driver's makes one per 512 bytes. The key is set with PRAGMA hexkey on each new connection
// rather than in the URI, so it never appears in a DSN that could be
// logged. One writer connection serializes writes (SQLite allows one
// writer at a time anyway; queueing in Go beats SQLITE_BUSY retries) and
// a pool of read-only connections serves reads concurrently under WAL.
func (db *DB) openSQLite(ctx context.Context, opts Options) error {
	if len(opts.SQLiteKey) != 64 {
		return errors.New("sqlstore: the SQLite key must be 64 bytes")
	}
	hexKey := hex.EncodeToString(opts.SQLiteKey)
	db.sqliteHexKey = hexKey
	db.sqliteVFS = opts.SQLiteVFS
	if db.sqliteVFS == "" {
		db.sqliteVFS = xtsvfs.Name
	}
	// A relative path in a file: URL would be read as a host name
	// ("file://credtrack-data/…"), so the path is made absolute first.
	abs, err := filepath.Abs(opts.SQLitePath)
	if err != nil {
		return fmt.Errorf("cannot resolve the database path %s: %w", opts.SQLitePath, err)
	}
	u := url.URL{Scheme: "file", Path: abs}
	// Both levels run the connections at NORMAL; full adds the WAL
	// syncer, which gives every commit FULL's guarantee without holding
	// the writer during the flush (walsync.go).
	sync := "NORMAL"
	switch strings.ToLower(opts.SQLiteSynchronous) {
	case "", "full":
		db.walSync = newWALSyncer(abs)
	case "normal":
	default:
		return fmt.Errorf("sqlite synchronous level %q: want full or normal", opts.SQLiteSynchronous)
	}
	init := func(role sqliteConnRole) func(*sqlite3.Conn) error {
		return func(c *sqlite3.Conn) error {
			// Order matters: the key first, then busy_timeout, then the rest
			// (see the driver's documentation of PRAGMA order).
			stmts := []string{
				"PRAGMA hexkey='" + hexKey + "'",
				"PRAGMA busy_timeout=10000",
				"PRAGMA journal_mode=WAL",
				// NORMAL syncs the WAL only at checkpoints. With
				// --sqlite-synchronous full (the default) db.walSync syncs
				// it after every commit before the caller returns, so an
				// audit event is on disk before the read it records
				// returns, even across power loss; with normal the store
				// survives a crash of credtrack only.
				"PRAGMA synchronous=" + sync,
				"PRAGMA foreign_keys=ON",
				// Temporary files would be encrypted with random keys; keeping
				// them in memory avoids that cost.
				"PRAGMA temp_store=memory",
				// A larger page cache matters more with XTS: each page read
				// from disk is decrypted (SECURITY.md §3 measured 4.8× slower
				// bulk inserts without it).
				"PRAGMA cache_size=-65536",
			}
			switch role {
			case sqliteReader:
				stmts = append(stmts, "PRAGMA query_only=1")
			case sqliteWriter:
				// The writer never checkpoints: copying WAL pages back into
				// the database (decrypt, encrypt, write, sync) is done by the
				// checkpointer's own connection, off the path of commits
				// that callers are waiting for.
				stmts = append(stmts, "PRAGMA wal_autocheckpoint=0")
			}
			for _, s := range stmts {
				if err := c.Exec(s); err != nil {
					return err
				}
			}
			return nil
		}
	}
	q := url.Values{"vfs": {db.sqliteVFS}, "_txlock": {"immediate"}}
	u.RawQuery = q.Encode()
	w, err := driver.Open(u.String(), init(sqliteWriter))
	if err != nil {
		return sqliteOpenError(opts.SQLitePath, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)

	q.Set("_txlock", "deferred")
	u.RawQuery = q.Encode()
	r, err := driver.Open(u.String(), init(sqliteReader))
	if err != nil {
		w.Close()
		return sqliteOpenError(opts.SQLitePath, err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	c, err := driver.Open(u.String(), init(sqliteCheckpointer))
	if err != nil {
		w.Close()
		r.Close()
		return sqliteOpenError(opts.SQLitePath, err)
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	db.write, db.read = w, r
	db.wstmts, db.rstmts = newStmtCache(w), newStmtCache(r)

	// Touch the schema through the writer: this is where a wrong key or a
	// file that is not an SQLite database shows up.
	var count int
	if err := w.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&count); err != nil {
		c.Close()
		db.Close()
		return sqliteOpenError(opts.SQLitePath, err)
	}
	db.ckpt = startCheckpointer(c, db.log)
	return nil
}

// sqliteConnRole is what a connection of the SQLite store is for.
type sqliteConnRole int

const (
	sqliteWriter sqliteConnRole = iota
	sqliteReader
	sqliteCheckpointer
)

// checkpointEvery is how often the checkpointer copies committed WAL pages
// into the database file. SQLite's own automatic checkpoint runs every
// 1,000 pages; at the write rates of a busy server this interval keeps the
// WAL around that size or smaller, and when nothing was written a
// checkpoint finds nothing to do.
const checkpointEvery = 250 * time.Millisecond

// checkpointer runs PASSIVE checkpoints from its own connection, so that
// the single writer (which has wal_autocheckpoint off) never stops a
// commit to do one. A PASSIVE checkpoint takes no lock that blocks the
// writer or readers; it copies what no reader still needs, and the writer
// starts the WAL over once everything has been copied.
type checkpointer struct {
	conn *sql.DB
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startCheckpointer(conn *sql.DB, log *slog.Logger) *checkpointer {
	c := &checkpointer{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			var busy, logPages, copied int
			if err := conn.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &copied); err != nil {
				log.Warn("sqlite checkpoint failed", "err", err)
			}
		}
	}()
	return c
}

// close stops the checkpointer and closes its connection. Closing the last
// connection to the database checkpoints what is left.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.conn.Close()
}

// sqliteOpenError explains the usual reasons a database does not open.
func sqliteOpenError(path string, err error) error {
	var code sqlite3.ErrorCode
	if errors.As(err, &code) {
		switch code {
		case sqlite3.NOTADB:
			return fmt.Errorf("%s is not a credtrack database, is damaged, or was encrypted with another master key: restore it from a backup or point --data-dir elsewhere", path)
		case sqlite3.READONLY, sqlite3.CANTOPEN, sqlite3.PERM:
			return fmt.Errorf("cannot open %s for writing: check that the data directory exists and is writable by this user", path)
		}
	}
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("cannot open %s: permission denied", path)
	}
	return fmt.Errorf("cannot open the database %s: %w", path, err)
}

func sqliteUnique(err error) bool {
	return errors.Is(err, sqlite3.CONSTRAINT_UNIQUE) || errors.Is(err, sqlite3.CONSTRAINT_PRIMARYKEY)
}

// isUniqueViolation reports whether err is a unique-key violation on either backend.
func (db *DB) isUniqueViolation(err error) bool {
	if db.backend == SQLite {
		return sqliteUnique(err)
	}
	return pgUnique(err)
}
