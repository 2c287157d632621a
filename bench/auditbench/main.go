// Command auditbench measures what auditing every read costs: the same
// API endpoint, GET /api/v1/credentials/{id} (a credential with its number
// opened), is driven by many concurrent keep-alive HTTP clients over
// loopback with the read audit off, on (group commit, the default) and on
// with group commit off, in one run, on SQLite and on PostgreSQL. It
// prints one Markdown table per backend (requests/s, p50 and p99 latency,
// throughput relative to the unaudited baseline), how many audit events
// each phase wrote, and whether the hash chain still verifies. It runs once
// per number of clients and ends with the ratio by backend and clients.
//
//	go run ./bench/auditbench [-clients 32,64,128] [-duration 5s] [-warmup 1s] [-providers 200]
//	    [-postgres URL] [-backends sqlite,postgres] [-cpuprofile PREFIX] [-pg-idle-conns N]
//	    [-sqlite-vfs credtrack-xts,xts]
//
// -sqlite-vfs runs the SQLite part once per named VFS (the store's
// xtsvfs, "credtrack-xts", and the driver's "xts", which writes the same
// format one sector per system call), each on a fresh database, and ends
// with a table comparing them in the same process.
//
// -postgres defaults to $CREDTRACK_TEST_POSTGRES_URL; without either,
// PostgreSQL is skipped with a line saying so. A fresh database is created
// next to that URL's and dropped at the end.
//
// The three phases use three store handles on the same database: one with
// DisableReadAuditForBenchmark (and an API auditor that discards the
// generic per-request event), one as production runs it, and one with
// SetGroupCommit(false). Each handle is set up before it serves anything,
// so no setting changes while requests are in flight. See bench/README.md.
//
// This is a main package without tests, so go test ./... never runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"credtrack"
	"credtrack/internal/api"
	"credtrack/internal/demo"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
	"credtrack/internal/xtsvfs"

	_ "github.com/ncruces/go-sqlite3/vfs/xts" // the driver's own XTS VFS, for -sqlite-vfs xts
)

type config struct {
	clients    int   // for one pass
	clientList []int // -clients: one pass per number
	duration   time.Duration
	warmup     time.Duration
	providers  int
	postgres   string
	cpuprofile string
	backends   string
	pgIdle     int
	sqliteVFS  string
}

func main() {
	var cfg config
	clients := flag.String("clients", "32,64,128", "comma-separated numbers of concurrent HTTP clients; the phases run once per number")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured duration of each phase")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each phase")
	flag.IntVar(&cfg.providers, "providers", 200, "demo providers to seed (each with several credentials)")
	flag.StringVar(&cfg.postgres, "postgres", os.Getenv(storetest.EnvPostgres),
		"PostgreSQL base URL (a fresh database is created next to it and dropped); empty skips PostgreSQL")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "",
		"write a CPU profile of each measured phase to PREFIX.BACKEND.PHASE.pprof")
	flag.StringVar(&cfg.backends, "backends", "sqlite,postgres", "comma-separated backends to run")
	flag.IntVar(&cfg.pgIdle, "pg-idle-conns", 0,
		"experiment: set the PostgreSQL pool's idle-connection limit (store default 20, open limit 20); 0 leaves it")
	flag.StringVar(&cfg.sqliteVFS, "sqlite-vfs", xtsvfs.Name,
		"comma-separated SQLite VFSs to run the SQLite phases with, each on a fresh database (credtrack-xts, xts), each optionally with /full or /normal for the synchronous level (default full)")
	flag.Parse()
	for _, c := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "auditbench: -clients must list positive numbers")
			os.Exit(2)
		}
		cfg.clientList = append(cfg.clientList, n)
	}
	if cfg.duration <= 0 || cfg.providers < 1 {
		fmt.Fprintln(os.Stderr, "auditbench: -duration and -providers must be positive")
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "auditbench:", err)
		os.Exit(1)
	}
}

// summaryRow is one backend at one number of clients.
type summaryRow struct {
	backend string
	clients int
	phases  []*phase
}

