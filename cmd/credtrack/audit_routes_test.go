package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/config"
	"credtrack/internal/demo"
	"credtrack/internal/server"
	"credtrack/internal/storetest"
)

// notAudited are the only routes allowed to leave no audit event: process
// health, metrics and static assets, which touch no record.
var notAudited = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /static/{hash}/{name}": true,
}

// TestEveryRouteIsAudited walks every route registered on the server's mux
// (web pages and API) and fails when a request to one leaves no new audit
// event. A route added without auditing fails here by construction.
func TestEveryRouteIsAudited(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			cfg.DevInsecureCookies = true
			if backend == "postgres" {
				cfg.DatabaseURL = storetest.PostgresDatabase(t)
			}
			m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			ctx := context.Background()
			a, err := m.openApp(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.migrateOrCheck(ctx, true); err != nil {
				t.Fatal(err)
			}
			res, err := demo.Seed(ctx, a.db, credtrack.DateOf(credtrack.Now()), a.hasher.Hash)
			if err != nil {
				t.Fatal(err)
			}
			sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", res.OrgID))
			list, _, err := a.db.FindProviders(sys, credtrack.ProviderFilter{Limit: 1, Profession: credtrack.ProfMD})
			if err != nil || len(list) == 0 || len(list[0].Credentials) == 0 {
				t.Fatalf("no provider with credentials: %v", err)
			}
			providerID, credentialID := list[0].ID, list[0].Credentials[0].ID
			token, err := a.db.CreateAPIToken(sys, &credtrack.APIToken{Name: "walker", Role: credtrack.RoleOwner})
			if err != nil {
				t.Fatal(err)
			}
			authSvc := &auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log}
			reg := prometheus.NewRegistry()
			h, patterns := a.handler(authSvc, reg, server.NewMetrics(reg))

			// Sign in as the owner through the real login route.
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
			events := func() int {
				chains, err := a.db.AuditChains(ctx)
				if err != nil {
					t.Fatal(err)
				}
				total := 0
				for _, c := range chains {
					_, n, err := a.db.VerifyChain(ctx, c)
					if err != nil {
						t.Fatal(err)
					}
					total += n
				}
				return total
			}
			// Sign-out ends the session, so it goes last.
			sort.SliceStable(patterns, func(i, j int) bool { return patterns[j] == "POST /logout" })
			for _, p := range patterns {
				if notAudited[p] {
					continue
				}
				method, path, ok := strings.Cut(p, " ")
				if !ok { // a catch-all without a method
					method, path = "GET", p+"no-such-page"
				}
				path = strings.ReplaceAll(path, "{$}", "")
				if strings.Contains(path, "/credentials/") {
					path = strings.ReplaceAll(path, "{id}", credentialID)
				}
				path = strings.ReplaceAll(path, "{id}", providerID)
				var req *http.Request
				if method == http.MethodPost {
					req = form(path, url.Values{"email": {"nobody@example.org"}, "password": {"x"}, "token": {"bogus"}, "confirm": {"x"}})
				} else {
					req = httptest.NewRequest(method, path, nil)
				}
				req.AddCookie(cookie)
				if strings.HasPrefix(path, "/api/") {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				before := events()
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Errorf("%s answered %d", p, rec.Code)
				}
				if after := events(); after <= before {
					t.Errorf("%s (%s %s → %d) left no audit event", p, method, path, rec.Code)
				}
			}
		})
	}
}

func form(path string, v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}
