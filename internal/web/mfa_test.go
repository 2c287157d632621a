package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/password"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"

	pqtotp "github.com/pquerna/otp/totp"
)

// mfaEnv is the web handler over the real auth service and store.
type mfaEnv struct {
	h     *Handler
	db    *sqlstore.DB
	clock *storetest.Clock
}

const mfaTestPW = "bright meadow lantern"

func newMFAEnv(t *testing.T, db *sqlstore.DB, clock *storetest.Clock, role credtrack.Role) *mfaEnv {
	t.Helper()
	ctx, _ := storetest.NewOrg(t, db, "Mercy General")
	svc := &auth.Service{Store: db, Hasher: password.NewHasher(password.Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 2),
		Now: clock.Now, Idle: 30 * time.Minute, Lifetime: 12 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	hash, _ := svc.Hasher.Hash(mfaTestPW)
	u := &credtrack.User{Email: "boss@mercy.example", PasswordHash: hash, EmailVerifiedAt: clock.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMembership(ctx, u.ID, role); err != nil {
		t.Fatal(err)
	}
	h := New(Options{Auth: svc, MFA: svc, Providers: db, Orgs: db, SecureCookies: true, Audit: db,
		Today: func() credtrack.Date { return credtrack.DateOf(clock.Now()) }})
	return &mfaEnv{h: h, db: db, clock: clock}
}

func (e *mfaEnv) do(t *testing.T, method, path string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// login posts the sign-in form and returns the session cookie.
func (e *mfaEnv) login(t *testing.T, device *http.Cookie) *http.Cookie {
	t.Helper()
	rec := e.do(t, "POST", "/login", url.Values{"email": {"boss@mercy.example"}, "password": {mfaTestPW}}, device)
	c := findCookie(rec, "__Host-sid")
	if rec.Code != http.StatusSeeOther || c == nil {
		t.Fatalf("login = %d, cookie %v", rec.Code, c)
	}
	return c
}

// rawCookie returns the Set-Cookie line of name, for checking attributes
// as the browser sees them.
func rawCookie(rec *httptest.ResponseRecorder, name string) string {
	for _, l := range rec.Result().Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, name+"=") {
			return l
		}
	}
	return ""
}

func checkCookieAttrs(t *testing.T, line string) {
	t.Helper()
	if line == "" {
		t.Fatal("no Set-Cookie")
	}
	for _, want := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(line, want) {
			t.Errorf("Set-Cookie %q lacks %s", line, want)
		}
	}
	if strings.Contains(strings.ToLower(line), "domain=") {
		t.Errorf("Set-Cookie %q has a Domain", line)
	}
}

var recoveryRE = regexp.MustCompile(`<li>[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}</li>`)

var secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]{32})<`)

func TestMFAWebFlow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newMFAEnv(t, db, clock, credtrack.RoleOwner)
		sid := e.login(t, nil)

		// An owner without TOTP is sent to enrolment before anything else.
		for _, p := range []string{"/", "/providers", "/account", "/login/mfa"} {
			if rec := e.do(t, "GET", p, nil, sid); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/account/mfa/enrol" {
				t.Fatalf("GET %s = %d → %q", p, rec.Code, rec.Header().Get("Location"))
			}
		}
		if rec := e.do(t, "GET", "/account/mfa/enrol", nil, sid); rec.Code != 200 || secretRE.MatchString(rec.Body.String()) {
			t.Fatalf("enrol page before starting = %d", rec.Code)
		}
		if rec := e.do(t, "GET", "/account/mfa/qr.png", nil, sid); rec.Code != http.StatusNotFound {
			t.Fatalf("QR before starting = %d", rec.Code)
		}
		if rec := e.do(t, "POST", "/account/mfa/enrol/start", url.Values{}, sid); rec.Header().Get("Location") != "/account/mfa/enrol" {
			t.Fatalf("start = %d → %q", rec.Code, rec.Header().Get("Location"))
		}
		rec := e.do(t, "GET", "/account/mfa/enrol", nil, sid)
		m := secretRE.FindStringSubmatch(rec.Body.String())
		if rec.Code != 200 || m == nil {
			t.Fatalf("enrol page = %d:\n%.2000s", rec.Code, rec.Body.String())
		}
		secret := m[1]
		if !strings.Contains(rec.Body.String(), `src="/account/mfa/qr.png"`) {
			t.Fatal("the enrol page has no QR image")
		}
		qr := e.do(t, "GET", "/account/mfa/qr.png", nil, sid)
		if qr.Code != 200 || qr.Header().Get("Content-Type") != "image/png" || qr.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("QR = %d %q %q", qr.Code, qr.Header().Get("Content-Type"), qr.Header().Get("Cache-Control"))
		}
		if rec := e.do(t, "POST", "/account/mfa/enrol", url.Values{"code": {"12345x"}}, sid); rec.Code != http.StatusBadRequest {
			t.Fatalf("bad code = %d", rec.Code)
		}
		c, _ := pqtotp.GenerateCode(secret, clock.Now())
		rec = e.do(t, "POST", "/account/mfa/enrol", url.Values{"code": {c}}, sid)
		sid2 := findCookie(rec, "__Host-sid")
		if rec.Code != 200 || sid2 == nil || sid2.Value == sid.Value || len(recoveryRE.FindAllString(rec.Body.String(), -1)) != 10 {
			t.Fatalf("confirm = %d, cookie %v:\n%.2000s", rec.Code, sid2, rec.Body.String())
		}
		// The pre-enrolment cookie is dead; the new one reaches the dashboard.
		if rec := e.do(t, "GET", "/", nil, sid); rec.Header().Get("Location") != "/login" {
			t.Fatalf("old cookie after enrolment: %d → %q", rec.Code, rec.Header().Get("Location"))
		}
		if rec := e.do(t, "GET", "/account/mfa", nil, sid2); rec.Code != 200 || !strings.Contains(rec.Body.String(), "Replace authenticator") {
			t.Fatalf("account MFA page = %d", rec.Code)
		}

		// A new sign-in stops at the prompt.
		clock.Advance(30 * time.Second)
		sid3 := e.login(t, nil)
		if rec := e.do(t, "GET", "/", nil, sid3); rec.Header().Get("Location") != "/login/mfa" {
			t.Fatalf("GET / at the prompt → %q", rec.Header().Get("Location"))
		}
		if rec := e.do(t, "GET", "/login/mfa", nil, sid3); rec.Code != 200 || strings.Contains(rec.Body.String(), "Demo only") {
			t.Fatalf("prompt = %d", rec.Code)
		}
		if rec := e.do(t, "POST", "/login/mfa", url.Values{"code": {"000000"}}, sid3); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong code = %d", rec.Code)
		}
		c, _ = pqtotp.GenerateCode(secret, clock.Now())
		rec = e.do(t, "POST", "/login/mfa", url.Values{"code": {c}, "trust": {"1"}}, sid3)
		sid4 := findCookie(rec, "__Host-sid")
		dev := findCookie(rec, "__Host-credtrack_device")
		if rec.Code != http.StatusSeeOther || sid4 == nil || dev == nil || sid4.Value == sid3.Value {
			t.Fatalf("verify = %d, %v, %v", rec.Code, sid4, dev)
		}
		checkCookieAttrs(t, rawCookie(rec, "__Host-sid"))
		checkCookieAttrs(t, rawCookie(rec, "__Host-credtrack_device"))
		// An owner's device is trusted no longer than the session lifetime.
		if dev.MaxAge != int((12 * time.Hour).Seconds()) {
			t.Errorf("owner device cookie Max-Age = %d", dev.MaxAge)
		}
		// Replaying the pre-step-up cookie signs out.
		if rec := e.do(t, "GET", "/", nil, sid3); rec.Header().Get("Location") != "/login" {
			t.Fatalf("replayed pre-MFA cookie: %d → %q", rec.Code, rec.Header().Get("Location"))
		}
		if rec := e.do(t, "GET", "/", nil, sid4); rec.Code != 200 {
			t.Fatalf("dashboard after MFA = %d", rec.Code)
		}

		// The trusted device skips the prompt on that browser only.
		sid5 := e.login(t, dev)
		if rec := e.do(t, "GET", "/", nil, sid5); rec.Code != 200 {
			t.Fatalf("trusted device: GET / = %d → %q", rec.Code, rec.Header().Get("Location"))
		}
		sid6 := e.login(t, nil)
		if rec := e.do(t, "GET", "/", nil, sid6); rec.Header().Get("Location") != "/login/mfa" {
			t.Fatal("another browser skipped the prompt")
		}
		rec = e.do(t, "GET", "/account/devices", nil, sid4)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Firefox on Linux") {
			t.Fatalf("devices page = %d:\n%.2000s", rec.Code, rec.Body.String())
		}
		if rec := e.do(t, "POST", "/account/devices/revoke-all", url.Values{}, sid4); rec.Code != http.StatusSeeOther {
			t.Fatalf("revoke all = %d", rec.Code)
		}
		sid7 := e.login(t, dev)
		if rec := e.do(t, "GET", "/", nil, sid7); rec.Header().Get("Location") != "/login/mfa" {
			t.Fatal("a revoked device skipped the prompt")
		}
	})
}

func TestMFAPromptThrottled(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newMFAEnv(t, db, clock, credtrack.RoleProvider)
		e.h.mfaLimit = newIPLimiter(mfaRate, 2)
		sid := e.login(t, nil)
		for i := 0; i < 2; i++ {
			e.do(t, "POST", "/login/mfa", url.Values{"code": {"000000"}}, sid)
		}
		if rec := e.do(t, "POST", "/login/mfa", url.Values{"code": {"000000"}}, sid); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("third attempt = %d", rec.Code)
		}
	})
}