// run runs every pass (one per number of clients) and ends with a table
// of the audited/unaudited ratio by backend and number of clients: group
// commit shares a commit (and on SQLite a flush to disk) among the reads
// waiting for it, so the ratio depends on how many clients wait at once.
func run(cfg config) error {
	fmt.Printf("Audit log benchmark: GET /api/v1/credentials/{id}, %v clients, %s per phase (after %s warm-up), %d providers\n\n",
		cfg.clientList, cfg.duration, cfg.warmup, cfg.providers)
	fmt.Printf("Go %s, %s/%s, %d CPUs (GOMAXPROCS %d)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	var summary []summaryRow
	for _, n := range cfg.clientList {
		c := cfg
		c.clients = n
		fmt.Printf("\n## %d clients\n", n)
		rows, err := runPass(c)
		summary = append(summary, rows...)
		if err != nil {
			return err
		}
	}
	if len(summary) > 1 {
		fmt.Printf("\n## Audited / unaudited by number of clients (goal ≥ 0.50)\n\n")
		fmt.Println("| backend | clients | unaudited req/s | audited req/s | **audited / unaudited** | events per commit | audited p50 ms | audited p99 ms |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range summary {
			u, a := r.phases[0], r.phases[1]
			fmt.Printf("| %s | %d | %.0f | %.0f | **%.2f** | %.1f | %.2f | %.2f |\n", r.backend, r.clients, u.rate(), a.rate(),
				a.rate()/u.rate(), float64(a.readEvents)/float64(max(a.commits, 1)), ms(a.p50), ms(a.p99))
		}
	}
	return nil
}

// runPass runs the phases once on each backend with cfg.clients clients.
func runPass(cfg config) ([]summaryRow, error) {
	var summary []summaryRow
	want := map[string]bool{}
	for _, b := range strings.Split(cfg.backends, ",") {
		want[strings.TrimSpace(b)] = true
	}
	if want[string(sqlstore.SQLite)] {
		type result struct {
			vfs    string
			phases []*phase
		}
		var results []result
		for _, v := range strings.Split(cfg.sqliteVFS, ",") {
			v = strings.TrimSpace(v)
			phases, err := benchBackend(cfg, sqlstore.SQLite, v)
			if err != nil {
				return summary, fmt.Errorf("sqlite (vfs %s): %w", v, err)
			}
			results = append(results, result{v, phases})
			summary = append(summary, summaryRow{"SQLite " + v, cfg.clients, phases})
		}
		if len(results) > 1 {
			fmt.Printf("\n### SQLite VFSs compared in this run\n\n")
			fmt.Println("| vfs | unaudited req/s | CPU µs/req | audited req/s | CPU µs/req | audited / unaudited | group commit off / unaudited |")
			fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
			for _, r := range results {
				u, a, n := r.phases[0], r.phases[1], r.phases[2]
				fmt.Printf("| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", r.vfs, u.rate(), u.cpuPerRequest(),
					a.rate(), a.cpuPerRequest(), a.rate()/u.rate(), n.rate()/u.rate())
			}
		}
	}
	if !want[string(sqlstore.Postgres)] {
		return summary, nil
	}
	if cfg.postgres == "" {
		fmt.Printf("\n### PostgreSQL\n\nskipped: set -postgres or %s (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable)\n",
			storetest.EnvPostgres)
		return summary, nil
	}
	phases, err := benchBackend(cfg, sqlstore.Postgres, "")
	if err != nil {
		return summary, fmt.Errorf("postgres: %w", err)
	}
	return append(summary, summaryRow{"PostgreSQL", cfg.clients, phases}), nil
}

// phase is one measured configuration.
type phase struct {
	name    string
	key     string // short name for profile files
	vfs     string // SQLite VFS, for profile file names
	db      *sqlstore.DB
	auditor api.Auditor

	// results
	requests   int
	elapsed    time.Duration
	p50, p99   time.Duration
	events     int // audit events added to the chain during the phase
	commits    int // distinct commit timestamps of the phase's credential.read events
	readEvents int // credential.read events of the phase
	pool       poolDelta
	cpu        time.Duration // user + system CPU time of this process during the phase
}

// cpuPerRequest is the process's CPU time per request in microseconds.
func (p *phase) cpuPerRequest() float64 {
	return float64(p.cpu.Microseconds()) / float64(max(p.requests, 1))
}

// cpuTime is the user + system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the first field of /proc/loadavg, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// poolDelta is what the phase did to the store's connection pools.
type poolDelta struct {
	waits     int64         // requests that waited for a connection
	waited    time.Duration // total time spent waiting
	idleClose int64         // connections closed because the idle pool was full
}

func poolStats(db *sqlstore.DB) poolDelta {
	w, r := db.Stats()
	d := poolDelta{w.WaitCount, w.WaitDuration, w.MaxIdleClosed}
	if db.Backend() == sqlstore.SQLite { // two pools; on PostgreSQL both are the same one
		d.waits, d.waited, d.idleClose = d.waits+r.WaitCount, d.waited+r.WaitDuration, d.idleClose+r.MaxIdleClosed
	}
	return d
}

func (a poolDelta) sub(b poolDelta) poolDelta {
	return poolDelta{a.waits - b.waits, a.waited - b.waited, a.idleClose - b.idleClose}
}

func (p *phase) rate() float64 { return float64(p.requests) / p.elapsed.Seconds() }

func benchBackend(cfg config, backend sqlstore.Backend, vfsName string) ([]*phase, error) {
	ctx := context.Background()
	title := map[sqlstore.Backend]string{sqlstore.SQLite: "SQLite (encrypted, AES-XTS VFS " + vfsName + ")", sqlstore.Postgres: "PostgreSQL"}[backend]
	fmt.Printf("\n### %s\n\n", title)
	fmt.Printf("load average at start: %s\n\n", loadAverage())

	// storetest's fixed keys; the real clock (token last-use and event
	// times move as they would in production).
	opts := storetest.Options(&storetest.Clock{})
	opts.Now = nil
	switch backend {
	case sqlstore.SQLite:
		dir, err := os.MkdirTemp("", "auditbench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		opts.SQLitePath = filepath.Join(dir, "bench.db")
		// "credtrack-xts/normal" names a synchronous level after the VFS.
		opts.SQLiteVFS, opts.SQLiteSynchronous, _ = strings.Cut(vfsName, "/")
	case sqlstore.Postgres:
		name := "ct_bench_" + strings.ToLower(credtrack.NewID()[:16])
		url, drop, err := sqlstore.CreatePostgresDatabase(ctx, cfg.postgres, name)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err := drop(); err != nil {
				fmt.Fprintf(os.Stderr, "auditbench: drop database %s: %v\n", name, err)
			}
		}()
		opts.DatabaseURL = url
	}

	// Three handles on the same database, each configured before use.
	open := func() (*sqlstore.DB, error) { return sqlstore.Open(ctx, opts) }
	audited, err := open()
	if err != nil {
		return nil, err
	}
	defer audited.Close()
	if _, err := audited.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	unaudited, err := open()
	if err != nil {
		return nil, err
	}
	defer unaudited.Close()
	unaudited.DisableReadAuditForBenchmark()
	noGroup, err := open()
	if err != nil {
		return nil, err
	}
	defer noGroup.Close()
	noGroup.SetGroupCommit(false)
	if backend == sqlstore.Postgres && cfg.pgIdle > 0 {
		// On PostgreSQL WriteDB is the one pool the store uses.
		for _, db := range []*sqlstore.DB{audited, unaudited, noGroup} {
			db.WriteDB().SetMaxIdleConns(cfg.pgIdle)
		}
		fmt.Printf("experiment: PostgreSQL idle-connection limit set to %d\n", cfg.pgIdle)
	}

	seedStart := time.Now()
	orgID, credIDs, token, err := seed(ctx, audited, cfg.providers)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seeded %d providers with %d credentials in %s\n\n", cfg.providers, len(credIDs),
		time.Since(seedStart).Round(time.Millisecond))

	phases := []*phase{
		{name: "unaudited (baseline)", key: "unaudited", db: unaudited, auditor: discard{}},
		{name: "audited, group commit (default)", key: "audited", db: audited, auditor: audited},
		{name: "audited, group commit off", key: "audited-nogc", db: noGroup, auditor: noGroup},
	}
	for _, p := range phases {
		p.vfs = vfsName
	}
	for _, p := range phases {
		if err := measure(ctx, cfg, backend, p, orgID, credIDs, token); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}

	base := phases[0].rate()
	fmt.Println("| phase | requests | requests/s | p50 ms | p99 ms | vs unaudited | audit events | events per commit |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range phases {
		perCommit := "–"
		if p.commits > 0 {
			perCommit = fmt.Sprintf("%.1f", float64(p.readEvents)/float64(p.commits))
		}
		fmt.Printf("| %s | %d | %.0f | %.2f | %.2f | %.2f | %d | %s |\n", p.name, p.requests, p.rate(),
			ms(p.p50), ms(p.p99), p.rate()/base, p.events, perCommit)
	}
	fmt.Println()

	ratio := phases[1].rate() / base
	verdict := "met"
	if ratio < 0.5 {
		verdict = "NOT met"
	}
	fmt.Printf("- audited / unaudited throughput: **%.2f** (goal ≥ 0.50: %s); group commit off / unaudited: %.2f\n",
		ratio, verdict, phases[2].rate()/base)
	for _, p := range phases {
		want := p.requests
		if p.key == "unaudited" {
			want = 0
		}
		check := "as expected"
		if p.events != want {
			check = fmt.Sprintf("expected %d", want)
		}
		fmt.Printf("- audit events written during %q: %d (%s)\n", p.name, p.events, check)
	}
	for _, p := range phases {
		fmt.Printf("- connection pool during %q: %d waits (%.1f s in total), %d connections closed because the idle pool was full\n",
			p.name, p.pool.waits, p.pool.waited.Seconds(), p.pool.idleClose)
	}
	brk, n, err := audited.VerifyChain(ctx, orgID)
	switch {
	case err != nil:
		fmt.Printf("- audit chain: error: %v\n", err)
	case brk != nil:
		fmt.Printf("- audit chain: **broken** at seq %d (%s) after %d events\n", brk.Seq, brk.Reason, n)
	default:
		fmt.Printf("- audit chain: ok (%d events verified)\n", n)
	}
	fmt.Printf("- process CPU time per request: %s\n", strings.Join(cpuLines(phases), "; "))
	fmt.Printf("- load average at the end: %s\n", loadAverage())
	return phases, nil
}

