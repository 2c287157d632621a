package web

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/password"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"

	"golang.org/x/time/rate"
)

const signupBase = "https://credtrack.example"

// signupEnv is a web handler on a real auth service, store and mailbox.
type signupEnv struct {
	t     *testing.T
	h     *Handler
	db    *sqlstore.DB
	svc   *auth.Service
	mail  *mailtest.Server
	clock *storetest.Clock
}

func newSignupEnv(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) *signupEnv {
	t.Helper()
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: "credtrack <no-reply@credtrack.example>", TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	svc := &auth.Service{Store: db, Hasher: password.NewHasher(password.Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 2),
		Now: clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Mail: sender, BaseURL: signupBase}
	h := New(Options{Auth: svc, Providers: db, Orgs: db, Audit: db, Signup: svc, SecureCookies: true})
	// Tests post many sign-ups from one address; the throttle has its own test.
	h.signupLimit = newIPLimiter(rate.Inf, 1000)
	return &signupEnv{t: t, h: h, db: db, svc: svc, mail: srv, clock: clock}
}

// do sends a request (a form when form is not nil) with the cookie.
func (e *signupEnv) do(method, target string, form url.Values, cookie *http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func sessionCookieOf(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == "__Host-sid" && c.Value != "" {
			return c
		}
	}
	return nil
}

func (e *signupEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.WriteDB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func signupForm(email string) url.Values {
	return url.Values{"kind": {"provider"}, "email": {email}, "first_name": {"Nia"}, "last_name": {"Okafor"},
		"profession": {"RN"}, "adult": {"yes"}, "password": {"violet harbour trombone quietly"},
		"confirm": {"violet harbour trombone quietly"}}
}

func tokenIn(t *testing.T, text, prefix string) string {
	t.Helper()
	link := mailtest.LinkIn(text, signupBase+prefix)
	u, err := url.Parse(link)
	if link == "" || err != nil {
		t.Fatalf("no %s link in %q", prefix, text)
	}
	return u.Query().Get("token")
}

func TestSignupPagesEndToEnd(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newSignupEnv(t, db, clock)
		if w := e.do("GET", "/signup", nil, nil); w.Code != 200 || !strings.Contains(w.Body.String(), `action="/signup"`) {
			t.Fatalf("GET /signup = %d", w.Code)
		}
		if w := e.do("GET", "/login", nil, nil); !strings.Contains(w.Body.String(), `href="/signup"`) {
			t.Fatal("no sign-up link on the login page")
		}
		w := e.do("POST", "/signup", signupForm("Nia@Example.org"), nil)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/verify-email" {
			t.Fatalf("POST /signup = %d %s: %s", w.Code, w.Header().Get("Location"), w.Body)
		}
		// Signing up does not sign in: the answer is the taken address's.
		if c := sessionCookieOf(w); c != nil {
			t.Fatalf("sign-up set a session cookie: %+v", c)
		}
		// Signing in before confirming reaches only the confirmation page.
		w = e.do("POST", "/login", url.Values{"email": {"nia@example.org"}, "password": {"violet harbour trombone quietly"}}, nil)
		c := sessionCookieOf(w)
		if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie = %+v", c)
		}
		// Unverified: the dashboard and the account pages send to /verify-email.
		for _, p := range []string{"/", "/account", "/providers"} {
			if w := e.do("GET", p, nil, c); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/verify-email" {
				t.Fatalf("GET %s unverified = %d %s", p, w.Code, w.Header().Get("Location"))
			}
		}
		w = e.do("GET", "/verify-email", nil, c)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `action="/verify-email/resend"`) {
			t.Fatalf("GET /verify-email = %d", w.Code)
		}
		msgs := e.mail.WaitFor(t, 1, 5*time.Second)
		token := tokenIn(t, msgs[0].Text, "/verify-email/confirm?token=")
		if w := e.do("POST", "/verify-email/resend", url.Values{}, c); w.Code != http.StatusSeeOther {
			t.Fatalf("resend = %d", w.Code)
		}
		e.mail.WaitFor(t, 2, 5*time.Second)

		// The link's GET changes nothing and moves the token into the form.
		w = e.do("GET", "/verify-email/confirm?token="+url.QueryEscape(token), nil, nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `name="token" value="`+token+`"`) || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("GET confirm = %d", w.Code)
		}
		if u, _ := db.FindUserByEmail(t.Context(), "nia@example.org"); !u.EmailVerifiedAt.IsZero() {
			t.Fatal("GET verified the address")
		}
		// Confirmed without a session (another device).
		w = e.do("POST", "/verify-email/confirm", url.Values{"token": {token}}, nil)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
			t.Fatalf("POST confirm = %d %s", w.Code, w.Header().Get("Location"))
		}
		if w := e.do("POST", "/verify-email/confirm", url.Values{"token": {token}}, nil); w.Code != http.StatusBadRequest {
			t.Fatalf("reused link = %d", w.Code)
		}
		// Now the session reaches the dashboard.
		if w := e.do("GET", "/", nil, c); w.Code != 200 {
			t.Fatalf("GET / verified = %d %s", w.Code, w.Header().Get("Location"))
		}
		if w := e.do("GET", "/verify-email", nil, c); w.Code != http.StatusSeeOther {
			t.Fatalf("verified user on /verify-email = %d", w.Code)
		}
	})
}

