package xtsvfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/vfs/xts" // the library's VFS, "xts", to compare with

	"credtrack/internal/xtsvfs"
)

const hexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"

// keying is one way of giving the key.
type keying struct {
	name   string
	params url.Values // URI parameters besides vfs
	pragma string     // run first on each connection, if set
}

var keyings = []keying{
	{"hexkey pragma", nil, "PRAGMA hexkey='" + hexKey + "'"},
	{"hexkey uri", url.Values{"hexkey": {hexKey}}, ""},
	{"textkey uri", url.Values{"textkey": {"correct horse battery staple"}}, ""},
	{"key uri (AES-128)", url.Values{"key": {"0123456789abcdef0123456789abcdef"}}, ""},
}

func open(t testing.TB, path, vfsName string, k keying, extra ...string) *sql.DB {
	t.Helper()
	q := url.Values{"vfs": {vfsName}}
	for n, v := range k.params {
		q[n] = v
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	db, err := driver.Open(u.String(), func(c *sqlite3.Conn) error {
		stmts := []string{"PRAGMA busy_timeout=10000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}
		if k.pragma != "" {
			stmts = append([]string{k.pragma}, stmts...)
		}
		for _, s := range append(stmts, extra...) {
			if err := c.Exec(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// fill inserts n rows with blobs of varied sizes (some spill to overflow
// pages) from seed.
func fill(t testing.TB, db *sql.DB, seed, n int) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB, s TEXT)"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		v := bytes.Repeat([]byte{byte(seed + i)}, (seed*131+i*977)%6000)
		if _, err := tx.Exec("INSERT INTO t (v, s) VALUES (?, ?)", v, fmt.Sprint("row ", seed, " ", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec("DELETE FROM t WHERE id % 7 = ?", seed%7); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// digest hashes every row and checks the database's integrity.
func digest(t testing.TB, db *sql.DB) string {
	t.Helper()
	var ok string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
	rows, err := db.Query("SELECT id, v, s FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	h := sha256.New()
	n := 0
	for rows.Next() {
		var id int64
		var v []byte
		var s string
		if err := rows.Scan(&id, &v, &s); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d %x %s\n", id, v, s)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d rows %x", n, h.Sum(nil))
}

// TestFormatCompatibility writes a database through the library's "xts"
// VFS, reads and extends it through ours, and reads it back through the
// library's, for each way of giving the key; then the other way round.
// It also checks that the files hold no plaintext.
func TestFormatCompatibility(t *testing.T) {
	for _, k := range keyings {
		t.Run(k.name, func(t *testing.T) {
			for _, order := range [][2]string{{"xts", xtsvfs.Name}, {xtsvfs.Name, "xts"}} {
				path := filepath.Join(t.TempDir(), "db")
				a := open(t, path, order[0], k)
				fill(t, a, 1, 400)
				want := digest(t, a)
				// Leave committed pages in the WAL too: b reads them
				// through its own VFS while a is still open.
				fill(t, a, 2, 50)
				want2 := digest(t, a)

				b := open(t, path, order[1], k)
				if got := digest(t, b); got != want2 {
					t.Fatalf("%s wrote, %s read: %s, want %s (before the last commit: %s)", order[0], order[1], got, want2, want)
				}
				if err := a.Close(); err != nil {
					t.Fatal(err)
				}
				fill(t, b, 3, 300)
				want3 := digest(t, b)
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}

				c := open(t, path, order[0], k)
				if got := digest(t, c); got != want3 {
					t.Fatalf("%s extended, %s read: %s, want %s", order[1], order[0], got, want3)
				}
				c.Close()

				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(raw, []byte("SQLite format 3")) || bytes.Contains(raw, []byte("row 3 ")) {
					t.Fatal("plaintext in the database file")
				}
			}
		})
	}
}

// TestWrongKey: a database opened with another key is refused, not read.
func TestWrongKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := open(t, path, xtsvfs.Name, keyings[0])
	fill(t, db, 1, 10)
	db.Close()
	u := url.URL{Scheme: "file", Path: path, RawQuery: url.Values{"vfs": {xtsvfs.Name}, "textkey": {"wrong"}}.Encode()}
	bad, err := sql.Open("sqlite3", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	var n int
	if err := bad.QueryRow("SELECT count(*) FROM t").Scan(&n); err == nil {
		t.Fatal("read a database with the wrong key")
	}
}

// TestConcurrentReadersWAL runs a writer committing transactions that
// keep an invariant (every transaction inserts v and -v, so sum(v) = 0)
// against readers with a tiny page cache, which read WAL frames and
// database pages through the VFS all the time, and a checkpointer.
func TestConcurrentReadersWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	k := keyings[0]
	w := open(t, path, xtsvfs.Name, k, "PRAGMA cache_size=8")
	defer w.Close()
	w.SetMaxOpenConns(1)
	if _, err := w.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, pad BLOB)"); err != nil {
		t.Fatal(err)
	}
	r := open(t, path, xtsvfs.Name, k, "PRAGMA cache_size=8", "PRAGMA query_only=1")
	defer r.Close()
	r.SetMaxOpenConns(4)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				var sum, n int64
				if err := r.QueryRow("SELECT coalesce(sum(v), 0), count(*) FROM t").Scan(&sum, &n); err != nil {
					errs <- err
					return
				}
				if sum != 0 || n%2 != 0 {
					errs <- fmt.Errorf("reader saw sum %d over %d rows: a torn transaction", sum, n)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := r.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				errs <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	for i := 0; ctx.Err() == nil; i++ {
		tx, err := w.Begin()
		if err != nil {
			t.Fatal(err)
		}
		pad := bytes.Repeat([]byte{byte(i)}, 100+i%3000)
		if _, err := tx.Exec("INSERT INTO t (v, pad) VALUES (?, ?), (?, ?)", i, pad, -i, pad); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var ok string
	if err := w.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
}

// TestVacuumInto copies a database through the VFS into a new encrypted
// file, as the store's snapshot does, and reads the copy with the
// library's VFS. Before that, a VACUUM and a sort with temp_store=file
// go through temporary files (random keys).
func TestVacuumInto(t *testing.T) {
	dir := t.TempDir()
	k := keyings[1]
	db := open(t, filepath.Join(dir, "db"), xtsvfs.Name, k, "PRAGMA temp_store=file", "PRAGMA cache_size=4")
	defer db.Close()
	db.SetMaxOpenConns(1)
	fill(t, db, 5, 300)
	want := digest(t, db)
	if _, err := db.Exec("VACUUM"); err != nil {
		t.Fatal(err)
	}
	var first string
	if err := db.QueryRow("SELECT s FROM t ORDER BY v DESC, s LIMIT 1").Scan(&first); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, db); got != want {
		t.Fatalf("after VACUUM: %s, want %s", got, want)
	}
	target := url.URL{Scheme: "file", Path: filepath.Join(dir, "copy"), RawQuery: url.Values{"vfs": {xtsvfs.Name}, "hexkey": {hexKey}}.Encode()}
	if _, err := db.Exec("VACUUM INTO ?", target.String()); err != nil {
		t.Fatal(err)
	}
	c := open(t, filepath.Join(dir, "copy"), "xts", k)
	defer c.Close()
	if got := digest(t, c); got != want {
		t.Fatalf("copy: %s, want %s", got, want)
	}
}

// BenchmarkAuditCommit compares the driver's "xts" VFS with this one on
// what the audit path does: commits of a few rows with random keys into a
// table with secondary indexes (WAL, synchronous=NORMAL), each followed by
// reads of a reader connection whose page cache the commit invalidated.
//
//	go test ./internal/xtsvfs -run '^$' -bench AuditCommit -count 3
func BenchmarkAuditCommit(b *testing.B) {
	for _, name := range []string{"xts", xtsvfs.Name} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "db")
			w := open(b, path, name, keyings[0], "PRAGMA wal_autocheckpoint=0")
			defer w.Close()
			w.SetMaxOpenConns(1)
			r := open(b, path, name, keyings[0], "PRAGMA query_only=1")
			defer r.Close()
			r.SetMaxOpenConns(1)
			for _, s := range []string{
				"CREATE TABLE ev (id TEXT PRIMARY KEY, org TEXT, seq INTEGER, at TEXT, actor TEXT, details TEXT, hash BLOB)",
				"CREATE INDEX ev_org_seq ON ev (org, seq)",
				"CREATE INDEX ev_actor ON ev (org, actor, at)",
				"CREATE INDEX ev_at ON ev (org, at)",
			} {
				if _, err := w.Exec(s); err != nil {
					b.Fatal(err)
				}
			}
			ins, err := w.Prepare("INSERT INTO ev VALUES (?, 'org', ?, ?, ?, ?, randomblob(32))")
			if err != nil {
				b.Fatal(err)
			}
			defer ins.Close()
			seq := 0
			cpu0 := cpuTime()
			defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
			for i := 0; b.Loop(); i++ {
				tx, err := w.Begin()
				if err != nil {
					b.Fatal(err)
				}
				for range 6 {
					seq++
					id := fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(seq))))[:26]
					if _, err := tx.Stmt(ins).Exec(id, seq, time.Now().Format(time.RFC3339Nano), fmt.Sprint("user", seq%50), `{"target":"credential"}`); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				var n int
				if err := r.QueryRow("SELECT count(*) FROM ev WHERE org = 'org' AND actor = ?", fmt.Sprint("user", i%50)).Scan(&n); err != nil {
					b.Fatal(err)
				}
				if i%200 == 199 {
					if _, err := w.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// cpuTime is the user + system CPU time of the process so far: on a
// shared machine it varies less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCommitIsInTheFile checks that a commit's WAL frames are in the file
// when COMMIT returns, although the VFS holds back a transaction's frames
// to write them as one run: the files are copied while the connection is
// still open (as a power loss after a sync would find them, with nothing
// closed or checkpointed) and the copy is opened through the library's
// VFS, which must recover every commit. A page cache of a few pages makes
// SQLite spill frames before the commit and then rewrite them in place and
// recompute their checksums (the writes behind the end of the log).
func TestCommitIsInTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	k := keyings[1]
	db := open(t, path, xtsvfs.Name, k, "PRAGMA cache_size=4", "PRAGMA wal_autocheckpoint=0")
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB, s TEXT)"); err != nil {
		t.Fatal(err)
	}
	for round := range 6 {
		fill(t, db, round, 40) // spills: 40 rows of up to 6 KB through 4 pages of cache
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		// Touch the same pages again and again in one transaction, so
		// that spilled frames are rewritten before the commit.
		for i := range 30 {
			if _, err := tx.Exec("UPDATE t SET s = s || ? WHERE id % 5 = ?", fmt.Sprint(i), i%5); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if round%2 == 1 {
			continue
		}
		// Copy before anything else runs on the connection: any call on
		// the WAL file would write what was held back.
		crash := filepath.Join(t.TempDir(), "db")
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(crash+suffix, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		want := digest(t, db)
		copied := open(t, crash, "xts", k)
		if got := digest(t, copied); got != want {
			t.Fatalf("round %d: the files at commit hold %s, the connection %s", round, got, want)
		}
		copied.Close()
	}
}