func cpuLines(phases []*phase) []string {
	var out []string
	for _, p := range phases {
		out = append(out, fmt.Sprintf("%s %.0f µs (%.1f s)", p.key, p.cpuPerRequest(), p.cpu.Seconds()))
	}
	return out
}

// seed creates an organization, the demo providers with their credentials
// and a coordinator API token, all through the store as a system actor.
func seed(ctx context.Context, db *sqlstore.DB, n int) (orgID string, credIDs []string, token string, err error) {
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("auditbench", ""))
	org := &credtrack.Organization{Name: "Audit benchmark"}
	if err := db.CreateOrg(sys, org); err != nil {
		return "", nil, "", err
	}
	octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("auditbench", org.ID))
	for _, p := range demo.Providers(n, credtrack.DateOf(time.Now())) {
		creds := p.Credentials
		p.Credentials = nil
		if err := db.CreateProvider(octx, p); err != nil {
			return "", nil, "", err
		}
		for _, c := range creds {
			c.ProviderID = p.ID
			if err := db.CreateCredential(octx, c); err != nil {
				return "", nil, "", err
			}
			credIDs = append(credIDs, c.ID)
		}
	}
	if len(credIDs) == 0 {
		return "", nil, "", errors.New("the demo providers have no credentials")
	}
	token, err = db.CreateAPIToken(octx, &credtrack.APIToken{Name: "auditbench", Role: credtrack.RoleCoordinator})
	return org.ID, credIDs, token, err
}

