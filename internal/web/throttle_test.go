package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"credtrack"
)

// recordingAudit captures the standalone events the handler records.
type recordingAudit struct {
	mu     sync.Mutex
	events []*credtrack.AuditEvent
}

func (r *recordingAudit) RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	credtrack.MarkAudited(ctx)
	return nil
}

func (r *recordingAudit) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, ev.Action)
	}
	return out
}

// countingAuth counts the sign-in attempts that reach Auth.
type countingAuth struct {
	*fakeAuth
	logins atomic.Int32
}

func (c *countingAuth) Login(ctx context.Context, email, password string) (string, error) {
	c.logins.Add(1)
	return c.fakeAuth.Login(ctx, email, password)
}

// postLoginFrom posts a wrong password to /login from remoteAddr.
func (e *env) postLoginFrom(remoteAddr string) *http.Response {
	form := url.Values{"email": {"coord@example.com"}, "password": {"wrong"}}
	req, _ := http.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.RemoteAddr = remoteAddr
	return e.serve(req).Result()
}

func TestLogin_ThrottledPerAddress(t *testing.T) {
	e := newEnv(t, true)
	rec := &recordingAudit{}
	auth := &countingAuth{fakeAuth: e.auth}
	// The production defaults (10 a minute, burst 10), with an audit
	// recorder so the throttle's event can be checked.
	e.h = New(Options{Auth: auth, Providers: e.prov, AuditLog: e.alog, Audit: rec, SecureCookies: true,
		Today: func() credtrack.Date { return testToday }})

	for i := 1; i <= 10; i++ {
		if res := e.postLoginFrom("203.0.113.5:40000"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i, res.StatusCode)
		}
	}
	res := e.postLoginFrom("203.0.113.5:40001") // another port, same address
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("11th attempt: status %d, want 429", res.StatusCode)
	}
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), "Too many sign-in attempts from your network. Wait a minute and try again.") {
		t.Fatalf("429 page does not say why:\n%s", body)
	}
	acts := rec.actions()
	if last := acts[len(acts)-1]; last != "auth.throttled" {
		t.Fatalf("last audit event %q, want auth.throttled (all: %v)", last, acts)
	}
	if ev := rec.events[len(rec.events)-1]; ev.TargetID != "POST /login" || ev.Outcome != credtrack.OutcomeDenied || ev.Details["retry_after"] == "" {
		t.Fatalf("throttle event %+v", ev)
	}
	// The ten 401s get the generic request event (the fake Auth records
	// nothing); the throttled one gets only its specific event.
	if n := countOf(acts, "http.request"); n != 10 || len(acts) != 11 {
		t.Fatalf("audit events %v, want 10 http.request and one auth.throttled", acts)
	}
	if n := auth.logins.Load(); n != 10 {
		t.Fatalf("Auth.Login called %d times, want 10 (a throttled attempt must not reach it)", n)
	}

	// Another address is not affected.
	if res := e.postLoginFrom("198.51.100.9:40000"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("other address: status %d, want 401", res.StatusCode)
	}
}

func countOf(xs []string, s string) int {
	n := 0
	for _, x := range xs {
		if x == s {
			n++
		}
	}
	return n
}

func TestLogin_ThrottleConfigurable(t *testing.T) {
	e := newEnv(t, false)
	e.h = New(Options{Auth: e.auth, Providers: e.prov, LoginRate: 1, LoginBurst: 2,
		Today: func() credtrack.Date { return testToday }})
	for i := 1; i <= 2; i++ {
		if res := e.postLoginFrom("203.0.113.5:1"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d", i, res.StatusCode)
		}
	}
	if res := e.postLoginFrom("203.0.113.5:1"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("3rd attempt with burst 2: status %d, want 429", res.StatusCode)
	}
}

func TestIPLimiter_RefillsAndForgets(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	l := newIPLimiter(0, 0)
	l.now = func() time.Time { return now }
	for i := 0; i < 10; i++ {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > 6*time.Second {
		t.Fatalf("11th: ok=%v wait=%v, want refused for about 6s", ok, wait)
	}
	now = now.Add(wait)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("still refused after Retry-After")
	}
	now = now.Add(11 * time.Minute)
	l.allow("b") // a sweep on access drops the idle bucket
	if _, found := l.entries["a"]; found || len(l.entries) != 1 {
		t.Fatalf("idle bucket kept: %d entries", len(l.entries))
	}
}

func TestLimiterKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.5":          "203.0.113.5",
		"::ffff:203.0.113.5":   "203.0.113.5",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ff::1":   "2001:db8:1:2::/64",
		"not-an-ip":            "not-an-ip",
	} {
		if got := limiterKey(in); got != want {
			t.Errorf("limiterKey(%q) = %q, want %q", in, got, want)
		}
	}
}
