package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/config"
)

// SECURITY.md §2 items 19 (disabling a user ends their sessions) and the
// concurrent-session limit of item 24, through the real handler and store,
// on SQLite and PostgreSQL.
func TestDisableAndSessionLimit(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, true)
			ctx := context.Background()
			sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", ""))
			u := f.users["auditor"]

			t.Run("disabling ends every session", func(t *testing.T) {
				c1, c2 := f.signIn(t, "auditor"), f.signIn(t, "auditor")
				if err := f.a.db.DisableUser(sys, u.ID); err != nil {
					t.Fatal(err)
				}
				if f.signedIn(t, c1) || f.signedIn(t, c2) {
					t.Fatal("a session of a disabled account still works")
				}
				if ss, _ := f.a.db.ListSessions(ctx, u.ID); len(ss) != 0 {
					t.Errorf("%d session rows left after disabling", len(ss))
				}
				// The sign-in answer is the wrong-password answer: it does
				// not tell that the account exists but is disabled.
				rec := f.login(t, "auditor", nil)
				if rec.Code == http.StatusSeeOther || f.sessionCookie(rec) != nil {
					t.Fatalf("a disabled account signed in: %d", rec.Code)
				}
				if err := f.a.db.EnableUser(sys, u.ID); err != nil {
					t.Fatal(err)
				}
				if !f.signedIn(t, f.signIn(t, "auditor")) {
					t.Error("the account does not sign in after it was enabled again")
				}
			})

			t.Run("at most MaxSessionsPerUser sessions", func(t *testing.T) {
				first := f.signIn(t, "auditor")
				var last *http.Cookie
				for range credtrack.MaxSessionsPerUser + 2 {
					f.clock.Advance(time.Second)
					last = f.signIn(t, "auditor")
				}
				ss, err := f.a.db.ListSessions(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(ss) != credtrack.MaxSessionsPerUser {
					t.Errorf("%d sessions, want %d", len(ss), credtrack.MaxSessionsPerUser)
				}
				if f.signedIn(t, first) {
					t.Error("the least recently used session outlived the limit")
				}
				if !f.signedIn(t, last) {
					t.Error("the newest session was ended")
				}
			})
		})
	}
}

// TestSessionDocs is item 24's docs check: docs/sessions.md states the
// timeouts and the session limit the code enforces.
func TestSessionDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "sessions.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	d := config.Default()
	for what, want := range map[string]string{
		"Idle timeout":         shortDuration(d.SessionIdle),
		"Absolute lifetime":    shortDuration(d.SessionLifetime),
		"Sessions per account": strconv.Itoa(credtrack.MaxSessionsPerUser),
	} {
		row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(what) + ` \| ([^|]+) \|`).FindStringSubmatch(doc)
		if row == nil || strings.TrimSpace(row[1]) != want {
			t.Errorf("docs/sessions.md: %s should read %q, found %v", what, want, row)
		}
	}
	if days := int(auth.TrustedDeviceLifetime / (24 * time.Hour)); !strings.Contains(doc, strconv.Itoa(days)+" days") {
		t.Errorf("docs/sessions.md does not give the trusted-device lifetime of %d days", days)
	}
}

// shortDuration prints 30m and 12h rather than Go's 30m0s and 12h0m0s.
func shortDuration(d time.Duration) string {
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// TestNoDefaultAccounts is item 7: a new installation has no accounts at
// all, and the first owner comes from the operator with a one-time link
// that works once.
func TestNoDefaultAccounts(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(dir, "data"), "CREDTRACK_BASE_URL": "https://ct.example"}
	if code, _, errOut := run(t, env, "", "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	counts := func() map[string]int {
		cfg := config.Default()
		cfg.DataDir = env["CREDTRACK_DATA_DIR"]
		m := &Main{Stdout: os.Stderr, Stderr: os.Stderr, Getenv: func(string) string { return "" }}
		a, err := m.openApp(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		n, err := a.db.RowCountsForTest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := counts(); n["users"] != 0 || n["memberships"] != 0 || n["organizations"] != 0 {
		t.Fatalf("a fresh installation has accounts: %v", n)
	}
	if code, _, errOut := run(t, env, "", "org", "create", "--name", "First Clinic"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := run(t, env, "", "user", "create", "--email", "first@clinic.example", "--org", "First Clinic", "--role", "owner", "--link")
	if code != 0 {
		t.Fatal(errOut)
	}
	m := regexp.MustCompile(`set-password\?token=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no one-time link in %q", out)
	}
	cfg := config.Default()
	cfg.DataDir = env["CREDTRACK_DATA_DIR"]
	mm := &Main{Stdout: os.Stderr, Stderr: os.Stderr, Getenv: func(string) string { return "" }}
	a, err := mm.openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	svc := &auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log}
	if err := svc.SetPassword(context.Background(), m[1], "the first owner's passphrase"); err != nil {
		t.Fatalf("the bootstrap link does not work: %v", err)
	}
	if err := svc.SetPassword(context.Background(), m[1], "someone else's passphrase"); credtrack.ErrorCode(err) != credtrack.EINVALID {
		t.Fatalf("the bootstrap link worked twice: %v", err)
	}
}
