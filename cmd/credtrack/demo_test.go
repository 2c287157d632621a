package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/demo"

	pqtotp "github.com/pquerna/otp/totp"
)

// TestDemo is the quick start: `credtrack demo` on an empty directory
// serves, prints one working login per role, is idempotent across
// restarts, and leaves no plaintext names or identifiers on disk.
func TestDemo(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"CREDTRACK_DATA_DIR": data}
	s := startServer(t, env, "demo")
	out := s.Stdout.String()
	logins := regexp.MustCompile(`(?m)^\s+(\w+)\s+(\S+@riverside\.demo)\s+password: (\S+)$`).FindAllStringSubmatch(out, -1)
	if len(logins) != len(credtrack.Roles) {
		t.Fatalf("demo printed %d logins, want one per role:\n%s", len(logins), out)
	}
	if code, _ := get(t, s.URL+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	if !strings.Contains(s.Stderr.String(), "plain-http development mode") {
		t.Error("demo does not say that it runs on plain http")
	}
	// Owner, admin and coordinator must use TOTP: the demo enrols them and
	// prints their keys, and only them.
	keys := demoTOTPKeys(out)
	if len(keys) != 3 || keys["owner"] == "" || keys["admin"] == "" || keys["coordinator"] == "" {
		t.Fatalf("demo printed TOTP keys %v, want owner, admin and coordinator:\n%s", keys, out)
	}
	for _, l := range logins {
		role, email, pw := l[1], l[2], l[3]
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.PostForm(s.URL+"/login", url.Values{"email": {email}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if key := keys[role]; key != "" {
			// The prompt, with the demo's labelled code; the code computed
			// from the printed key passes it.
			if resp.Request.URL.Path != "/login/mfa" || !strings.Contains(string(body), "Demo only") {
				t.Fatalf("%s login did not stop at the TOTP prompt (%s):\n%.1500s", role, resp.Request.URL.Path, body)
			}
			resp, err = c.PostForm(s.URL+"/login/mfa", url.Values{"code": {totpCode(t, key)}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if resp.StatusCode != 200 || !strings.Contains(string(body), demo.OrgName) {
			t.Fatalf("%s login landed on %d:\n%.1500s", role, resp.StatusCode, body)
		}
		if role == "coordinator" {
			resp, _ := c.Get(s.URL + "/providers")
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "of 200") {
				t.Fatalf("coordinator provider list = %d:\n%.1500s", resp.StatusCode, body)
			}
		}
	}
	if code := s.Stop(t); code != 0 {
		t.Fatalf("demo exited %d", code)
	}

	// A restart reuses the data.
	s2 := startServer(t, env, "demo")
	if !strings.Contains(s2.Stderr.String(), "already present") {
		t.Errorf("second start did not reuse the demo data: %s", s2.Stderr.String())
	}
	s2.Stop(t)
	if code, out, _ := run(t, env, "", "audit", "verify"); code != 0 || strings.Contains(out, "BROKEN") {
		t.Fatalf("audit verify after the demo: %s", out)
	}

	// Nothing readable on disk: no SQLite header, no demo names or numbers.
	people := demo.Providers(demo.ProviderCount, credtrack.DateOf(credtrack.Now()))
	var secrets [][]byte
	for _, p := range people[:40] {
		secrets = append(secrets, []byte(p.LastName+", "), []byte(p.FirstName+" "+p.LastName))
		if p.NPI != "" {
			secrets = append(secrets, []byte(p.NPI))
		}
		if p.SSN != "" {
			secrets = append(secrets, []byte(p.SSN))
		}
		for _, c := range p.Credentials {
			if len(c.Number) >= 6 {
				secrets = append(secrets, []byte(c.Number))
			}
		}
	}
	secrets = append(secrets, []byte("SQLite format 3"), []byte("riverside.demo"), []byte(demo.OrgName))
	for _, k := range keys {
		secrets = append(secrets, []byte(k))
	}
	files, _ := filepath.Glob(filepath.Join(data, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s contains %q in plaintext", filepath.Base(f), s)
			}
		}
	}
	// The sqlite3 command line cannot open it.
	if _, err := exec.LookPath("sqlite3"); err == nil {
		out, err := exec.Command("sqlite3", filepath.Join(data, "credtrack.db"), "SELECT count(*) FROM providers").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not a database") {
			t.Errorf("sqlite3 opened the encrypted database: %s", out)
		}
	}
}

// demoTOTPKeys returns the TOTP keys `credtrack demo` printed, by role.
func demoTOTPKeys(out string) map[string]string {
	keys := map[string]string{}
	re := regexp.MustCompile(`(?m)^\s+(\w+)\s+\S+@riverside\.demo\s+password: \S+\n\s+TOTP key: ([A-Z2-7]{32})\n\s+otpauth://totp/`)
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		keys[m[1]] = m[2]
	}
	return keys
}

// totpCode returns the current TOTP code of key.
func totpCode(t *testing.T, key string) string {
	t.Helper()
	c, err := pqtotp.GenerateCode(key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
