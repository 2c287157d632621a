package sqlstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/demo"
	"credtrack/internal/seal"

	_ "github.com/ncruces/go-sqlite3/vfs/xts" // the driver's VFS, for sqlite-libxts
)

// BenchmarkRotation measures the re-encryption rate of `keys rotate` on
// each backend against a baseline measured in the same run: a pass over
// the same rows in the same batches that rewrites every sealed value with
// itself (no decryption, encryption, cursor or audit). Run it with
//
//	go test ./internal/sqlstore -run '^$' -bench Rotation -benchtime 1x
//
// (PostgreSQL when CREDTRACK_TEST_POSTGRES_URL is set). The figures are in
// docs/benchmarks.md.
func BenchmarkRotation(b *testing.B) {
	// sqlite-libxts runs SQLite through the driver's own "xts" VFS (same
	// file format, one system call per 512-byte sector) for comparison.
	for _, backend := range []string{"sqlite", "sqlite-libxts", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			opts := Options{SQLiteKey: bytes.Repeat([]byte{7}, 64), AuditKey: bytes.Repeat([]byte{3}, 32), KeyCheck: "bench",
				Sealer: seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))}
			if strings.HasPrefix(backend, "sqlite") {
				opts.SQLitePath = filepath.Join(b.TempDir(), "bench.db")
				if backend == "sqlite-libxts" {
					opts.SQLiteVFS = "xts"
				}
			} else {
				base := os.Getenv("CREDTRACK_TEST_POSTGRES_URL")
				if base == "" {
					b.Skip("CREDTRACK_TEST_POSTGRES_URL not set")
				}
				url, drop, err := CreatePostgresDatabase(context.Background(), base, "ct_bench_"+strings.ToLower(credtrack.NewID()[:12]))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { drop() })
				opts.DatabaseURL = url
			}
			ctx := context.Background()
			db, err := Open(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("bench", ""))
			o := &credtrack.Organization{Name: "Bench"}
			if err := db.CreateOrg(sys, o); err != nil {
				b.Fatal(err)
			}
			octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("bench", o.ID))
			for _, p := range demo.Providers(1000, credtrack.DateOf(credtrack.Now())) {
				creds := p.Credentials
				if err := db.CreateProvider(octx, p); err != nil {
					b.Fatal(err)
				}
				for _, c := range creds {
					c.ProviderID = p.ID
					if err := db.CreateCredential(octx, c); err != nil {
						b.Fatal(err)
					}
				}
			}
			var rows, values int64
			start := time.Now()
			for _, t := range tablesFor(o.ID) {
				cursor := ""
				for {
					n, v, last, err := db.rewriteBatchForBench(octx, o.ID, t, cursor, 500)
					if err != nil {
						b.Fatal(err)
					}
					rows, values, cursor = rows+n, values+v, last
					if n < 500 {
						break
					}
				}
			}
			base := time.Since(start)
			b.ResetTimer()
			start = time.Now()
			r, err := db.StartRotation(ctx, o.ID)
			if err != nil {
				b.Fatal(err)
			}
			var pass1 time.Duration
			done, err := db.RunRotation(ctx, r.ID, RotateOptions{Progress: func(k KeyRotation) {
				if k.Pass == 2 && pass1 == 0 {
					pass1 = time.Since(start)
				}
			}})
			total := time.Since(start)
			if err != nil || done.State != "completed" || done.Reencrypted != values {
				b.Fatalf("rotation %+v, %v (want %d values)", done, err, values)
			}
			b.ReportMetric(float64(rows)/pass1.Seconds(), "rows/s")
			b.ReportMetric(float64(values)/pass1.Seconds(), "values/s")
			b.ReportMetric(float64(rows)/base.Seconds(), "baseline_rows/s")
			b.ReportMetric(base.Seconds()/pass1.Seconds(), "ratio")
			b.Logf("%s: %d rows, %d values; plain rewrite %v (%.0f rows/s); re-encryption pass %v (%.0f rows/s, %.0f values/s, ratio %.2f); with the verifying pass and disabling %v",
				backend, rows, values, base.Round(time.Millisecond), float64(rows)/base.Seconds(), pass1.Round(time.Millisecond),
				float64(rows)/pass1.Seconds(), float64(values)/pass1.Seconds(), base.Seconds()/pass1.Seconds(), total.Round(time.Millisecond))
		})
	}
}

// rewriteBatchForBench is the baseline of BenchmarkRotation: the next
// batch of t's rows after cursor, each non-empty sealed value written back
// unchanged, in one transaction.
func (db *DB) rewriteBatchForBench(ctx context.Context, org string, t sealedTable, cursor string, batch int) (int64, int64, string, error) {
	var n, v int64
	last := cursor
	err := db.update(ctx, func(tx *Tx) error {
		cols := make([]string, len(t.cols))
		for i, c := range t.cols {
			cols[i] = c.column
		}
		rows, err := tx.query("SELECT id, "+strings.Join(cols, ", ")+" FROM "+t.table+" WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?", org, cursor, batch)
		if err != nil {
			return err
		}
		type rv struct {
			id   string
			vals [][]byte
		}
		var got []rv
		for rows.Next() {
			r := rv{vals: make([][]byte, len(cols))}
			dest := []any{&r.id}
			for i := range r.vals {
				dest = append(dest, &r.vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			got = append(got, r)
		}
		rows.Close()
		for _, r := range got {
			for i, c := range t.cols {
				if r.vals[i] == nil {
					continue
				}
				if _, err := tx.exec("UPDATE "+t.table+" SET "+c.column+" = ? WHERE id = ? AND "+c.column+" = ?", r.vals[i], r.id, r.vals[i]); err != nil {
					return err
				}
				v++
			}
			last = r.id
		}
		n = int64(len(got))
		return nil
	})
	return n, v, last, err
}
