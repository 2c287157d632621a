package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"credtrack"
)

// testToday is the fixed "today" of every test.
var testToday = credtrack.DateOf(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))

// day returns testToday plus n days.
func day(n int) credtrack.Date { return credtrack.Date{Time: testToday.AddDate(0, 0, n)} }

// fakeAuth is an in-memory Auth: users, sessions and set-password links.
type fakeAuth struct {
	mu        sync.Mutex
	passwords map[string]string          // email → password
	members   map[string]fakeMember      // email → identity
	sessions  map[string]string          // session token → email
	links     map[string]string          // set-password link token → email
	loggedOut []string                   // tokens passed to Logout
	failWith  map[string]error           // method → forced error
	lastLogin credtrack.Actor            // actor in ctx at the last Login
	lastSess  credtrack.Actor            // actor in ctx at the last Session
	ms        []*credtrack.Membership    // memberships returned for everyone
	users     map[string]*credtrack.User // email → user
}

type fakeMember struct {
	userID string
	orgID  string
	role   credtrack.Role
}

func newFakeAuth() *fakeAuth {
	a := &fakeAuth{
		passwords: map[string]string{},
		members:   map[string]fakeMember{},
		sessions:  map[string]string{},
		links:     map[string]string{},
		failWith:  map[string]error{},
		users:     map[string]*credtrack.User{},
		ms: []*credtrack.Membership{
			{OrgID: "org-a", OrgName: "Mercy Health", Role: credtrack.RoleCoordinator},
			{OrgID: "org-b", OrgName: "Lakeside Staffing", Role: credtrack.RoleAuditor},
		},
	}
	a.addUser("coord@example.com", "u-coord", "org-a", credtrack.RoleCoordinator)
	a.addUser("nurse@example.com", "u-nurse", "org-a", credtrack.RoleProvider)
	a.addUser("orphan@example.com", "u-orphan", "org-a", credtrack.RoleProvider)
	a.addUser("auditor@example.com", "u-aud", "org-a", credtrack.RoleAuditor)
	return a
}

func (a *fakeAuth) addUser(email, id, org string, role credtrack.Role) {
	a.passwords[email] = "correct horse"
	a.members[email] = fakeMember{userID: id, orgID: org, role: role}
	a.users[email] = &credtrack.User{ID: id, Email: email, Name: strings.Split(email, "@")[0]}
}

func (a *fakeAuth) Login(ctx context.Context, email, password string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastLogin = credtrack.ActorFromContext(ctx)
	if err := a.failWith["Login"]; err != nil {
		return "", err
	}
	if pw, ok := a.passwords[email]; !ok || pw != password {
		return "", credtrack.Errorf(credtrack.EUNAUTHORIZED, "email or password is wrong")
	}
	tok := credtrack.NewID()
	a.sessions[tok] = email
	return tok, nil
}

func (a *fakeAuth) Session(ctx context.Context, token string) (credtrack.Actor, *credtrack.User, []*credtrack.Membership, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastSess = credtrack.ActorFromContext(ctx)
	if err := a.failWith["Session"]; err != nil {
		return credtrack.Actor{}, nil, nil, err
	}
	email, ok := a.sessions[token]
	if !ok {
		return credtrack.Actor{}, nil, nil, credtrack.Errorf(credtrack.EUNAUTHORIZED, "session expired")
	}
	m := a.members[email]
	return credtrack.Actor{Kind: credtrack.ActorUser, ID: m.userID, OrgID: m.orgID, Role: m.role}, a.users[email], a.ms, nil
}

func (a *fakeAuth) Logout(ctx context.Context, token string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loggedOut = append(a.loggedOut, token)
	delete(a.sessions, token)
	return nil
}

func (a *fakeAuth) SetPassword(ctx context.Context, link, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	email, ok := a.links[link]
	if !ok {
		return credtrack.Errorf(credtrack.EUNAUTHORIZED, "link unknown")
	}
	if len(password) < 8 {
		return credtrack.Errorf(credtrack.EINVALID, "The password must be at least 8 characters long.")
	}
	delete(a.links, link)
	a.passwords[email] = password
	return nil
}

// session starts a session for email directly and returns its cookie.
func (a *fakeAuth) session(name, email string) *http.Cookie {
	a.mu.Lock()
	defer a.mu.Unlock()
	tok := credtrack.NewID()
	a.sessions[tok] = email
	return &http.Cookie{Name: name, Value: tok}
}

// fakeProviders is an in-memory ProviderService that scopes by the
// organization of the actor in ctx, as the store does.
type fakeProviders struct {
	mu        sync.Mutex
	providers []*credtrack.Provider
	err       error
	actors    []credtrack.Actor // actor of every call
}

