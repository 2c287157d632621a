// Command rosterbench measures the roster import: a synthetic roster of N
// providers with two credentials each (a state license and a DEA
// registration; NPI, SSN and date of birth on the provider) is written to
// a CSV file and imported through roster.Import (skip-invalid, one pass,
// 2,000 providers per transaction by default: every provider and credential sealed,
// blind-indexed and audited with its own event in its transaction), and,
// in the same run on the same database, fed from the same file through the
// same parser and validator into PlainRosterInsertForBenchmark: the same
// rows with the same multi-row INSERTs into scratch tables of the same
// shape, without encryption, blind indexes, table indexes or audit. It
// prints providers/s, CSV rows/s and the ratio, the time of an
// all-or-nothing import (which reads the file twice), and the peak heap in
// use and RSS sampled every 100 ms during each phase, for each file size
// given, so that memory can be compared across sizes.
//
//	go run ./bench/rosterbench [-providers 100000] [-sizes 10000,100000]
//	    [-postgres URL] [-backends sqlite,postgres] [-sqlite-vfs xts]
//
// -postgres defaults to $CREDTRACK_TEST_POSTGRES_URL. This is a main
// package without tests, so go test ./... never runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"credtrack"
	"credtrack/internal/roster"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"

	_ "github.com/ncruces/go-sqlite3/vfs/xts" // the driver's VFS, for -sqlite-vfs xts
)

func main() {
	sizes := flag.String("sizes", "10000,100000", "comma-separated numbers of providers, one run each")
	pg := flag.String("postgres", os.Getenv(storetest.EnvPostgres), "PostgreSQL base URL; empty skips PostgreSQL")
	backends := flag.String("backends", "sqlite,postgres", "comma-separated backends to run")
	flag.IntVar(&batchSize, "batch", 0, "providers per transaction of the import (0: roster.Options' default)")
	flag.IntVar(&aonMax, "all-or-nothing-max", 10000, "run the all-or-nothing phase for sizes up to this")
	flag.StringVar(&sqliteVFS, "sqlite-vfs", "", "SQLite VFS (empty: the store's credtrack-xts; xts: the driver's, same format, one system call per 512-byte sector)")
	flag.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of each import phase to PREFIX.BACKEND.N.pprof")
	flag.Parse()
	fmt.Printf("rosterbench: %s, GOMAXPROCS %d, load average at start: %s\n", time.Now().UTC().Format(time.RFC3339),
		runtime.GOMAXPROCS(0), loadavg())
	for _, b := range strings.Split(*backends, ",") {
		backend := sqlstore.Backend(strings.TrimSpace(b))
		if backend == sqlstore.Postgres && *pg == "" {
			fmt.Println("\nPostgreSQL skipped: set -postgres or", storetest.EnvPostgres)
			continue
		}
		fmt.Printf("\n### %s\n\n", map[sqlstore.Backend]string{sqlstore.SQLite: "SQLite (encrypted, AES-XTS VFS)", sqlstore.Postgres: "PostgreSQL"}[backend])
		fmt.Println("| providers | CSV | phase | wall time | providers/s | CSV rows/s | ratio to plain (wall) | CPU of this process | ratio to plain (CPU) | CPU of the postgres processes | peak heap in use | peak RSS | load at end |")
		fmt.Println("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				fmt.Fprintln(os.Stderr, "rosterbench: bad -sizes")
				os.Exit(2)
			}
			if err := run(backend, *pg, n); err != nil {
				fmt.Fprintf(os.Stderr, "rosterbench: %s, %d providers: %v\n", backend, n, err)
				os.Exit(1)
			}
		}
	}
}

var (
	cpuprofile string
	sqliteVFS  string
	batchSize  int
	aonMax     int
)

