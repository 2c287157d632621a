package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack"
	"credtrack/internal/api"
	"credtrack/internal/auth"
	"credtrack/internal/config"
	"credtrack/internal/docs"
	"credtrack/internal/server"
	"credtrack/internal/storetest"
	"credtrack/internal/web"
)

// The two organizations of the identity fixture. Their record names are
// distinctive so that a response can be searched for them: a page served
// to one organization must never hold the other's.
var (
	nameA = []string{"Ottoline", "Marchbanks", "QA4471"}
	nameB = []string{"Zebedee", "Quarrington", "QB9062"}
)

// idFixture is a real server (the handler cmd/credtrack serves, on a real
// store) with two organizations: org A has one user per role, a provider
// record linked to the provider-role user and one that is not; org B has
// an owner (the "member of another organization") and one provider.
type idFixture struct {
	a        *app
	h        http.Handler
	patterns []string // what the top-level mux registered
	webPol   map[string]web.Policy
	apiPol   map[string]api.Policy
	clock    *storetest.Clock
	orgA     string
	orgB     string
	// users by actor name: the five roles of org A, and "other" (owner of org B).
	users map[string]*credtrack.User
	// tokens by actor name: an API token of that role (org B's owner role for "other").
	tokens map[string]string
	// ids[org][kind] is an object of that kind in the org: "providers",
	// "credentials", "tokens", "members" (a user ID).
	ids map[string]map[string]string
}

// actorOrder is the matrix's actors: anonymous, each role of org A, and a
// member of another organization.
var actorOrder = []string{"anonymous", "owner", "admin", "coordinator", "provider", "auditor", "other"}

func actorRole(name string) credtrack.Role {
	if name == "other" {
		return credtrack.RoleOwner
	}
	return credtrack.Role(name)
}

// newIDFixture builds the fixture on backend ("sqlite" or "postgres").
// secure selects the production cookie mode (__Host-sid, Secure); the
// auth service reads the fixture's clock, which starts at the real time
// because the store stamps sessions with its own.
func newIDFixture(t *testing.T, backend string, secure bool) *idFixture {
	t.Helper()
	return newIDFixtureWith(t, backend, secure, nil)
}