func (f *fakeProviders) CreateProvider(ctx context.Context, p *credtrack.Provider) error {
	return credtrack.Errorf(credtrack.EUNSUPPORTED, "not in the fake")
}

func (f *fakeProviders) FindProviderByID(ctx context.Context, id string) (*credtrack.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := credtrack.ActorFromContext(ctx)
	f.actors = append(f.actors, a)
	if f.err != nil {
		return nil, f.err
	}
	for _, p := range f.providers {
		if p.ID == id && p.OrgID == a.OrgID {
			return p, nil
		}
	}
	return nil, credtrack.Errorf(credtrack.ENOTFOUND, "Provider not found.")
}

func (f *fakeProviders) FindProviders(ctx context.Context, flt credtrack.ProviderFilter) ([]*credtrack.Provider, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := credtrack.ActorFromContext(ctx)
	f.actors = append(f.actors, a)
	if f.err != nil {
		return nil, 0, f.err
	}
	var match []*credtrack.Provider
	for _, p := range f.providers {
		if p.OrgID != a.OrgID ||
			(flt.Query != "" && !strings.Contains(strings.ToLower(p.FullName()), strings.ToLower(flt.Query))) ||
			(flt.Profession != "" && p.Profession != flt.Profession) ||
			(flt.Status != "" && p.Status(testToday, 90) != flt.Status) {
			continue
		}
		// Lists carry no sensitive numbers, like the store's.
		cp := *p
		cp.SSN, cp.DOB = "", credtrack.Date{}
		match = append(match, &cp)
	}
	total := len(match)
	if flt.Limit == 0 {
		flt.Limit = 50
	}
	lo := min(flt.Offset, total)
	hi := min(lo+flt.Limit, total)
	return match[lo:hi], total, nil
}

// UpdateProvider and DeleteProvider are not used by these handler tests;
// the record pages are tested against the real store in cmd/credtrack.
func (f *fakeProviders) UpdateProvider(ctx context.Context, p *credtrack.Provider) error {
	return credtrack.Errorf(credtrack.EUNSUPPORTED, "not in the fake")
}

func (f *fakeProviders) DeleteProvider(ctx context.Context, id string) error {
	return credtrack.Errorf(credtrack.EUNSUPPORTED, "not in the fake")
}

func (f *fakeProviders) lastActor() credtrack.Actor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.actors[len(f.actors)-1]
}

// verified is a time after which credentials count as verified.
var verified = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixtureProviders has one provider of each overall status in org-a (two
// compliant) and one provider in org-b.
func fixtureProviders() []*credtrack.Provider {
	lic := func(exp int, v bool) *credtrack.Credential {
		c := &credtrack.Credential{Type: credtrack.CredStateLicense, Issuer: "Ohio Board of Nursing", Jurisdiction: "OH",
			Number: "RN123456", NumberLast4: "3456", IssuedOn: day(exp - 730), ExpiresOn: day(exp)}
		if v {
			c.VerifiedAt, c.VerifiedBy = verified, "Ohio Board of Nursing"
		}
		return c
	}
	cert := func(exp int) *credtrack.Credential {
		return &credtrack.Credential{Type: credtrack.CredCertification, Issuer: "AHA", NumberLast4: "", ExpiresOn: day(exp), VerifiedAt: verified}
	}
	return []*credtrack.Provider{
		{ID: "p-ana", OrgID: "org-a", FirstName: "Ana", LastName: "Alvarez", Profession: credtrack.ProfRN, Active: true,
			NPI: "1234567893", SSN: "123456789", DOB: day(-12000), NPILast4: "7893", SSNLast4: "6789", HasDOB: true, Specialty: "ICU", State: "OH",
			Credentials: []*credtrack.Credential{lic(20, true), cert(400)}},
		{ID: "p-ben", OrgID: "org-a", FirstName: "Ben", LastName: "Brooks", Profession: credtrack.ProfMD, Active: true,
			Credentials: []*credtrack.Credential{lic(-5, true)}},
		{ID: "p-cara", OrgID: "org-a", FirstName: "Cara", LastName: "Chen", Profession: credtrack.ProfRN, Active: true,
			Credentials: []*credtrack.Credential{lic(500, true), cert(500)}},
		{ID: "p-dan", OrgID: "org-a", FirstName: "Dan", LastName: "Diaz", Profession: credtrack.ProfPT, Active: true,
			Credentials: []*credtrack.Credential{lic(300, true)}},
		{ID: "p-eve", OrgID: "org-a", FirstName: "Eve", LastName: "Evans", Profession: credtrack.ProfRN, Active: true,
			Credentials: []*credtrack.Credential{lic(400, false), cert(400)}},
		{ID: "p-finn", OrgID: "org-a", FirstName: "Finn", LastName: "Ford", Profession: credtrack.ProfRN, Active: false,
			Credentials: []*credtrack.Credential{lic(10, true)}},
		{ID: "p-gia", OrgID: "org-a", FirstName: "Gia", LastName: "Green", Profession: credtrack.ProfRN, Active: true,
			UserID: "u-nurse", Credentials: []*credtrack.Credential{lic(700, true), cert(700)}},
		{ID: "p-zed", OrgID: "org-b", FirstName: "Zed", LastName: "Secretname", Profession: credtrack.ProfRN, Active: true},
	}
}

// env is a Handler with its fakes and captured log.
type env struct {
	h    *Handler
	auth *fakeAuth
	prov *fakeProviders
	alog *fakeAuditLog // the audit log behind the viewer
	logs *bytes.Buffer
	sid  string // session cookie name
}

func newEnv(t *testing.T, secure bool) *env {
	t.Helper()
	e := &env{auth: newFakeAuth(), prov: &fakeProviders{providers: fixtureProviders()}, logs: &bytes.Buffer{}}
	e.alog = newFakeAuditLog(e.prov.providers)
	e.h = New(Options{
		Auth:          e.auth,
		Providers:     e.prov,
		AuditLog:      e.alog,
		Logger:        slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, nil)),
		SecureCookies: secure,
		Today:         func() credtrack.Date { return testToday },
	})
	e.sid = e.h.sessionCookieName()
	return e
}

