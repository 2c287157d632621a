package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack/internal/storetest"
)

// run runs the real program in-process with the given environment and
// returns its exit status and output.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

// syncBuffer is a bytes.Buffer safe for a server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// runningServer is a running `credtrack serve` or `demo` in this process.
type runningServer struct {
	URL    string
	Stdout *syncBuffer
	Stderr *syncBuffer
	stop   context.CancelFunc
	done   chan int
	code   *int // set once the program has exited
}

// Stop sends the equivalent of SIGTERM and returns the exit status.
func (s *runningServer) Stop(t *testing.T) int {
	t.Helper()
	if s.code != nil {
		return *s.code
	}
	s.stop()
	select {
	case code := <-s.done:
		s.code = &code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
		return -1
	}
}

// startBound is how long a server may take to start before the test gives
// up. It is a hang guard, not a speed assertion: seeding the demo under the
// race detector on a loaded two-core machine has taken over a minute.
const startBound = 5 * time.Minute

// startServer runs the command (serve or demo) on 127.0.0.1:0 and waits
// until it serves.
func startServer(t *testing.T, env map[string]string, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	ready := make(chan string, 1)
	m := &Main{Stdin: strings.NewReader(""), Stdout: s.Stdout, Stderr: s.Stderr, Getenv: func(k string) string { return env[k] },
		Ready: func(addr string) { ready <- addr }}
	go func() { s.done <- m.Run(ctx, append(args, "--listen", "127.0.0.1:0")) }()
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case code := <-s.done:
		t.Fatalf("%v exited with %d before serving: %s", args, code, s.Stderr.String())
	case <-time.After(startBound):
		t.Fatalf("%v did not start: %s", args, s.Stderr.String())
	}
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHelpAndUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, 0, "serve"},
		{[]string{"version"}, 0, "credtrack dev"},
		{nil, 2, "Usage: credtrack COMMAND"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"serve", "-h"}, 0, "CREDTRACK_DATA_DIR"},
		{[]string{"help", "user"}, 0, "user create"},
		{[]string{"org"}, 2, "name an action"},
		{[]string{"org", "delete"}, 2, `unknown action "delete"`},
		{[]string{"user", "create", "-h"}, 0, "--password-stdin"},
		{[]string{"serve", "--log-level", "loud", "--listen", "nowhere", "--master-key", "abc"}, 1, "log-level"},
	} {
		code, out, errOut := run(t, nil, "", c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, want %d; output lacks %q:\n%s%s", c.args, code, c.code, c.want, out, errOut)
		}
	}
	// All configuration problems are reported at once, none of them echoing a secret.
	_, _, errOut := run(t, nil, "", "serve", "--log-level", "loud", "--listen", "nowhere", "--master-key", "abc",
		"--database-url", "mysql://root:hunter2@db/x")
	for _, want := range []string{"log-level", "listen", "master-key", "database-url"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("config errors lack %q: %s", want, errOut)
		}
	}
	if strings.Contains(errOut, "hunter2") {
		t.Error("a secret was echoed in the error")
	}
}

func TestServeHealthMetricsAndShutdown(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(dir, "data")}
	s := startServer(t, env, "serve")
	if code, body := get(t, s.URL+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz = %d %s", code, body)
	}
	if code, _ := get(t, s.URL+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	get(t, s.URL+"/login")
	if code, body := get(t, s.URL+"/metrics"); code != 200 || !strings.Contains(body, `route="GET /login"`) ||
		!strings.Contains(body, "go_goroutines") || !strings.Contains(body, "go_sql_") {
		t.Fatalf("/metrics = %d:\n%.2000s", code, body)
	}
	code, body := get(t, s.URL+"/api/v1/providers")
	if code != 401 || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Fatalf("API without token = %d %s", code, body)
	}
	if code, body := get(t, s.URL+"/api/v1/nope"); code != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Fatalf("unknown API route = %d %s", code, body)
	}
	// The data directory is private, the key file too.
	for p, mode := range map[string]os.FileMode{filepath.Join(dir, "data"): 0o700, filepath.Join(dir, "data", "master.key"): 0o600} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", p, st.Mode().Perm(), mode, err)
		}
	}
	if code := s.Stop(t); code != 0 {
		t.Fatalf("graceful stop exited %d: %s", code, s.Stderr.String())
	}
	if !strings.Contains(s.Stderr.String(), "draining") {
		t.Errorf("shutdown not logged: %s", s.Stderr.String())
	}
}