// measure warms up and then measures one phase.
func measure(ctx context.Context, cfg config, backend sqlstore.Backend, p *phase, orgID string, credIDs []string, token string) error {
	h := api.New(api.Options{Tokens: p.db, Providers: p.db, Credentials: p.db, Audit: p.auditor})
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: cfg.clients, MaxIdleConnsPerHost: cfg.clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	var next atomic.Uint64 // round-robin over the credential IDs
	if cfg.warmup > 0 {
		if _, err := load(client, srv.URL, token, credIDs, &next, cfg.clients, cfg.warmup); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	_, before, err := p.db.VerifyChain(ctx, orgID)
	if err != nil {
		return err
	}
	var prof *os.File
	if cfg.cpuprofile != "" {
		name := string(backend)
		if backend == sqlstore.SQLite {
			name += "-" + p.vfs
		}
		if prof, err = os.Create(fmt.Sprintf("%s.%s.%s.pprof", cfg.cpuprofile, name, p.key)); err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			prof.Close()
			return err
		}
	}
	pool0 := poolStats(p.db)
	cpu0 := cpuTime()
	start := time.Now()
	lat, err := load(client, srv.URL, token, credIDs, &next, cfg.clients, cfg.duration)
	p.elapsed = time.Since(start)
	p.cpu = cpuTime() - cpu0
	end := time.Now()
	p.pool = poolStats(p.db).sub(pool0)
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	if err != nil {
		return err
	}
	_, after, err := p.db.VerifyChain(ctx, orgID)
	if err != nil {
		return err
	}
	p.events = after - before
	p.requests = len(lat)
	slices.Sort(lat)
	p.p50, p.p99 = quantile(lat, 0.50), quantile(lat, 0.99)

	// Every event of one commit carries the transaction's single clock
	// reading, so distinct timestamps count the commits of the phase.
	actx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("auditbench", orgID))
	seen := map[int64]bool{}
	err = p.db.ExportAuditEvents(actx, credtrack.AuditFilter{Action: "credential.read", From: start, To: end.Add(time.Microsecond)},
		"count", func(ev *credtrack.AuditEvent) error {
			p.readEvents++
			seen[ev.At.UnixMicro()] = true
			return nil
		})
	p.commits = len(seen)
	return err
}

