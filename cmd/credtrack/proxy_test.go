package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack/internal/auth"
	"credtrack/internal/config"
	"credtrack/internal/server"
)

// TestTrustedProxies: behind a proxy in --trusted-proxies, the sign-in
// throttle and the audit log use the client address the proxy forwarded
// (the rightmost untrusted X-Forwarded-For entry); a client connecting
// directly cannot choose its address by sending X-Forwarded-For; /metrics
// is refused to a request a local proxy relays.
func TestTrustedProxies(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.DevInsecureCookies = true
	cfg.TrustedProxies = "10.0.0.0/8, 127.0.0.1"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
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
	reg := prometheus.NewRegistry()
	h, _ := a.handler(&auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log}, reg, server.NewMetrics(reg))

	attempt := func(peer, xff string) int {
		t.Helper()
		req := form("/login", url.Values{"email": {"nobody@proxy.test"}, "password": {"not the password"}})
		req.RemoteAddr = peer
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	// untilThrottled makes attempts until one is refused with 429 and
	// returns how many it took (the limit is 10 at once, then 10 a minute).
	untilThrottled := func(name string, next func(i int) (peer, xff string)) int {
		t.Helper()
		for i := range 15 {
			if code := attempt(next(i)); code == http.StatusTooManyRequests {
				return i + 1
			}
		}
		t.Fatalf("%s: 15 sign-in attempts were never throttled", name)
		return 0
	}

	// Spoofing: a direct client sending a new X-Forwarded-For each time is
	// still one address, its own.
	n := untilThrottled("direct client", func(i int) (string, string) {
		return "198.51.100.9:4000", fmt.Sprintf("203.0.113.%d", 100+i)
	})
	t.Logf("the direct client with forged headers was throttled at attempt %d", n)

	// Through the proxy, the client's forwarded address is throttled, and
	// a forged entry left of it changes nothing.
	n = untilThrottled("proxied client", func(i int) (string, string) {
		return "10.0.0.5:4000", fmt.Sprintf("192.0.2.%d, 203.0.113.50", i)
	})
	t.Logf("the proxied client was throttled at attempt %d", n)
	// Another client behind the same proxy, and the proxy itself, have
	// their own buckets: the throttle is not one for everybody.
	if code := attempt("10.0.0.5:4000", "203.0.113.51"); code == http.StatusTooManyRequests {
		t.Error("a second client behind the proxy is throttled with the first")
	}
	if code := attempt("10.0.0.6:4000", "203.0.113.51, 10.0.0.5"); code == http.StatusTooManyRequests {
		t.Error("a client behind two trusted proxies is throttled with the first client")
	}
	// The throttled direct client stays throttled when relayed.
	if code := attempt("10.0.0.5:4000", "198.51.100.9"); code != http.StatusTooManyRequests {
		t.Errorf("198.51.100.9 through the proxy = %d, want 429 (the address is throttled)", code)
	}

	// The audit log holds the client addresses, never a forged one or the
	// proxy's.
	rows, err := a.db.WriteDB().QueryContext(ctx, "SELECT action, ip FROM audit_events WHERE action IN ('auth.login.failed', 'auth.throttled')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]map[string]int{}
	for rows.Next() {
		var action, ip string
		if err := rows.Scan(&action, &ip); err != nil {
			t.Fatal(err)
		}
		if seen[action] == nil {
			seen[action] = map[string]int{}
		}
		seen[action][ip]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"198.51.100.9", "203.0.113.50", "203.0.113.51"} {
		if seen["auth.login.failed"][ip] == 0 {
			t.Errorf("no failed sign-in audited from %s: %v", ip, seen)
		}
	}
	for _, ip := range []string{"198.51.100.9", "203.0.113.50"} {
		if seen["auth.throttled"][ip] == 0 {
			t.Errorf("no throttled sign-in audited from %s: %v", ip, seen)
		}
	}
	for action, ips := range seen {
		for ip := range ips {
			switch ip {
			case "198.51.100.9", "203.0.113.50", "203.0.113.51":
			default:
				t.Errorf("%s audited from %s, an address that is forged or a proxy's", action, ip)
			}
		}
	}

	// /metrics answers a scraper on this host, not a request a proxy on
	// this host relays, whether or not the proxy is trusted.
	for _, tt := range []struct {
		peer, header, value string
		want                int
	}{
		{"127.0.0.1:5000", "", "", http.StatusOK},
		{"127.0.0.1:5000", "X-Forwarded-For", "203.0.113.7", http.StatusNotFound},
		{"127.0.0.1:5000", "X-Forwarded-For", "127.0.0.1", http.StatusNotFound},
		{"[::1]:5000", "X-Real-IP", "203.0.113.7", http.StatusNotFound},
		{"[::1]:5000", "Forwarded", "for=203.0.113.7", http.StatusNotFound},
		{"10.0.0.5:5000", "", "", http.StatusNotFound},
		{"198.51.100.9:5000", "X-Forwarded-For", "127.0.0.1", http.StatusNotFound},
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = tt.peer
		if tt.header != "" {
			req.Header.Set(tt.header, tt.value)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET /metrics from %s with %s %q = %d, want %d", tt.peer, tt.header, tt.value, rec.Code, tt.want)
		}
	}
}