func TestSignupTakenAddressSameAnswer(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newSignupEnv(t, db, clock)
		first := e.do("POST", "/signup", signupForm("nia@example.org"), nil)
		e.mail.WaitFor(t, 1, 5*time.Second)
		users := e.count("users")
		form := signupForm(" NIA@example.ORG")
		form.Set("kind", "organization")
		form.Set("org_name", "Takeover")
		again := e.do("POST", "/signup", form, nil)
		if again.Code != first.Code || again.Header().Get("Location") != first.Header().Get("Location") || again.Body.String() != first.Body.String() ||
			strings.Join(again.Header().Values("Set-Cookie"), "\n") != strings.Join(first.Header().Values("Set-Cookie"), "\n") {
			t.Fatalf("answers differ: %d %s vs %d %s", first.Code, first.Header().Get("Location"), again.Code, again.Header().Get("Location"))
		}
		if e.count("users") != users || e.count("organizations") != users {
			t.Fatal("a taken address created rows")
		}
		msgs := e.mail.WaitFor(t, 2, 5*time.Second)
		if msgs[1].To[0] != "nia@example.org" || !strings.Contains(msgs[1].Subject, "tried to sign up") {
			t.Fatalf("notice = %+v", msgs[1])
		}
		// Without a session, the page it leads to says "check your inbox".
		if w := e.do("GET", "/verify-email", nil, nil); w.Code != 200 || !strings.Contains(w.Body.String(), "Check your inbox") {
			t.Fatalf("GET /verify-email anonymous = %d", w.Code)
		}
	})
}