// profile starts a CPU profile when -cpuprofile is set; the returned
// function stops it.
func profile(name string) func() {
	if cpuprofile == "" {
		return func() {}
	}
	f, err := os.Create(cpuprofile + "." + name + ".pprof")
	if err != nil {
		fmt.Fprintln(os.Stderr, "rosterbench:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// sampler records the peak heap in use and RSS while a phase runs, and
// the CPU time this process used (user + system), which on a shared
// machine compares better than wall time.
type sampler struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	heap     uint64
	rss      uint64
	loadSeen string
	cpu0     time.Duration
	cpu      time.Duration
	pg0, pg  time.Duration // CPU of the local PostgreSQL server's processes
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times on Linux.
const clockTicks = 100

// pgServerCPU sums the user + system time of the processes named
// "postgres" on this machine, with the time of the ones that have exited
// (counted in their parent's children times). It includes whatever else
// the server did meanwhile (other sessions' databases), so it is an upper
// bound of the import's server CPU; 0 when /proc is unreadable or the
// server runs elsewhere.
func pgServerCPU() time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil || !strings.Contains(string(b), "(postgres)") {
			continue
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
		// After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
		for _, i := range []int{11, 12, 13, 14} {
			if i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				ticks += n
			}
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sample() *sampler {
	s := &sampler{stop: make(chan struct{})}
	runtime.GC()
	s.cpu0 = cpuTime()
	s.pg0 = pgServerCPU()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			s.heap = max(s.heap, ms.HeapInuse)
			s.rss = max(s.rss, rss())
			select {
			case <-s.stop:
				s.loadSeen = loadavg()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) end() {
	close(s.stop)
	s.wg.Wait()
	s.cpu = cpuTime() - s.cpu0
	s.pg = pgServerCPU() - s.pg0
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n uint64) string { return fmt.Sprintf("%d MiB", n>>20) }

func run(backend sqlstore.Backend, pgURL string, n int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "rosterbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := storetest.Options(&storetest.Clock{})
	opts.Now = nil
	switch backend {
	case sqlstore.SQLite:
		opts.SQLitePath = filepath.Join(dir, "bench.db")
		opts.SQLiteVFS = sqliteVFS
	case sqlstore.Postgres:
		name := "ct_bench_" + strings.ToLower(credtrack.NewID()[:16])
		url, drop, err := sqlstore.CreatePostgresDatabase(ctx, pgURL, name)
		if err != nil {
			return err
		}
		defer drop()
		opts.DatabaseURL = url
	}
	db, err := sqlstore.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("rosterbench", ""))
	org := &credtrack.Organization{Name: "Bench"}
	if err := db.CreateOrg(sys, org); err != nil {
		return err
	}
	octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("rosterbench", org.ID))

	path := filepath.Join(dir, "roster.csv")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	size, err := io.Copy(f, roster.Synthetic(n))
	f.Close()
	if err != nil {
		return err
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	csvSize := fmt.Sprintf("%.1f MB", float64(size)/1e6)
	rows := 2 * n

	// Baseline: same file, same parser and validator, plain INSERTs.
	s := sample()
	start := time.Now()
	batch := make([]*credtrack.RosterEntry, 0, 500)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := db.PlainRosterInsertForBenchmark(ctx, org.ID, batch)
		batch = batch[:0]
		return err
	}
	rf, _ := open()
	rep, err := roster.Read(ctx, rf, roster.Options{}, func(e *credtrack.RosterEntry) error {
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	rf.Close()
	if err == nil {
		err = flush()
	}
	plain := time.Since(start)
	s.end()
	if err != nil {
		return fmt.Errorf("plain insert: %w", err)
	}
	if !rep.OK() || rep.Providers != n {
		return fmt.Errorf("plain insert: the synthetic roster did not read as valid: %+v", rep.Errors)
	}
	line(n, csvSize, "plain INSERT (baseline)", plain, rows, 0, s)
	plainCPU = s.cpu
	if err := db.DropPlainRosterTablesForBenchmark(ctx); err != nil {
		return err
	}

	// The real import, one pass.
	s = sample()
	stop := profile(fmt.Sprintf("%s.%d", backend, n))
	start = time.Now()
	rep, err = roster.Import(octx, db, open, roster.Options{Mode: roster.SkipInvalid, BatchSize: batchSize})
	took := time.Since(start)
	stop()
	s.end()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if rep.ProvidersWritten != n || rep.CredentialsWritten != 2*n {
		return fmt.Errorf("import wrote %d providers, %d credentials", rep.ProvidersWritten, rep.CredentialsWritten)
	}
	line(n, csvSize, "import (sealed, indexed, audited)", took, rows, plain, s)

	// All-or-nothing: check, then the same import again (into a second
	// organization, so the numbers compare).
	if n > aonMax {
		return verify(octx, db, org.ID, n)
	}
	org2 := &credtrack.Organization{Name: "Bench 2"}
	if err := db.CreateOrg(sys, org2); err != nil {
		return err
	}
	o2ctx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("rosterbench", org2.ID))
	s = sample()
	start = time.Now()
	rep, err = roster.Import(o2ctx, db, open, roster.Options{Mode: roster.AllOrNothing, BatchSize: batchSize})
	took2 := time.Since(start)
	s.end()
	if err != nil || rep.ProvidersWritten != n {
		return fmt.Errorf("all-or-nothing import: %v (%d written)", err, rep.ProvidersWritten)
	}
	line(n, csvSize, "all-or-nothing import (check + import)", took2, rows, plain, s)

	return verify(octx, db, org.ID, n)
}

// verify checks that the records' events are all there and the chain holds.
func verify(octx context.Context, db *sqlstore.DB, orgID string, n int) error {
	brk, events, err := db.VerifyChain(octx, orgID)
	if err != nil || brk != nil {
		return fmt.Errorf("audit chain: %v %v", brk, err)
	}
	if want := 3*n + 2; events < want { // org.created + per-record events + roster.imported
		return fmt.Errorf("audit chain has %d events, want at least %d", events, want)
	}
	return nil
}

// plainCPU is the baseline's CPU time of the current size.
var plainCPU time.Duration

func line(n int, csvSize, phase string, took time.Duration, rows int, plain time.Duration, s *sampler) {
	ratio, cpuRatio := "1.00", "1.00"
	if plain > 0 {
		ratio = fmt.Sprintf("%.2f", plain.Seconds()/took.Seconds())
		cpuRatio = fmt.Sprintf("%.2f", plainCPU.Seconds()/s.cpu.Seconds())
	}
	fmt.Printf("| %d | %s | %s | %.1f s | %.0f | %.0f | %s | %.1f s | %s | %.1f s | %s | %s | %s |\n", n, csvSize, phase, took.Seconds(),
		float64(n)/took.Seconds(), float64(rows)/took.Seconds(), ratio, s.cpu.Seconds(), cpuRatio, s.pg.Seconds(),
		mib(s.heap), mib(s.rss), s.loadSeen)
}