// TestOperatorCommands: org, user (password from stdin, from a file, as a
// link) and token creation, then the token on the API and the audit chain.
func TestOperatorCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(dir, "data"), "CREDTRACK_BASE_URL": "https://ct.example"}
	n := latestSchema(t)
	if code, out, errOut := run(t, env, "", "migrate"); code != 0 || !strings.Contains(out, fmt.Sprintf("applied %d migration", migrationCount(t))) {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	if code, out, _ := run(t, env, "", "migrate", "status"); code != 0 || !strings.Contains(out, fmt.Sprintf("schema version %d, this credtrack knows %d", n, n)) {
		t.Fatalf("migrate status: %d %s", code, out)
	}
	code, out, errOut := run(t, env, "", "org", "create", "--name", "Mercy General")
	if code != 0 || !strings.Contains(out, `created organization "Mercy General"`) {
		t.Fatalf("org create: %d %s %s", code, out, errOut)
	}
	code, out, errOut = run(t, env, "a long enough passphrase\n", "user", "create", "--email", "Owner@Mercy.example", "--org", "Mercy General",
		"--role", "owner", "--password-stdin")
	if code != 0 || !strings.Contains(out, "owner@mercy.example") {
		t.Fatalf("user create --password-stdin: %d %s %s", code, out, errOut)
	}
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("another fine passphrase\n"), 0o600)
	if code, _, errOut := run(t, env, "", "user", "create", "--email", "coord@mercy.example", "--org", "Mercy General",
		"--role", "coordinator", "--password-file", pwFile); code != 0 {
		t.Fatalf("user create --password-file: %d %s", code, errOut)
	}
	code, out, _ = run(t, env, "", "user", "create", "--email", "aud@mercy.example", "--org", "Mercy General", "--role", "auditor", "--link")
	if code != 0 || !strings.Contains(out, "https://ct.example/set-password?token=") {
		t.Fatalf("user create --link: %d %s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "create", "--email", "owner@mercy.example", "--org", "Mercy General", "--role", "admin", "--link"}, "already exists"},
		{[]string{"user", "create", "--email", "x@mercy.example", "--org", "Nowhere", "--role", "admin", "--link"}, `no organization has the ID or name "Nowhere"`},
		{[]string{"user", "create", "--email", "x@mercy.example", "--org", "Mercy General", "--role", "king", "--link"}, "unknown role"},
		{[]string{"user", "create", "--email", "x@mercy.example", "--org", "Mercy General", "--role", "admin"}, "no password given"},
		{[]string{"user", "create", "--email", "x@mercy.example", "--org", "Mercy General", "--role", "admin", "--password-stdin"}, "at least 8"},
	} {
		code, out, errOut := run(t, env, "", c.args...)
		if code == 0 || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, output lacks %q: %s%s", c.args, code, c.want, out, errOut)
		}
	}
	code, tok, errOut := run(t, env, "", "token", "create", "--org", "Mercy General", "--role", "auditor", "--name", "nightly export")
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.HasPrefix(tok, "ctk_") || !strings.Contains(errOut, "shown once") {
		t.Fatalf("token create: %d %q %s", code, tok, errOut)
	}
	s := startServer(t, env, "serve")
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"role":"auditor"`) {
		t.Fatalf("/api/v1/me with the token = %d %s", resp.StatusCode, body)
	}
	s.Stop(t)
	if strings.Contains(s.Stderr.String(), tok) {
		t.Fatal("the API token appears in the log")
	}
	if code, out, errOut := run(t, env, "", "audit", "verify"); code != 0 || !strings.Contains(out, "events verified") {
		t.Fatalf("audit verify: %d %s %s", code, out, errOut)
	}
}

// TestBadStartsChangeNothing covers the failures that must give one clear
// line, a non-zero exit and no change: a wrong master key, a database
// that is not one, a database without its key, an unreachable
// PostgreSQL, a port in use, a read-only data directory.
func TestBadStartsChangeNothing(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{"CREDTRACK_DATA_DIR": data}
	if code, _, errOut := run(t, env, "", "migrate"); code != 0 {
		t.Fatal(errOut)
	}
	keyBefore, _ := os.ReadFile(filepath.Join(data, "master.key"))
	dbBefore, _ := os.ReadFile(filepath.Join(data, "credtrack.db"))

	expectFail := func(name string, env map[string]string, want string, args ...string) {
		t.Helper()
		code, out, errOut := run(t, env, "", args...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, want 1 with %q; got: %s%s", name, code, want, out, errOut)
		}
		if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines > 1 {
			t.Errorf("%s: %d lines of error output, want one clear line: %s", name, lines+1, errOut)
		}
	}
	wrongKey := map[string]string{"CREDTRACK_DATA_DIR": data, "CREDTRACK_MASTER_KEY": strings.Repeat("ab", 32)}
	expectFail("wrong master key", wrongKey, "master key does not match", "serve")
	expectFail("unreachable PostgreSQL", map[string]string{"CREDTRACK_DATA_DIR": data,
		"CREDTRACK_DATABASE_URL": "postgres://postgres:secretpw@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"},
		"cannot reach PostgreSQL at 127.0.0.1:1", "migrate")

	// A database without its key file is refused, and no new key is made.
	noKey := filepath.Join(dir, "nokey")
	os.MkdirAll(noKey, 0o700)
	os.WriteFile(filepath.Join(noKey, "credtrack.db"), dbBefore, 0o600)
	expectFail("database without key", map[string]string{"CREDTRACK_DATA_DIR": noKey}, "holds a database but no master.key", "serve")
	if _, err := os.Stat(filepath.Join(noKey, "master.key")); err == nil {
		t.Error("a new master key was written next to an existing database")
	}
	// A file that is not a credtrack database.
	junk := filepath.Join(dir, "junk")
	os.MkdirAll(junk, 0o700)
	os.WriteFile(filepath.Join(junk, "master.key"), keyBefore, 0o600)
	os.WriteFile(filepath.Join(junk, "credtrack.db"), bytes.Repeat([]byte("garbage!"), 4096), 0o600)
	expectFail("corrupt database", map[string]string{"CREDTRACK_DATA_DIR": junk}, "is not a credtrack database", "serve")

	// A port in use.
	s := startServer(t, env, "serve")
	addr := strings.TrimPrefix(s.URL, "http://")
	code, _, errOut := run(t, map[string]string{"CREDTRACK_DATA_DIR": data, "CREDTRACK_LISTEN": addr}, "", "serve")
	if code != 1 || !strings.Contains(errOut, "already in use") {
		t.Errorf("port in use: exit %d: %s", code, errOut)
	}
	s.Stop(t)

	keyAfter, _ := os.ReadFile(filepath.Join(data, "master.key"))
	if !bytes.Equal(keyBefore, keyAfter) {
		t.Error("the master key file changed")
	}
	// The schema is still exactly the complete set, not half of anything.
	if code, out, _ := run(t, env, "", "migrate", "status"); code != 0 || !strings.Contains(out, fmt.Sprintf("schema version %d,", latestSchema(t))) {
		t.Errorf("after failures: %s", out)
	}
}

func TestReadOnlyDataDir(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{"CREDTRACK_DATA_DIR": data}
	if code, _, errOut := run(t, env, "", "migrate"); code != 0 {
		t.Fatal(errOut)
	}
	// Root ignores permission bits, so as root the directory is made
	// immutable instead; both make every write in it fail.
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", data).CombinedOutput(); err != nil {
			t.Skipf("cannot make a read-only directory as root here (chattr: %s)", out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", data).Run() })
	} else {
		os.Chmod(data, 0o500)
		t.Cleanup(func() { os.Chmod(data, 0o700) })
	}
	code, _, errOut := run(t, env, "", "serve")
	if code != 1 || !strings.Contains(errOut, "is not writable") {
		t.Fatalf("read-only data dir: exit %d: %s", code, errOut)
	}
}

// TestPostgresServe runs serve against a fresh PostgreSQL database.
func TestPostgresServe(t *testing.T) {
	url := storetest.PostgresDatabase(t)
	dir := t.TempDir()
	env := map[string]string{"CREDTRACK_DATA_DIR": dir, "CREDTRACK_DATABASE_URL": url}
	if code, out, errOut := run(t, env, "", "migrate"); code != 0 || !strings.Contains(out, "(postgres)") {
		t.Fatalf("migrate on PostgreSQL: %d %s %s", code, out, errOut)
	}
	s := startServer(t, env, "serve")
	if code, _ := get(t, s.URL+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	s.Stop(t)
	wrongKey := map[string]string{"CREDTRACK_DATA_DIR": dir, "CREDTRACK_DATABASE_URL": url, "CREDTRACK_MASTER_KEY": strings.Repeat("cd", 32)}
	if code, _, errOut := run(t, wrongKey, "", "serve"); code != 1 || !strings.Contains(errOut, "master key does not match") {
		t.Fatalf("wrong key on PostgreSQL: %d %s", code, errOut)
	}
}

// TestNoConfiguration runs with no configuration at all, from a working
// directory, as the quick start does: ./credtrack-data is created (0700)
// with the database and a generated key.
func TestNoConfiguration(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, out, errOut := run(t, nil, "", "migrate"); code != 0 || !strings.Contains(out, "(sqlite)") {
		t.Fatalf("migrate with defaults: %d %s %s", code, out, errOut)
	}
	for _, f := range []string{"credtrack-data/credtrack.db", "credtrack-data/master.key", "credtrack-data/keycheck"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if st, err := os.Stat("credtrack-data"); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("credtrack-data mode: %v", err)
	}
}

// latestSchema is the number of embedded SQLite migrations, the version a
// fresh database ends at.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, _ := filepath.Glob("../../internal/sqlstore/migrations/sqlite/*.sql")
	return len(files)
}

func latestSchema(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("../../internal/sqlstore/migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	// The highest number, not the count: helpers landing in parallel may
	// leave a number unused for a while.
	latest := 0
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		latest = max(latest, n)
	}
	return latest
}