// lockedWriter serializes log writes for the race detector.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// serve runs req through the handler behind a stand-in for the outer
// server middleware, which sets the request ID on the response.
func (e *env) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-ID", "req-123")
	e.h.ServeHTTP(rec, req)
	return rec
}

// get requests path, signed in as email unless email is "".
func (e *env) get(t *testing.T, path, email string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if email != "" {
		req.AddCookie(e.auth.session(e.sid, email))
	}
	return e.serve(req)
}

// post sends a same-origin form post.
func (e *env) post(t *testing.T, path string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return e.serve(req)
}

func findCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestNew_ParsesTemplates(t *testing.T) {
	e := newEnv(t, true)
	for _, name := range pageNames {
		if e.h.pages.pages[name] == nil {
			t.Errorf("page %q not parsed", name)
		}
	}
}

func TestNewRenderer_BrokenTemplatePanics(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/layout/base.html":   {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
		"templates/partials/x.html":    {Data: []byte(`{{define "x"}}{{end}}`)},
		"templates/pages/broken.html":  {Data: []byte(`{{define "content"}}{{if}}{{end}}`)},
		"templates/pages/unused.html":  {Data: []byte(`{{define "content"}}ok{{end}}`)},
		"templates/pages/unused2.html": {Data: []byte(`{{define "content"}}ok{{end}}`)},
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a broken template did not panic")
		}
	}()
	newRenderer(fsys, template.FuncMap{})
}

func TestAnonymous_RedirectsToLogin(t *testing.T) {
	e := newEnv(t, true)
	for _, path := range []string{"/", "/providers", "/providers/p-ana"} {
		rec := e.get(t, path, "")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
			t.Errorf("GET %s: %d Location=%q, want 303 /login", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	if len(e.prov.actors) != 0 {
		t.Errorf("anonymous requests reached the provider service %d times", len(e.prov.actors))
	}
}

func TestLogin_SetsSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secure bool
		cookie string
	}{
		{"secure", true, "__Host-sid"},
		{"dev", false, "sid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.secure)
			rec := e.post(t, "/login", url.Values{"email": {"coord@example.com"}, "password": {"correct horse"}})
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
				t.Fatalf("status %d Location %q, want 303 /", rec.Code, rec.Header().Get("Location"))
			}
			c := findCookie(rec, tc.cookie)
			if c == nil {
				t.Fatalf("no %s cookie in %q", tc.cookie, rec.Header().Values("Set-Cookie"))
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Secure != tc.secure {
				t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Path=%q Domain=%q Secure=%v", c.HttpOnly, c.SameSite, c.Path, c.Domain, c.Secure)
			}
			if _, ok := e.auth.sessions[c.Value]; !ok {
				t.Error("cookie value is not the session token from Auth.Login")
			}
			// The token must not leak into the redirect.
			if strings.Contains(rec.Header().Get("Location"), c.Value) {
				t.Error("session token in the redirect URL")
			}
			// Signed in now: the dashboard opens with the cookie.
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(c)
			if rec := e.serve(req); rec.Code != http.StatusOK {
				t.Errorf("dashboard after login: %d", rec.Code)
			}
		})
	}
}