func TestSignupBadInput(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newSignupEnv(t, db, clock)
		minor := credtrack.DateOf(clock.Now()).AddDate(-17, 0, 0).Format("2006-01-02")
		cases := []struct {
			name string
			edit func(url.Values)
		}{
			{"under 18", func(f url.Values) { f.Set("dob", minor); f.Del("adult") }},
			{"under 18 with the box", func(f url.Values) { f.Set("dob", minor) }},
			{"no attestation", func(f url.Values) { f.Del("adult") }},
			{"passwords differ", func(f url.Values) { f.Set("confirm", "something else entirely") }},
			{"fullwidth email", func(f url.Values) { f.Set("email", "ｎia@example.org") }},
			{"header injection in email", func(f url.Values) { f.Set("email", "nia@example.org\r\nBcc: eve@example.org") }},
			{"unknown kind", func(f url.Values) { f.Set("kind", "owner") }},
		}
		for _, c := range cases {
			f := signupForm("nia@example.org")
			c.edit(f)
			w := e.do("POST", "/signup", f, nil)
			if w.Code != http.StatusBadRequest || sessionCookieOf(w) != nil {
				t.Errorf("%s: %d", c.name, w.Code)
			}
			if strings.Contains(w.Body.String(), "violet harbour") {
				t.Errorf("%s: the password was echoed", c.name)
			}
		}
		if n := e.count("users"); n != 0 {
			t.Fatalf("%d users after bad sign-ups", n)
		}
		// Oversized and malformed bodies.
		big := signupForm("nia@example.org")
		big.Set("first_name", strings.Repeat("a", maxFormBytes))
		if w := e.do("POST", "/signup", big, nil); w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized form = %d", w.Code)
		}
		r := httptest.NewRequest("POST", "/signup", strings.NewReader("email=%zz&kind=provider"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("malformed form = %d", w.Code)
		}
		// Tokens: missing, oversized, unknown.
		for _, target := range []string{"/verify-email/confirm", "/verify-email/confirm?token=" + strings.Repeat("x", 300),
			"/invitations/accept", "/invitations/accept?token=nope"} {
			if w := e.do("GET", target, nil, nil); w.Code != http.StatusBadRequest {
				t.Errorf("GET %.40s = %d", target, w.Code)
			}
		}
		if w := e.do("POST", "/verify-email/confirm", url.Values{"token": {"nope"}}, nil); w.Code != http.StatusBadRequest {
			t.Fatalf("unknown confirmation token = %d", w.Code)
		}
		// Resend needs a session; a cross-site POST is refused.
		if w := e.do("POST", "/verify-email/resend", url.Values{}, nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
			t.Fatalf("anonymous resend = %d", w.Code)
		}
		r = httptest.NewRequest("POST", "/signup", strings.NewReader(signupForm("x@example.org").Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w = httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || e.count("users") != 0 {
			t.Fatalf("cross-site sign-up = %d", w.Code)
		}
	})
}

func TestSignupThrottle(t *testing.T) {
	db := storetest.OpenSQLite(t, &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})
	e := newSignupEnv(t, db, &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})
	e.h.signupLimit = newSignupLimiter()
	var last *httptest.ResponseRecorder
	for i := 0; i <= signupBurst; i++ {
		f := signupForm("nia@example.org")
		f.Del("adult") // refused, cheaply: the throttle counts attempts
		last = e.do("POST", "/signup", f, nil)
	}
	if last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") == "" {
		t.Fatalf("sign-up %d from one address = %d", signupBurst+1, last.Code)
	}
}

func TestSignupDisabled(t *testing.T) {
	h := New(Options{Auth: newFakeAuth(), Providers: &fakeProviders{}})
	for _, target := range []string{"/signup", "/verify-email", "/verify-email/confirm?token=x", "/invitations/accept?token=x"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s without Signup = %d", target, w.Code)
		}
	}
}

// insertInvite stores an invitation (only the token's SHA-256) and
// returns the token, standing in for the invitation code.
func (e *signupEnv) insertInvite(orgID, email string, role credtrack.Role, ttl time.Duration) string {
	e.t.Helper()
	token := rand.Text() + rand.Text()
	h := sha256.Sum256([]byte(token))
	q := "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	if e.db.Backend() == sqlstore.Postgres {
		q = "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	}
	now := e.clock.Now()
	if _, err := e.db.WriteDB().Exec(q, credtrack.NewID(), orgID, email, string(role), h[:], "inviter", now.UnixMicro(), now.Add(ttl).UnixMicro()); err != nil {
		e.t.Fatal(err)
	}
	return token
}