// load runs clients goroutines that each issue requests back to back until
// d has passed, and returns every request's latency. Any answer other than
// 200 aborts the run.
func load(client *http.Client, base, token string, ids []string, next *atomic.Uint64, clients int, d time.Duration) ([]time.Duration, error) {
	deadline := time.Now().Add(d)
	var (
		wg      sync.WaitGroup
		failed  atomic.Bool
		errOnce sync.Once
		firstEr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstEr = err })
		failed.Store(true)
	}
	per := make([][]time.Duration, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for !failed.Load() && time.Now().Before(deadline) {
				id := ids[next.Add(1)%uint64(len(ids))]
				req, err := http.NewRequest(http.MethodGet, base+"/api/v1/credentials/"+id, nil)
				if err != nil {
					fail(err)
					break
				}
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail(err)
					break
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				took := time.Since(t0)
				if err != nil {
					fail(err)
					break
				}
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Errorf("GET /api/v1/credentials/%s: %s: %.300s", id, resp.Status, body))
					break
				}
				lat = append(lat, took)
			}
			per[i] = lat
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return nil, firstEr
	}
	var all []time.Duration
	for _, l := range per {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return nil, errors.New("no request completed")
	}
	return all, nil
}

// quantile returns the q-quantile (nearest rank) of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// discard is the API auditor of the baseline: without it reqaudit would
// record a generic "http.request" event for each read the store no longer
// audits, and the baseline would still write one event per request.
type discard struct{}

func (discard) RecordEvent(context.Context, *credtrack.AuditEvent) error { return nil }