// newIDFixtureWith is newIDFixture with tweak applied to the configuration
// before the app opens (a mail server, say); nil for none.
func newIDFixtureWith(t *testing.T, backend string, secure bool, tweak func(*config.Config)) *idFixture {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.DevInsecureCookies = !secure
	if backend == "postgres" {
		cfg.DatabaseURL = storetest.PostgresDatabase(t)
	}
	if tweak != nil {
		tweak(&cfg)
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
	f := &idFixture{a: a, clock: &storetest.Clock{T: time.Now().UTC()}, users: map[string]*credtrack.User{},
		tokens: map[string]string{}, ids: map[string]map[string]string{}}
	now := credtrack.Now()
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", ""))
	newOrg := func(name string) (string, context.Context) {
		o := &credtrack.Organization{Name: name, Kind: credtrack.OrgKindTeam}
		if err := a.db.CreateOrg(sys, o); err != nil {
			t.Fatal(err)
		}
		f.ids[o.ID] = map[string]string{}
		return o.ID, credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", o.ID))
	}
	var octxA, octxB context.Context
	f.orgA, octxA = newOrg("Alpha Clinic")
	f.orgB, octxB = newOrg("Bravo Hospital")
	hash, err := a.hasher.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	addUser := func(octx context.Context, org, actor string) {
		u := &credtrack.User{Email: actor + "@" + strings.ToLower(org) + ".test", Name: "User " + actor,
			PasswordHash: hash, EmailVerifiedAt: now}
		if err := a.db.CreateUser(octx, u); err != nil {
			t.Fatal(err)
		}
		if err := a.db.AddMembership(octx, u.ID, actorRole(actor)); err != nil {
			t.Fatal(err)
		}
		// Users in roles that require MFA have TOTP, so that a session
		// whose MFA step is marked done is ready; the others sign in with
		// a password alone.
		if actorRole(actor).MFARequired() {
			if err := a.db.MarkTOTPEnabledForTest(ctx, u.ID, now); err != nil {
				t.Fatal(err)
			}
		}
		f.users[actor] = u
		tok, err := a.db.CreateAPIToken(octx, &credtrack.APIToken{Name: "matrix " + actor, Role: actorRole(actor)})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[actor] = tok
	}
	for _, actor := range actorOrder[1:6] {
		addUser(octxA, f.orgA, actor)
	}
	addUser(octxB, f.orgB, "other")
	addRecord := func(octx context.Context, org string, names []string, userID string) {
		p := &credtrack.Provider{FirstName: names[0], LastName: names[1], Profession: credtrack.ProfRN, State: "MO", Active: true,
			UserID: userID}
		if err := a.db.CreateProvider(octx, p); err != nil {
			t.Fatal(err)
		}
		c := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredOther, Number: names[2], Jurisdiction: "MO"}
		if err := a.db.CreateCredential(octx, c); err != nil {
			t.Fatal(err)
		}
		f.ids[org]["providers"], f.ids[org]["credentials"] = p.ID, c.ID
		// A document, so that document routes are asked for the other
		// organization's (its name and content carry the org's marker).
		svc, err := a.documents()
		if err != nil {
			t.Fatal(err)
		}
		d, err := svc.Upload(octx, docs.Upload{ProviderID: p.ID, CredentialID: c.ID, Filename: names[2] + ".pdf",
			Body: strings.NewReader("%PDF-1.4\n" + names[2] + "\n")})
		if err != nil {
			t.Fatal(err)
		}
		f.ids[org]["documents"] = d.ID
	}
	// Org A's provider-role user owns the record the others look at, so
	// that "own record" routes answer with data for every role.
	addRecord(octxA, f.orgA, nameA, f.users["provider"].ID)
	addRecord(octxB, f.orgB, nameB, "")
	// A screening candidate and an alert in each organization, for the
	// routes that take their IDs.
	for org, octx := range map[string]context.Context{f.orgA: octxA, f.orgB: octxB} {
		c := &credtrack.ScreeningCandidate{ProviderID: f.ids[org]["providers"], Source: credtrack.ListLEIE, EntryKey: "matrix",
			EntryHash: "h", ListVersionID: "v", Score: 80, Reasons: []string{"name+state"}}
		if _, err := a.db.SaveScreeningResults(octx, "matrix", 1, []*credtrack.ScreeningCandidate{c}); err != nil {
			t.Fatal(err)
		}
		al := &credtrack.Alert{Kind: "matrix", Key: "matrix", Title: "Matrix alert"}
		if _, err := a.db.RaiseAlert(octx, al); err != nil {
			t.Fatal(err)
		}
		f.ids[org]["candidates"], f.ids[org]["alerts"] = c.ID, al.ID
	}
	// Bystanders: objects the walk may change or remove (a member, an API
	// token, an invitation) without touching the actors' own accounts.
	for org, octx := range map[string]context.Context{f.orgA: octxA, f.orgB: octxB} {
		u := &credtrack.User{Email: "bystander@" + strings.ToLower(org) + ".test", Name: "Bystander", EmailVerifiedAt: now}
		if err := a.db.CreateUser(octx, u); err != nil {
			t.Fatal(err)
		}
		if err := a.db.AddMembership(octx, u.ID, credtrack.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		tok := &credtrack.APIToken{Name: "bystander", Role: credtrack.RoleAuditor}
		if _, err := a.db.CreateAPIToken(octx, tok); err != nil {
			t.Fatal(err)
		}
		f.ids[org]["members"], f.ids[org]["tokens"] = u.ID, tok.ID
		// Through an interface, so that the fixture does not depend on
		// the organization administration's exact store API.
		if inv, ok := any(a.db).(interface {
			CreateInvitation(context.Context, string, credtrack.Role) (*credtrack.Invitation, string, error)
		}); ok {
			i, _, err := inv.CreateInvitation(octx, "invitee@"+strings.ToLower(org)+".test", credtrack.RoleAuditor)
			if err != nil {
				t.Fatal(err)
			}
			f.ids[org]["invitations"] = i.ID
		}
	}

	authSvc := &auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log, Now: f.clock.Now,
		Idle: cfg.SessionIdle, Lifetime: cfg.SessionLifetime}
	if cfg.SMTPHost != "" { // a tweak gave a mail server: send as serve does
		mailer, err := newMailer(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		authSvc.Mail, authSvc.BaseURL = mailer, cfg.BaseURL
	}
	reg := prometheus.NewRegistry()
	f.h, f.patterns = a.handler(authSvc, reg, server.NewMetrics(reg))
	// A checked roster import in each organization, so that the import
	// routes are also asked for the other organization's import.
	for actor, org := range map[string]string{"owner": f.orgA, "other": f.orgB} {
		c, _ := f.session(t, actor)
		rec := uploadRoster(t, f.h, c, "matrix.csv", "first_name,last_name\nAda,Byron\n")
		page := rec.Header().Get("Location")
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(page, "/roster/imports/") {
			t.Fatalf("roster upload as %s: %d", actor, rec.Code)
		}
		waitImport(t, f, actor, page)
		f.ids[org]["imports"] = strings.TrimPrefix(page, "/roster/imports/")
	}
	// The policies come from handlers built like the served ones: the
	// route tables are fixed at construction, whatever the options.
	f.webPol = web.New(web.Options{Auth: authSvc, Providers: a.db, Orgs: a.db, Audit: a.db, AuditLog: a.db,
		Records: a.db, Documents: a.docs}).Policies()
	f.apiPol = api.New(api.Options{Tokens: a.db, Providers: a.db, Credentials: a.db, Audit: a.db, Orgs: a.db}).Policies()
	return f
}

// orgOf is the organization an actor belongs to.
func (f *idFixture) orgOf(actor string) string {
	if actor == "other" {
		return f.orgB
	}
	return f.orgA
}

// otherOrg is the organization whose objects actor must not reach.
func (f *idFixture) otherOrg(actor string) string {
	if actor == "other" {
		return f.orgA
	}
	return f.orgB
}

// session opens a fresh, ready session (MFA done) for actor and returns
// its cookie; "anonymous" gets none. A fresh one per request keeps routes
// that end sessions (logout, revoke) from spoiling the next request.
func (f *idFixture) session(t *testing.T, actor string) (*http.Cookie, string) {
	t.Helper()
	if actor == "anonymous" {
		return nil, ""
	}
	u := f.users[actor]
	s := &credtrack.Session{UserID: u.ID, OrgID: f.orgOf(actor), MFAAt: credtrack.Now(), IP: "192.0.2.1", UserAgent: "matrix"}
	secret, err := f.a.db.CreateSession(context.Background(), s, 12*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: f.cookieName(), Value: secret}, s.ID
}

func (f *idFixture) cookieName() string {
	if f.a.cfg.DevInsecureCookies {
		return "sid"
	}
	return "__Host-sid"
}

func (f *idFixture) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

// infraRoutes are served outside the web and API handlers: process health
// and metrics, which touch no record and need no policy.
var infraRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// fill turns a pattern's path into a request path: {id} becomes the ID of
// the object the segment before it names in org (a session ID for
// sessions), any other wildcard a harmless value. known reports whether
// the {id} was an object of a kind the fixture has in both orgs.
func (f *idFixture) fill(path, org, sessionID string) (out string, known bool) {
	path = strings.ReplaceAll(path, "{$}", "")
	segs := strings.Split(path, "/")
	known = true
	for i, s := range segs {
		if s != "{id}" {
			continue
		}
		kind := ""
		if i > 0 {
			kind = segs[i-1]
		}
		id := f.ids[org][kind]
		if kind == "sessions" {
			id = sessionID
		}
		if id == "" {
			id, known = "01J00000000000000000000000", false
		}
		segs[i] = id
	}
	return wildcard.ReplaceAllString(strings.Join(segs, "/"), "x"), known
}

// request builds a request for method and path as actor.
func (f *idFixture) request(method, path string, cookie *http.Cookie, token string) *http.Request {
	var r *http.Request
	switch {
	case method == http.MethodGet || method == http.MethodHead:
		r = httptest.NewRequest(method, path, nil)
	case strings.HasPrefix(path, "/api/"):
		r = httptest.NewRequest(method, path, strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
	default:
		r = form(path, url.Values{"email": {"nobody@example.org"}, "password": {"x"}, "token": {"bogus"}, "code": {"000000"}})
		r.Method = method
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// TestRouteMatrix walks every route registered on the served mux (web and
// API, discovered from the handlers, never listed here) × {anonymous, each
// role, a member of another organization} and compares the answer with the
// route's policy and the permission table (SECURITY.md §2 item 25): a
// signed-in web route sends anonymous visitors to /login and the API
// answers 401; an actor the policy admits is never refused with 403; an
// actor it does not admit always is. A route without a policy fails. Then
// every route taking an object ID is asked for the other organization's
// object (item 26): 404, with none of that organization's data.
func TestRouteMatrix(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, false)
			webRoutes := map[string]bool{}
			for p := range f.webPol {
				webRoutes[p] = true
			}
			apiRoutes := map[string]bool{}
			for p := range f.apiPol {
				apiRoutes[p] = true
			}
			// Every route of both handlers is served, and every served
			// route has a policy.
			for p := range webRoutes {
				if !slices.Contains(f.patterns, p) {
					t.Errorf("web route %q is not registered on the served mux", p)
				}
			}
			for p := range apiRoutes {
				if !slices.Contains(f.patterns, p) {
					t.Errorf("API route %q is not registered on the served mux", p)
				}
			}
			walked, checks, foreignChecks := 0, 0, 0
			for _, p := range f.patterns {
				method, path, ok := strings.Cut(p, " ")
				if !ok || infraRoutes[p] { // catch-alls ("/", "/api/") serve only 404s
					continue
				}
				isAPI := apiRoutes[p]
				if !isAPI && !webRoutes[p] {
					t.Errorf("route %q has no policy in the web or API route table", p)
					continue
				}
				walked++
				for _, actor := range actorOrder {
					role := actorRole(actor)
					cookie, sid := f.session(t, actor)
					token := ""
					if isAPI {
						cookie, token = nil, f.tokens[actor]
					}
					own, _ := f.fill(path, f.orgOf(actor), sid)
					rec := f.serve(f.request(method, own, cookie, token))
					checks++
					where := p + " as " + actor + " (" + own + ")"
					if rec.Code >= 500 {
						t.Errorf("%s: %d", where, rec.Code)
						continue
					}
					var allowed bool
					if isAPI {
						pol := f.apiPol[p]
						allowed = pol.Public || (actor != "anonymous" && (pol.Permission == "" || role.Can(pol.Permission) ||
							(pol.Own && role.Can(credtrack.PermOwnRecordRead))))
						if actor == "anonymous" && !pol.Public {
							if rec.Code != http.StatusUnauthorized {
								t.Errorf("%s: %d, want 401", where, rec.Code)
							}
							continue
						}
					} else {
						pol := f.webPol[p]
						if actor == "anonymous" && pol.SignedIn {
							if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
								t.Errorf("%s: %d → %q, want 303 → /login", where, rec.Code, rec.Header().Get("Location"))
							}
							continue
						}
						allowed = !pol.SignedIn || (pol.Permission == "" && pol.Own == "") ||
							(pol.Permission != "" && role.Can(pol.Permission)) || (pol.Own != "" && role.Can(pol.Own))
					}
					if allowed && rec.Code == http.StatusForbidden {
						t.Errorf("%s: 403, but the policy admits role %s", where, role)
					}
					if !allowed && rec.Code != http.StatusForbidden {
						t.Errorf("%s: %d, want 403 (role %s lacks the permission)", where, rec.Code, role)
					}
					if !allowed || actor == "anonymous" || !strings.Contains(path, "{id}") {
						continue
					}
					// The other organization's object: 404 and nothing of it.
					if !isAPI {
						cookie, _ = f.session(t, actor)
					}
					foreign, known := f.fill(path, f.otherOrg(actor), foreignSession(t, f, actor))
					if !known {
						continue
					}
					rec = f.serve(f.request(method, foreign, cookie, token))
					foreignChecks++
					where = p + " as " + actor + " with another organization's ID (" + foreign + ")"
					if rec.Code != http.StatusNotFound {
						t.Errorf("%s: %d, want 404", where, rec.Code)
					}
					leak := nameB
					if actor == "other" {
						leak = nameA
					}
					for _, s := range leak {
						if strings.Contains(rec.Body.String(), s) {
							t.Errorf("%s: the response holds %q", where, s)
						}
					}
				}
			}
			t.Logf("%d routes, %d route × actor requests, %d with another organization's object", walked, checks, foreignChecks)
			if foreignChecks == 0 {
				t.Error("no route was asked for another organization's object")
			}
			if walked != len(webRoutes)+len(apiRoutes) {
				t.Errorf("walked %d routes, the handlers have %d", walked, len(webRoutes)+len(apiRoutes))
			}
		})
	}
}

// foreignSession is a session of a user of the other organization, for
// routes that take a session ID.
func foreignSession(t *testing.T, f *idFixture, actor string) string {
	t.Helper()
	victim := "other"
	if actor == "other" {
		victim = "auditor"
	}
	_, id := f.session(t, victim)
	return id
}