func TestInvitationPages(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newSignupEnv(t, db, clock)
		_, org := storetest.NewOrg(t, db, "Mercy General")
		token := e.insertInvite(org.ID, "sam@mercy.example", credtrack.RoleAuditor, 7*24*time.Hour)
		w := e.do("GET", "/invitations/accept?token="+url.QueryEscape(token), nil, nil)
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, "Mercy General") || !strings.Contains(body, `name="token" value="`+token+`"`) ||
			w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("GET invitation = %d", w.Code)
		}
		form := url.Values{"token": {token}, "action": {"signup"}, "first_name": {"Sam"}, "last_name": {"Lee"}, "adult": {"yes"},
			"password": {"violet harbour trombone quietly"}, "confirm": {"violet harbour trombone quietly"}}
		young := url.Values{}
		for k, v := range form {
			young[k] = v
		}
		young.Del("adult")
		young.Set("dob", credtrack.DateOf(clock.Now()).AddDate(-16, 0, 0).Format("2006-01-02"))
		if w := e.do("POST", "/invitations/accept", young, nil); w.Code != http.StatusBadRequest || e.count("users") != 0 {
			t.Fatalf("under 18 by invitation = %d", w.Code)
		}
		w = e.do("POST", "/invitations/accept", form, nil)
		c := sessionCookieOf(w)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || c == nil {
			t.Fatalf("accept by sign-up = %d %s", w.Code, w.Body)
		}
		// The link proved the address: straight to the dashboard.
		if w := e.do("GET", "/", nil, c); w.Code != 200 {
			t.Fatalf("dashboard after accepting = %d %s", w.Code, w.Header().Get("Location"))
		}
		// Single use.
		if w := e.do("POST", "/invitations/accept", form, nil); w.Code != http.StatusBadRequest {
			t.Fatalf("reused invitation = %d", w.Code)
		}
		if w := e.do("GET", "/invitations/accept?token="+url.QueryEscape(token), nil, nil); w.Code != http.StatusBadRequest {
			t.Fatalf("GET used invitation = %d", w.Code)
		}

		// Signed in as Sam, an invitation for someone else is refused.
		_, other := storetest.NewOrg(t, db, "Lakeside")
		foreign := e.insertInvite(other.ID, "pat@example.com", credtrack.RoleAdmin, time.Hour)
		if w := e.do("POST", "/invitations/accept", url.Values{"token": {foreign}, "action": {"accept"}}, c); w.Code != http.StatusForbidden {
			t.Fatalf("foreign invitation = %d", w.Code)
		}
		// Sam's own second invitation works with the session.
		mine := e.insertInvite(other.ID, "sam@mercy.example", credtrack.RoleProvider, time.Hour)
		if w := e.do("GET", "/invitations/accept?token="+url.QueryEscape(mine), nil, c); !strings.Contains(w.Body.String(), `value="accept"`) {
			t.Fatalf("signed-in invitation page lacks the accept button")
		}
		if w := e.do("POST", "/invitations/accept", url.Values{"token": {mine}, "action": {"accept"}}, c); w.Code != http.StatusSeeOther {
			t.Fatalf("accept signed in = %d", w.Code)
		}
		u, _ := db.FindUserByEmail(t.Context(), "sam@mercy.example")
		if ms, _ := db.FindMemberships(t.Context(), u.ID); len(ms) != 2 {
			t.Fatalf("memberships = %+v", ms)
		}
		// Expired: a clear 400, nothing changes.
		late := e.insertInvite(org.ID, "pat@example.com", credtrack.RoleAuditor, time.Hour)
		clock.Advance(2 * time.Hour)
		lateForm := url.Values{"token": {late}, "action": {"signup"}, "first_name": {"Pat"}, "last_name": {"Lee"}, "adult": {"yes"},
			"password": {"violet harbour trombone quietly"}, "confirm": {"violet harbour trombone quietly"}}
		users := e.count("users")
		if w := e.do("POST", "/invitations/accept", lateForm, nil); w.Code != http.StatusBadRequest || e.count("users") != users {
			t.Fatalf("expired invitation = %d", w.Code)
		}
		if w := e.do("POST", "/invitations/accept", url.Values{"token": {late}, "action": {"bogus"}}, nil); w.Code != http.StatusBadRequest {
			t.Fatalf("unknown action = %d", w.Code)
		}
	})
}