func TestLogin_WrongPassword(t *testing.T) {
	e := newEnv(t, true)
	for _, form := range []url.Values{
		{"email": {"coord@example.com"}, "password": {"wrong"}},
		{"email": {"nobody@example.com"}, "password": {"correct horse"}},
		{"email": {""}, "password": {""}},
	} {
		rec := e.post(t, "/login", form)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%v: status %d, want 401", form, rec.Code)
		}
		if !strings.Contains(rec.Body.String(), loginFailed) {
			t.Errorf("%v: generic message missing", form)
		}
		if findCookie(rec, "__Host-sid") != nil {
			t.Errorf("%v: a failed login set a session cookie", form)
		}
	}
	// The anonymous actor handed to Auth carries where the attempt came
	// from, for the audit log.
	if a := e.auth.lastLogin; a.IP != "192.0.2.1" || a.RequestID != "req-123" || a.Kind != credtrack.ActorAnonymous {
		t.Errorf("login actor = %+v", a)
	}
}

func TestLogin_RateLimitedShowsItsOwnStatus(t *testing.T) {
	e := newEnv(t, true)
	e.auth.failWith["Login"] = credtrack.Errorf(credtrack.ERATELIMIT, "Too many attempts. Try again in a few minutes.")
	rec := e.post(t, "/login", url.Values{"email": {"coord@example.com"}, "password": {"x"}})
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "Too many attempts") {
		t.Errorf("status %d", rec.Code)
	}
}

func TestLogin_FormTooLarge(t *testing.T) {
	e := newEnv(t, true)
	rec := e.post(t, "/login", url.Values{"email": {strings.Repeat("a", 70<<10)}, "password": {"x"}})
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", rec.Code)
	}
}

func TestLogin_EndsPreviousSession(t *testing.T) {
	e := newEnv(t, true)
	old := e.auth.session(e.sid, "coord@example.com")
	rec := e.post(t, "/login", url.Values{"email": {"coord@example.com"}, "password": {"correct horse"}}, old)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("status %d", rec.Code)
	}
	if !slices.Contains(e.auth.loggedOut, old.Value) {
		t.Error("the session held before login was not ended")
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, true)
	c := e.auth.session(e.sid, "coord@example.com")
	rec := e.post(t, "/logout", nil, c)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("status %d Location %q", rec.Code, rec.Header().Get("Location"))
	}
	del := findCookie(rec, e.sid)
	if del == nil || del.MaxAge >= 0 || !del.Secure || del.Path != "/" {
		t.Errorf("cookie not deleted properly: %+v", del)
	}
	if !slices.Contains(e.auth.loggedOut, c.Value) {
		t.Error("Auth.Logout not called with the session token")
	}
	// The flash shows once on the next page.
	flash := findCookie(rec, "__Host-flash")
	if flash == nil {
		t.Fatal("no flash cookie")
	}
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	req.AddCookie(flash)
	if body := e.serve(req).Body.String(); !strings.Contains(body, "You are signed out.") {
		t.Error("flash not shown on the login page")
	}
}

