package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/config"
	"credtrack/internal/demo"
	"credtrack/internal/server"
	"credtrack/internal/web"
)

// securityApp opens a seeded SQLite app with security.txt configured as
// the demo does, and returns its handler, its patterns and an owner
// session cookie and API token.
func securityApp(t *testing.T) (http.Handler, []string, *http.Cookie, string, string) {
	t.Helper()
	a := openSecurityApp(t)
	ctx := context.Background()
	res, err := demo.Seed(ctx, a.db, credtrack.DateOf(credtrack.Now()), a.hasher.Hash)
	if err != nil {
		t.Fatal(err)
	}
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", res.OrgID))
	list, _, err := a.db.FindProviders(sys, credtrack.ProviderFilter{Limit: 1})
	if err != nil || len(list) == 0 {
		t.Fatalf("no provider: %v", err)
	}
	token, err := a.db.CreateAPIToken(sys, &credtrack.APIToken{Name: "headers", Role: credtrack.RoleOwner})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, patterns := a.handler(&auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log}, reg, server.NewMetrics(reg))
	login := httptest.NewRecorder()
	h.ServeHTTP(login, form("/login", url.Values{"email": {"owner@riverside.demo"}, "password": {demo.Password}}))
	var cookie *http.Cookie
	for _, c := range login.Result().Cookies() {
		if c.Value != "" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("owner login failed: %d", login.Code)
	}
	return h, patterns, cookie, token, list[0].ID
}

// openSecurityApp opens an empty, migrated SQLite app configured with the
// demo's security.txt.
func openSecurityApp(t *testing.T) *app {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.DevInsecureCookies = true
	cfg.SecurityContact, cfg.SecurityExpires, cfg.SecurityPolicy = config.DemoSecurityContact, config.DemoSecurityExpires, config.DemoSecurityPolicy
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	ctx := context.Background()
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.migrateOrCheck(ctx, true); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSecurityHeadersOnEveryRoute walks every route registered on the
// server's mux, signed in and anonymous, and checks the headers every
// response must carry: a CSP without 'unsafe-inline' that forbids framing,
// nosniff, no-store on everything but public assets, and no-referrer on
// the pages that carry or show a secret. It also checks that no debug
// handler (pprof, expvar) is reachable and that nothing lists a directory.
func TestSecurityHeadersOnEveryRoute(t *testing.T) {
	h, patterns, cookie, token, providerID := securityApp(t)
	if !contains(patterns, "GET /.well-known/security.txt") {
		t.Fatal("security.txt is not routed")
	}
	secret := map[string]bool{}
	for _, p := range web.SecretRoutes() {
		if !contains(patterns, p) {
			t.Errorf("secret route %q is not registered", p)
		}
		secret[p] = true
	}
	// Public documents identical for everyone may be cached.
	public := map[string]bool{"GET /static/{hash}/{name}": true, "GET /.well-known/security.txt": true, "GET /api/openapi.json": true}
	// Sign-out ends the session, so it goes last.
	sort.SliceStable(patterns, func(i, j int) bool { return patterns[j] == "POST /logout" })
	check := func(name string, rec *httptest.ResponseRecorder, signedIn bool, p string) {
		t.Helper()
		hd := rec.Header()
		csp := hd.Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", name, hd.Get("X-Content-Type-Options"))
		}
		if hd.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", name, hd.Get("X-Frame-Options"))
		}
		if rp := hd.Get("Referrer-Policy"); rp != "no-referrer" && rp != "same-origin" || secret[p] && rp != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", name, rp)
		}
		if cc := hd.Get("Cache-Control"); signedIn && !public[p] && cc != "no-store" {
			t.Errorf("%s: Cache-Control %q on an authenticated response", name, cc)
		}
		if hd.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS on plain HTTP", name)
		}
	}
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok { // a catch-all without a method
			method, path = "GET", p+"no-such-page"
		}
		path = strings.ReplaceAll(path, "{$}", "")
		path = strings.ReplaceAll(path, "{id}", providerID)
		path = strings.ReplaceAll(path, "{hash}", "0")
		path = strings.ReplaceAll(path, "{name}", "app.css")
		for _, signedIn := range []bool{false, true} {
			var req *http.Request
			if method == http.MethodPost {
				req = form(path, url.Values{"email": {"nobody@example.org"}, "password": {"x"}, "token": {"bogus"}})
			} else {
				req = httptest.NewRequest(method, path, nil)
			}
			req.RemoteAddr = "127.0.0.1:40000"
			if signedIn {
				req.AddCookie(cookie)
				if strings.HasPrefix(path, "/api/") {
					req.Header.Set("Authorization", "Bearer "+token)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			check(p+map[bool]string{true: " (signed in)", false: " (anonymous)"}[signedIn], rec, signedIn, p)
		}
	}

	// No debug handlers. net/http/pprof registers on http.DefaultServeMux
	// when linked in; it is not. expvar is (the Prometheus client imports
	// it) and registers /debug/vars there, but the server never serves
	// http.DefaultServeMux (server.Listen refuses a nil handler), so on
	// ours every such path is a plain 404.
	if _, pat := http.DefaultServeMux.Handler(httptest.NewRequest("GET", "/debug/pprof/", nil)); pat != "" {
		t.Error("net/http/pprof is linked in: /debug/pprof/ is registered on http.DefaultServeMux")
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine", "/debug/vars"} {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
		check("GET "+path, rec, true, "")
	}
	// No directory listings: the asset route serves named files only.
	for _, path := range []string{"/static/", "/static/x/", "/static/0/", "/.well-known/", "/api/v1/"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body := rec.Body.String()
		if rec.Code == http.StatusOK || strings.Contains(body, `href="app.css"`) || strings.Contains(body, "<pre>") {
			t.Errorf("GET %s = %d and may list a directory: %.200s", path, rec.Code, body)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestSecurityTxt serves the demo's security.txt and fails when its
// Expires is less than 30 days away: the demo default
// (config.DemoSecurityExpires) must then be moved forward, and whoever
// runs credtrack reminded to do the same with theirs.
func TestSecurityTxt(t *testing.T) {
	a := openSecurityApp(t)
	reg := prometheus.NewRegistry()
	h, _ := a.handler(&auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log}, reg, server.NewMetrics(reg))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/security.txt", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("security.txt = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	fields := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(rec.Body.String()))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			t.Fatalf("malformed line %q", sc.Text())
		}
		fields[k] = append(fields[k], v)
	}
	for _, k := range []string{"Contact", "Expires", "Policy", "Preferred-Languages"} {
		if len(fields[k]) == 0 {
			t.Errorf("security.txt lacks %s:\n%s", k, rec.Body)
		}
	}
	if len(fields["Expires"]) != 1 {
		t.Fatalf("Expires must appear once: %v", fields["Expires"])
	}
	exp, err := time.Parse(time.RFC3339, fields["Expires"][0])
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(exp); left < 30*24*time.Hour {
		t.Errorf("security.txt expires %s, %d days from now: move config.DemoSecurityExpires (and any deployed security-expires) forward",
			exp.Format(time.DateOnly), int(left.Hours()/24))
	}
	if time.Until(exp) > 366*24*time.Hour {
		t.Errorf("security.txt expires %s, more than a year ahead (RFC 9116 §2.5.5 recommends less)", exp.Format(time.DateOnly))
	}
}
