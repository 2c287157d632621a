// Command screenbench measures the exclusion screening engine: it writes
// synthetic lists the size of the real LEIE (83,000 rows) and SAM extract
// (168,000 rows) in their real formats, parses them, indexes them and
// screens 100,000 synthetic providers, then runs the naive nested loop on
// a sample in the same process, checks that both find the same matches,
// and extrapolates the naive time to the whole roster.
//
//	go run ./bench/screenbench [-providers 100000] [-sample 200]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"time"

	"credtrack"
	"credtrack/internal/screening"
	"credtrack/internal/seal"
	"credtrack/internal/sqlstore"
)

func main() {
	nProv := flag.Int("providers", 100_000, "providers to screen")
	nLEIE := flag.Int("leie", 83_000, "LEIE rows")
	nSAM := flag.Int("sam", 168_000, "SAM rows")
	sample := flag.Int("sample", 200, "providers the naive matcher screens")
	pgURL := flag.String("postgres", os.Getenv("CREDTRACK_TEST_POSTGRES_URL"), "PostgreSQL base URL for the import timing (a scratch database is created and dropped); empty: SQLite only")
	flag.Parse()
	dir, err := os.MkdirTemp("", "screenbench")
	check(err)
	defer os.RemoveAll(dir)

	s := screening.NewSynth(2026)
	leiePath, samPath := filepath.Join(dir, "UPDATED.csv"), filepath.Join(dir, "SAM_Exclusions_Public_Extract_V2.csv")
	write := func(p string, fn func(*os.File) error) int64 {
		f, err := os.Create(p)
		check(err)
		check(fn(f))
		check(f.Close())
		st, _ := os.Stat(p)
		return st.Size()
	}
	lsz := write(leiePath, func(f *os.File) error { return s.WriteLEIE(f, *nLEIE) })
	ssz := write(samPath, func(f *os.File) error { return s.WriteSAM(f, *nSAM) })
	fmt.Printf("GOMAXPROCS %d; LEIE %d rows (%.1f MB), SAM %d rows (%.1f MB)\n", runtime.GOMAXPROCS(0), *nLEIE, float64(lsz)/1e6, *nSAM, float64(ssz)/1e6)

	parse := func(p string, src credtrack.ListSource) (*screening.Parsed, time.Duration) {
		f, err := os.Open(p)
		check(err)
		defer f.Close()
		t0, c0 := time.Now(), cpu()
		r, err := screening.Parse(src, f)
		check(err)
		fmt.Printf("parse+validate %s: %v wall, %v CPU\n", src, time.Since(t0).Round(time.Millisecond), (cpu() - c0).Round(time.Millisecond))
		return r, time.Since(t0)
	}
	l, _ := parse(leiePath, credtrack.ListLEIE)
	sm, _ := parse(samPath, credtrack.ListSAM)

	importTimings(dir, leiePath, *pgURL)

	entries := append(l.Entries, sm.Entries...)
	today := credtrack.DateOf(credtrack.Now())
	subjects := s.Providers(*nProv, entries)

	t0, c0 := time.Now(), cpu()
	ix := screening.NewIndex(entries, today)
	build := time.Since(t0)
	fmt.Printf("index build CPU %v\n", (cpu() - c0).Round(time.Millisecond))
	t0, c0 = time.Now(), cpu()
	all := ix.ScreenAll(subjects)
	screen, screenCPU := time.Since(t0), cpu()-c0
	fmt.Printf("index build %v; screen %d providers: %v wall, %v CPU (%d matches)\n", build.Round(time.Millisecond), len(subjects),
		screen.Round(time.Millisecond), screenCPU.Round(time.Millisecond), len(all))

	// The naive matcher on a sample spread over the roster, one core, as
	// the index's per-provider path (also run on one core for the ratio).
	step := max(1, len(subjects) / *sample)
	var smp []*screening.Subject
	for i := 0; i < len(subjects) && len(smp) < *sample; i += step {
		smp = append(smp, subjects[i])
	}
	c0 = cpu()
	naive := screening.NaiveScreen(entries, today, smp)
	nt := cpu() - c0
	c0 = cpu()
	var idx []screening.Match
	for _, p := range smp {
		idx = append(idx, ix.Screen(p)...)
	}
	it := cpu() - c0
	same := reflect.DeepEqual(keys(naive), keys(idx))
	perNaive := nt / time.Duration(len(smp))
	extrap := perNaive * time.Duration(len(subjects))
	fmt.Printf("naive (CPU): %d providers in %v (%v each) → %v extrapolated for %d; index on the same sample: %v\n",
		len(smp), nt.Round(time.Millisecond), perNaive.Round(time.Microsecond), extrap.Round(time.Second), len(subjects), it.Round(time.Millisecond))
	fmt.Printf("identical results on the sample: %v (%d matches)\n", same, len(naive))
	fmt.Printf("speed-up, CPU of the full screen vs extrapolated naive CPU: %.0fx\n", float64(extrap)/float64(screenCPU))
	if !same {
		os.Exit(1)
	}
}

// importTimings imports the full-size LEIE file through the service
// (parse, validate, write the version, switch) into a fresh SQLite store
// and, when pgURL is set, a fresh PostgreSQL database.
func importTimings(dir, leiePath, pgURL string) {
	ctx := context.Background()
	opts := sqlstore.Options{SQLiteKey: bytes.Repeat([]byte{7}, 64), Sealer: seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)),
		AuditKey: bytes.Repeat([]byte{3}, 32)}
	type target struct {
		name string
		opts sqlstore.Options
	}
	targets := []target{{"sqlite", opts}}
	targets[0].opts.SQLitePath = filepath.Join(dir, "bench.db")
	if pgURL != "" {
		url, drop, err := sqlstore.CreatePostgresDatabase(ctx, pgURL, "ct_screenbench_"+strings.ToLower(credtrack.NewID()[:10]))
		check(err)
		defer drop()
		o := opts
		o.DatabaseURL = url
		targets = append(targets, target{"postgres", o})
	}
	for _, tg := range targets {
		db, err := sqlstore.Open(ctx, tg.opts)
		check(err)
		_, err = db.Migrate(ctx)
		check(err)
		f, err := os.Open(leiePath)
		check(err)
		svc := &screening.Service{Store: db}
		t0, c0 := time.Now(), cpu()
		v, err := svc.Import(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("bench", "")), f,
			screening.ImportOptions{Source: credtrack.ListLEIE, Origin: "UPDATED.csv"})
		check(err)
		fmt.Printf("import full LEIE into %s: %v wall, %v CPU (%d entries in force)\n", tg.name, time.Since(t0).Round(time.Millisecond),
			(cpu() - c0).Round(time.Millisecond), v.Entries)
		f.Close()
		db.Close()
	}
}

// cpu returns the process's user+system CPU time: on a machine shared
// with other work, wall time overstates the cost; CPU time does not.
func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func keys(ms []screening.Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s|%s|%d|%s", m.ProviderID, m.Entry.Key, m.Score, strings.Join(m.Reasons, ",")))
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