func TestLogout_CrossOriginRefused(t *testing.T) {
	e := newEnv(t, true)
	c := e.auth.session(e.sid, "coord@example.com")
	req := httptest.NewRequest(http.MethodPost, "/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(c)
	rec := e.serve(req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", rec.Code)
	}
	if len(e.auth.loggedOut) != 0 || findCookie(rec, e.sid) != nil {
		t.Error("a cross-site post reached the logout handler")
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	// Cross-site GETs are allowed: they must not change state anyway.
	get := httptest.NewRequest(http.MethodGet, "/login", nil)
	get.Header.Set("Sec-Fetch-Site", "cross-site")
	if rec := e.serve(get); rec.Code != http.StatusOK {
		t.Errorf("cross-site GET: %d", rec.Code)
	}
}

func TestStaleSessionCookieIsCleared(t *testing.T) {
	e := newEnv(t, true)
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	req.AddCookie(&http.Cookie{Name: e.sid, Value: "expired-token"})
	rec := e.serve(req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if c := findCookie(rec, e.sid); c == nil || c.MaxAge >= 0 {
		t.Error("stale cookie not deleted")
	}
}

func TestSessionOutageIsAnError(t *testing.T) {
	e := newEnv(t, true)
	e.auth.failWith["Session"] = errors.New("sql: database is locked (internal detail)")
	rec := e.get(t, "/providers", "coord@example.com")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "internal detail") || !strings.Contains(rec.Body.String(), "Internal error.") {
		t.Error("internal error text leaked or safe message missing")
	}
	if !strings.Contains(e.logs.String(), "internal detail") {
		t.Error("internal error not logged")
	}
}

func TestSetPassword(t *testing.T) {
	e := newEnv(t, true)
	e.auth.links["link-token-1"] = "coord@example.com"

	rec := e.get(t, "/set-password?token=link-token-1", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: %d", rec.Code)
	}
	if rp := rec.Header().Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("Referrer-Policy %q", rp)
	}
	if !strings.Contains(rec.Body.String(), `<input type="hidden" name="token" value="link-token-1">`) {
		t.Error("token not in a hidden field")
	}

	if rec := e.get(t, "/set-password", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("GET without token: %d", rec.Code)
	}

	for _, tc := range []struct {
		name, token, pw, confirm string
		status                   int
		want                     string
	}{
		{"mismatch", "link-token-1", "long enough pw", "other", http.StatusBadRequest, "do not match"},
		{"short", "link-token-1", "short", "short", http.StatusBadRequest, "at least 8 characters"},
		{"unknown link", "nope", "long enough pw", "long enough pw", http.StatusUnauthorized, "invalid or has expired"},
	} {
		rec := e.post(t, "/set-password", url.Values{"token": {tc.token}, "password": {tc.pw}, "confirm": {tc.confirm}})
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: status %d, want %d with %q", tc.name, rec.Code, tc.status, tc.want)
		}
	}

	rec = e.post(t, "/set-password", url.Values{"token": {"link-token-1"}, "password": {"long enough pw"}, "confirm": {"long enough pw"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("POST: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if e.auth.passwords["coord@example.com"] != "long enough pw" {
		t.Error("password not set through Auth.SetPassword")
	}
	if f := findCookie(rec, "__Host-flash"); f == nil || strings.Contains(f.Value, "link-token") {
		t.Errorf("flash cookie %+v", f)
	}
}

func TestDashboard_Tiles(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/", "coord@example.com")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	want := map[string]int{"compliant": 2, "expiring": 1, "expired": 1, "missing": 1, "pending": 1, "inactive": 1}
	for status, n := range want {
		re := regexp.MustCompile(`id="tile-` + status + `">\s*<a [^>]*>\s*<span class="tile-count">(\d+)</span>`)
		m := re.FindStringSubmatch(body)
		if m == nil || m[1] != fmt.Sprint(n) {
			t.Errorf("tile %s: got %v, want %d", status, m, n)
		}
	}
	// The largest count fills the chart; the others scale to it.
	if !strings.Contains(body, `class="bar bar-compliant" x="150" y="6" width="380"`) ||
		!strings.Contains(body, `class="bar bar-expired" x="150" y="74" width="190"`) {
		t.Error("bar widths not scaled to the largest count")
	}
	// Ana's license expires in 20 days and is listed; Finn is inactive and
	// Ben's license already expired, so neither is.
	if !strings.Contains(body, "Ana Alvarez") || !strings.Contains(body, `badge-soon-30">20 days<`) {
		t.Error("expiring credential not listed")
	}
	if strings.Contains(body, "Finn Ford") || strings.Contains(body, "Ben Brooks") {
		t.Error("inactive or expired credential in the expiring list")
	}
	if !strings.Contains(body, "Mercy Health") || !strings.Contains(body, "coord@example.com") {
		t.Error("layout lacks org name or signed-in email")
	}
	if strings.Contains(body, "Zed Secretname") {
		t.Error("another organization's provider on the dashboard")
	}
}

func TestDashboard_ProviderSeesOwnRecordLink(t *testing.T) {
	e := newEnv(t, true)
	body := e.get(t, "/", "nurse@example.com").Body.String()
	if !strings.Contains(body, `href="/providers/p-gia"`) {
		t.Error("own record link missing")
	}
	if strings.Contains(body, "tile-count") || strings.Contains(body, "Ana Alvarez") {
		t.Error("provider role sees organization figures")
	}
	if strings.Contains(body, `href="/providers"`) {
		t.Error("provider role gets a nav link to a page it may not open")
	}
	if !strings.Contains(body, `<a href="/my-record">My record</a>`) {
		t.Error("provider role has no My record link in the navigation")
	}
	if rec := e.get(t, "/my-record", "nurse@example.com"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/providers/p-gia" {
		t.Errorf("My record: %d to %q, want 303 to /providers/p-gia", rec.Code, rec.Header().Get("Location"))
	}
	body = e.get(t, "/", "orphan@example.com").Body.String()
	if !strings.Contains(body, "No provider record is linked") {
		t.Error("unlinked provider gets no explanation")
	}
	if rec := e.get(t, "/my-record", "orphan@example.com"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Errorf("My record without a linked record: %d to %q, want 303 to the dashboard", rec.Code, rec.Header().Get("Location"))
	}
	if body := e.get(t, "/", "coord@example.com").Body.String(); strings.Contains(body, "/my-record") {
		t.Error("staff get a My record link")
	}
	if rec := e.get(t, "/my-record", "coord@example.com"); rec.Code != http.StatusForbidden && rec.Code != http.StatusNotFound {
		t.Errorf("My record for staff: %d, want 403 or 404", rec.Code)
	}
}

func TestSummarize(t *testing.T) {
	st := summarize(fixtureProviders()[:7], testToday, 90)
	if st.Counts[credtrack.ProviderCompliant] != 2 || st.Counts[credtrack.ProviderInactive] != 1 {
		t.Errorf("counts %v", st.Counts)
	}
	if len(st.Expiring) != 1 || st.Within[30] != 1 || st.Within[90] != 1 || st.Expiring[0].Bucket != 30 {
		t.Errorf("expiring %+v within %v", st.Expiring, st.Within)
	}
}

func TestProviderIndex(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/providers", "coord@example.com")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "Showing 1–7 of 7") {
		t.Error("result count missing")
	}
	if !strings.Contains(body, "••••7893") || strings.Contains(body, "1234567893") {
		t.Error("NPI not masked")
	}
	if strings.Contains(body, "Zed Secretname") {
		t.Error("another organization's provider listed")
	}

	body = e.get(t, "/providers?q=ana&profession=RN&status=expiring", "coord@example.com").Body.String()
	if !strings.Contains(body, "Showing 1–1 of 1") || !strings.Contains(body, `<option value="expiring" selected>`) {
		t.Error("filters not applied or not kept in the form")
	}
	if rec := e.get(t, "/providers?status=bogus", "coord@example.com"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad status filter: %d", rec.Code)
	}
}

func TestProviderIndex_Paging(t *testing.T) {
	e := newEnv(t, true)
	e.prov.providers = nil
	for i := range 120 {
		e.prov.providers = append(e.prov.providers, &credtrack.Provider{ID: fmt.Sprintf("p%03d", i), OrgID: "org-a",
			FirstName: "P", LastName: fmt.Sprintf("N%03d", i), Profession: credtrack.ProfOther, Active: true})
	}
	body := e.get(t, "/providers", "coord@example.com").Body.String()
	if !strings.Contains(body, "Showing 1–50 of 120") || !strings.Contains(body, `href="/providers?page=2"`) {
		t.Error("first page")
	}
	body = e.get(t, "/providers?page=3", "coord@example.com").Body.String()
	if !strings.Contains(body, "Showing 101–120 of 120") || strings.Contains(body, `rel="next"`) || !strings.Contains(body, `href="/providers?page=2"`) {
		t.Error("last page")
	}
}

func TestProviderShow(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/providers/p-ana", "coord@example.com")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{"Ana Alvarez", "••••7893", "••••6789", "••••3456", "On file", "20 days", `class="timeline"`, "Ohio Board of Nursing"} {
		if !strings.Contains(body, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	for _, secret := range []string{"1234567893", "123456789", "RN123456"} {
		if strings.Contains(body, secret) {
			t.Errorf("detail shows unmasked %q", secret)
		}
	}
	// State license (20 days) sorts before certification (400 days).
	if strings.Index(body, "<td>State license</td>") > strings.Index(body, "<td>Certification</td>") {
		t.Error("credentials not sorted by expiry")
	}

	body = e.get(t, "/providers/p-dan", "coord@example.com").Body.String()
	if !strings.Contains(body, "Missing required credentials") || !strings.Contains(body, "NPI</li>") {
		t.Error("missing credentials not listed")
	}
}

func TestProviderShow_NotFound(t *testing.T) {
	e := newEnv(t, true)
	for _, id := range []string{"p-zed", "no-such-id"} {
		rec := e.get(t, "/providers/"+id, "coord@example.com")
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", id, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "Secretname") {
			t.Errorf("%s: 404 page shows the other organization's data", id)
		}
	}
}

// TestRouteMatrix checks who gets what on every page-like route.
func TestRouteMatrix(t *testing.T) {
	e := newEnv(t, true)
	for _, tc := range []struct {
		who, path string
		status    int
	}{
		{"", "/", 303}, {"", "/providers", 303}, {"", "/providers/p-ana", 303},
		{"", "/login", 200}, {"", "/set-password?token=t", 200},
		{"coord@example.com", "/", 200}, {"coord@example.com", "/providers", 200},
		{"coord@example.com", "/providers/p-ana", 200}, {"coord@example.com", "/providers/p-zed", 404},
		{"coord@example.com", "/login", 303},
		{"nurse@example.com", "/", 200}, {"nurse@example.com", "/providers", 403},
		{"nurse@example.com", "/providers/p-gia", 200}, {"nurse@example.com", "/providers/p-ana", 404},
		{"", "/no-such-page", 404},
	} {
		if rec := e.get(t, tc.path, tc.who); rec.Code != tc.status {
			t.Errorf("%q GET %s: %d, want %d", tc.who, tc.path, rec.Code, tc.status)
		}
	}
}

func TestPoliciesCoverRoutes(t *testing.T) {
	e := newEnv(t, true)
	routes, policies := e.h.Routes(), e.h.Policies()
	if len(routes) != len(policies) {
		t.Errorf("%d routes, %d policies", len(routes), len(policies))
	}
	for _, pattern := range routes {
		pol, ok := policies[pattern]
		if !ok {
			t.Errorf("%s has no policy", pattern)
		}
		if pol.SignedIn && pol.Permission == "" && pol.Own == "" && !pol.Self {
			t.Errorf("%s: signed-in route names no permission", pattern)
		}
		// The pattern is really registered: a request built from it
		// routes back to it.
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.NewReplacer("{$}", "", "{id}", "x", "{hash}", "h", "{name}", "n").Replace(path)
		if _, got := e.h.Mux().Handler(httptest.NewRequest(method, path, nil)); got != pattern {
			t.Errorf("%s: %s %s routes to %q", pattern, method, path, got)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, true)
	u, err := e.h.assets.url("app.css")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/static/[0-9a-f]{12}/app\.css$`).MatchString(u) {
		t.Fatalf("asset URL %q", u)
	}
	rec := e.get(t, u, "")
	if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		t.Fatalf("GET %s: %d", u, rec.Code)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control %q", cc)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(e.get(t, "/login", "").Body.String(), `href="`+u+`"`) {
		t.Error("layout does not link the hashed style sheet")
	}
	for _, bad := range []string{"/static/000000000000/app.css", "/static/" + e.h.assets["app.css"].hash + "/nope.css", "/static/", "/static/x"} {
		rec := e.get(t, bad, "")
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, rec.Code)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", bad, cc)
		}
	}
	if _, err := e.h.assets.url("nope.css"); err == nil {
		t.Error("asset of an unknown file did not fail")
	}
}

func TestNoStoreOnPages(t *testing.T) {
	e := newEnv(t, true)
	for _, rec := range []*httptest.ResponseRecorder{
		e.get(t, "/login", ""), e.get(t, "/", ""), e.get(t, "/providers", "coord@example.com"),
	} {
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
	}
}

func TestRequestContextActor(t *testing.T) {
	e := newEnv(t, true)
	req := httptest.NewRequest(http.MethodGet, "/providers", nil)
	req.Header.Set("User-Agent", "test-browser/1.0")
	req.AddCookie(e.auth.session(e.sid, "coord@example.com"))
	if rec := e.serve(req); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	a := e.prov.lastActor()
	want := credtrack.Actor{Kind: credtrack.ActorUser, ID: "u-coord", OrgID: "org-a", Role: credtrack.RoleCoordinator,
		IP: "192.0.2.1", UserAgent: "test-browser/1.0", RequestID: "req-123"}
	if a != want {
		t.Errorf("actor %+v, want %+v", a, want)
	}
	// Auth sees where the request came from before it resolves the session.
	if s := e.auth.lastSess; s.IP != "192.0.2.1" || s.RequestID != "req-123" {
		t.Errorf("actor in ctx at Session: %+v", s)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, true)
	for path, rec := range map[string]*httptest.ResponseRecorder{
		"/login":           e.get(t, "/login", ""),
		"/providers/p-ana": e.get(t, "/providers/p-ana", "coord@example.com"),
		"/nope":            e.get(t, "/nope", ""),
	} {
		csp := rec.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code", path)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	// A <meta name="referrer"> would override the no-referrer header of
	// the set-password page, so the layout must not have one.
	rec := e.get(t, "/set-password?token=abc", "")
	if rec.Header().Get("Referrer-Policy") != "no-referrer" || strings.Contains(rec.Body.String(), `name="referrer"`) {
		t.Error("set-password page may leak its token in Referer")
	}
}

func TestUnknownPaths(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/no/such/page", "coord@example.com")
	if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.Contains(rec.Body.String(), "There is no page at this address.") || !strings.Contains(rec.Body.String(), "Sign out") {
		t.Error("404 page lacks its message or the signed-in layout")
	}
	req := httptest.NewRequest(http.MethodDelete, "/login", nil)
	rec = e.serve(req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Errorf("DELETE /login: %d Allow=%q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestInternalErrorIsHidden(t *testing.T) {
	e := newEnv(t, true)
	e.prov.err = fmt.Errorf("sqlstore: find providers: %w", errors.New("pq: password authentication failed for user credtrack"))
	rec := e.get(t, "/providers", "coord@example.com")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "password authentication") || !strings.Contains(rec.Body.String(), "Internal error.") {
		t.Error("internal detail shown or safe message missing")
	}
	if !strings.Contains(e.logs.String(), "password authentication") || !strings.Contains(e.logs.String(), "req-123") {
		t.Error("internal error not logged with its request ID")
	}
	e.prov.err = credtrack.Errorf(credtrack.EUNAVAILABLE, "The database is not reachable right now.")
	if rec := e.get(t, "/providers", "coord@example.com"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("EUNAVAILABLE: %d", rec.Code)
	}
}

// TestNoInlineScriptOrStyle renders every page and checks the markup (and
// the template sources) for what the Content-Security-Policy would block.
func TestNoInlineScriptOrStyle(t *testing.T) {
	e := newEnv(t, true)
	e.auth.links["tok"] = "coord@example.com"
	pages := map[string]*httptest.ResponseRecorder{
		"login":             e.get(t, "/login", ""),
		"login failed":      e.post(t, "/login", url.Values{"email": {"a@example.com"}, "password": {"x"}}),
		"set-password":      e.get(t, "/set-password?token=tok", ""),
		"dashboard":         e.get(t, "/", "coord@example.com"),
		"dashboard own":     e.get(t, "/", "nurse@example.com"),
		"providers":         e.get(t, "/providers", "coord@example.com"),
		"provider":          e.get(t, "/providers/p-ana", "coord@example.com"),
		"provider missing":  e.get(t, "/providers/p-dan", "coord@example.com"),
		"not found":         e.get(t, "/providers/p-zed", "coord@example.com"),
		"forbidden":         e.get(t, "/providers", "nurse@example.com"),
		"set-password fail": e.post(t, "/set-password", url.Values{"token": {"tok"}, "password": {"a"}, "confirm": {"b"}}),
	}
	for name, rec := range pages {
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: not an HTML page (%d)", name, rec.Code)
			continue
		}
		checkNoInline(t, name, rec.Body.String())
	}
	for name, f := range e.h.pages.pages {
		for _, tmpl := range f.Templates() {
			if tmpl.Tree != nil && tmpl.Tree.Root != nil {
				checkNoInline(t, "template "+name+"/"+tmpl.Name(), tmpl.Tree.Root.String())
			}
		}
	}
}

var (
	scriptTag   = regexp.MustCompile(`(?i)<script\b[^>]*>`)
	styleTag    = regexp.MustCompile(`(?i)<style\b`)
	styleAttr   = regexp.MustCompile(`(?i)\sstyle\s*=`)
	handlerAttr = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	jsURL       = regexp.MustCompile(`(?i)javascript:`)
)

func checkNoInline(t *testing.T, name, html string) {
	t.Helper()
	for _, tag := range scriptTag.FindAllString(html, -1) {
		if !strings.Contains(tag, "src=") {
			t.Errorf("%s: inline script %q", name, tag)
		}
	}
	for _, re := range []*regexp.Regexp{styleTag, styleAttr, handlerAttr, jsURL} {
		if m := re.FindString(html); m != "" {
			t.Errorf("%s: inline style or script %q", name, m)
		}
	}
}

func TestTimeline(t *testing.T) {
	creds := fixtureProviders()[0].Credentials
	creds = append(creds, &credtrack.Credential{Type: credtrack.CredOther})
	tl := newTimeline(creds, testToday, 90)
	if len(tl.Rows) != 2 {
		t.Fatalf("%d rows, want 2 (the undated credential is left out)", len(tl.Rows))
	}
	for _, r := range tl.Rows {
		if r.X < tl.LabelW || r.X+r.W > tl.Width || r.W < 2 {
			t.Errorf("bar %+v outside the chart (width %d)", r, tl.Width)
		}
	}
	if tl.TodayX <= tl.LabelW || tl.TodayX >= tl.Width {
		t.Errorf("today at %d", tl.TodayX)
	}
	if empty := newTimeline(nil, testToday, 90); len(empty.Rows) != 0 {
		t.Error("timeline without credentials has rows")
	}
}
