package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/admin"
	"credtrack/internal/api"
	"credtrack/internal/auth"
	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
	"credtrack/internal/web"
)

const baseURL = "https://credtrack.example"

// env is the real web and API handlers over a real store, with an
// organization holding one member per role (owner, admin and coordinator
// enrolled in TOTP, as their roles require) and a second organization.
type env struct {
	t       *testing.T
	db      *sqlstore.DB
	clock   *storetest.Clock
	web     *web.Handler
	api     *api.Handler
	smtp    *mailtest.Server
	org     *credtrack.Organization
	other   *credtrack.Organization
	sys     context.Context // system actor in org
	otherSy context.Context // system actor in other
	users   map[credtrack.Role]*credtrack.User
	outside *credtrack.User // a provider of the other organization
}

func newEnv(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) *env {
	t.Helper()
	e := &env{t: t, db: db, clock: clock, users: map[credtrack.Role]*credtrack.User{}}
	e.sys, e.org = storetest.NewOrg(t, db, "Mercy General")
	e.otherSy, e.other = storetest.NewOrg(t, db, "Harbor Health")
	for _, r := range credtrack.Roles {
		u := &credtrack.User{Email: string(r) + "@mercy.example", Name: "Pat " + string(r), EmailVerifiedAt: clock.Now()}
		if _, err := db.CreateMember(e.sys, u, r, 0); err != nil {
			t.Fatal(err)
		}
		if r.MFARequired() {
			if err := db.MarkTOTPEnabledForTest(context.Background(), u.ID, clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		e.users[r] = u
	}
	e.outside = &credtrack.User{Email: "secret-person@harbor.example", Name: "Harbor Person", EmailVerifiedAt: clock.Now()}
	if _, err := db.CreateMember(e.otherSy, e.outside, credtrack.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	e.smtp = mailtest.NewServer(t)
	host, port := e.smtp.Addr()
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: "credtrack <no-reply@credtrack.example>", TLS: mail.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authSvc := &auth.Service{Store: db, Now: clock.Now, Log: log}
	e.web = web.New(web.Options{Auth: authSvc, Providers: db, Orgs: db, Audit: db, AuditLog: db,
		Admin: &admin.Service{Store: db, Mail: sender, BaseURL: baseURL, Log: log}})
	e.api = api.New(api.Options{Tokens: db, Providers: db, Credentials: db, Audit: db, Orgs: db, Now: clock.Now})
	return e
}

// signIn starts a session for u in org past every sign-in stage and
// returns its token.
func (e *env) signIn(u *credtrack.User, orgID string) string {
	e.t.Helper()
	tok, err := e.db.CreateSession(context.Background(), &credtrack.Session{UserID: u.ID, OrgID: orgID, MFAAt: e.clock.Now()}, 12*time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) do(method, path, token string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		r.AddCookie(&http.Cookie{Name: "sid", Value: token})
	}
	w := httptest.NewRecorder()
	e.web.ServeHTTP(w, r)
	return w
}

func (e *env) apiGet(path, bearer string) int {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", "Bearer "+bearer)
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w.Code
}

func want(t *testing.T, w *httptest.ResponseRecorder, status int, location string) {
	t.Helper()
	if w.Code != status || (location != "" && w.Header().Get("Location") != location) {
		t.Fatalf("status %d, Location %q; want %d %q\n%s", w.Code, w.Header().Get("Location"), status, location, w.Body.String())
	}
}

func sessionCookie(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatal("no session cookie set")
	return ""
}

func TestMembersPages(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		adminTok := e.signIn(e.users[credtrack.RoleAdmin], e.org.ID)
		ownerTok := e.signIn(e.users[credtrack.RoleOwner], e.org.ID)
		provider := e.users[credtrack.RoleProvider]
		providerTok := e.signIn(provider, e.org.ID)

		w := e.do("GET", "/org/members", adminTok, nil)
		want(t, w, 200, "")
		for _, s := range []string{provider.Email, `href="/org/members"`, "Organization"} {
			if !strings.Contains(w.Body.String(), s) {
				t.Errorf("members page lacks %q", s)
			}
		}
		if strings.Contains(w.Body.String(), e.outside.Email) {
			t.Error("members page shows another organization's member")
		}
		want(t, e.do("GET", "/org/members", e.signIn(e.users[credtrack.RoleCoordinator], e.org.ID), nil), 403, "")
		if w := e.do("GET", "/account", providerTok, nil); strings.Contains(w.Body.String(), "/org/members") {
			t.Error("a provider is offered the Organization link")
		}

		// Another organization's member: 404, no data, no change.
		w = e.do("POST", "/org/members/"+e.outside.ID+"/role", adminTok, url.Values{"role": {"admin"}})
		want(t, w, 404, "")
		if strings.Contains(w.Body.String(), e.outside.Email) {
			t.Error("the 404 names the other organization's member")
		}
		want(t, e.do("POST", "/org/members/"+e.outside.ID+"/remove", adminTok, url.Values{}), 404, "")
		want(t, e.do("POST", "/org/members/"+e.outside.ID+"/unlock", adminTok, url.Values{}), 404, "")
		// An admin cannot grant owner; nobody can set an unknown role.
		want(t, e.do("POST", "/org/members/"+provider.ID+"/role", adminTok, url.Values{"role": {"owner"}}), 403, "")
		want(t, e.do("POST", "/org/members/"+provider.ID+"/role", adminTok, url.Values{"role": {"emperor"}}), 400, "")
		// The last owner stays.
		w = e.do("POST", "/org/members/"+e.users[credtrack.RoleOwner].ID+"/role", ownerTok, url.Values{"role": {"admin"}})
		want(t, w, 409, "")
		if !strings.Contains(w.Body.String(), "only owner") {
			t.Errorf("last-owner page does not say why:\n%s", w.Body.String())
		}

		// A role change ends that member's session: the old cookie now
		// leads to the sign-in page, and a fresh sign-in gets a new token.
		want(t, e.do("GET", "/account", providerTok, nil), 200, "")
		want(t, e.do("POST", "/org/members/"+provider.ID+"/role", adminTok, url.Values{"role": {"auditor"}}), 303, "/org/members")
		want(t, e.do("GET", "/account", providerTok, nil), 303, "/login")
		ms, _ := db.FindMemberships(context.Background(), provider.ID)
		if len(ms) != 1 || ms[0].Role != credtrack.RoleAuditor {
			t.Fatalf("memberships = %+v", ms)
		}

		// Unlock: a locked member shows as locked with an Unlock button.
		victim := e.users[credtrack.RoleAuditor]
		for range sqlstore.LockoutThreshold {
			if _, _, err := db.RecordLoginFailure(context.Background(), victim.ID); err != nil {
				t.Fatal(err)
			}
		}
		if w := e.do("GET", "/org/members", adminTok, nil); !strings.Contains(w.Body.String(), "/org/members/"+victim.ID+"/unlock") {
			t.Error("no unlock button for a locked member")
		}
		want(t, e.do("POST", "/org/members/"+victim.ID+"/unlock", adminTok, url.Values{}), 303, "/org/members")
		if until, err := db.LockState(context.Background(), victim.ID); err != nil || !until.IsZero() {
			t.Fatalf("still locked until %v, %v", until, err)
		}

		// Removal.
		want(t, e.do("POST", "/org/members/"+victim.ID+"/remove", adminTok, url.Values{}), 303, "/org/members")
		if ms, _ := db.FindMemberships(context.Background(), victim.ID); len(ms) != 0 {
			t.Fatal("removed member still belongs")
		}
	})
}

func TestInvitationPages(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		adminTok := e.signIn(e.users[credtrack.RoleAdmin], e.org.ID)
		want(t, e.do("POST", "/org/invitations", adminTok, url.Values{"email": {"new.nurse@example.org"}, "role": {"provider"}}), 303, "/org/invitations")
		msgs := e.smtp.WaitFor(t, 1, 10*time.Second)
		link := mailtest.LinkIn(msgs[0].Text, baseURL+"/invitations/accept?token=")
		if link == "" || msgs[0].To[0] != "new.nurse@example.org" || !strings.Contains(msgs[0].Text, "Mercy General") {
			t.Fatalf("invitation email: to %v\n%s", msgs[0].To, msgs[0].Text)
		}
		token := strings.TrimPrefix(link, baseURL+"/invitations/accept?token=")
		w := e.do("GET", "/org/invitations", adminTok, nil)
		want(t, w, 200, "")
		if !strings.Contains(w.Body.String(), "new.nurse@example.org") || strings.Contains(w.Body.String(), token) {
			t.Error("the pending list lacks the address or shows the token")
		}
		// Refused input: the form comes back with a 4xx, nothing stored.
		want(t, e.do("POST", "/org/invitations", adminTok, url.Values{"email": {"nope"}, "role": {"provider"}}), 400, "")
		want(t, e.do("POST", "/org/invitations", adminTok, url.Values{"email": {"x@example.org"}, "role": {"owner"}}), 403, "")
		want(t, e.do("POST", "/org/invitations", adminTok, url.Values{"email": {"provider@mercy.example"}, "role": {"auditor"}}), 409, "")
		invs, err := db.ListInvitations(credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("t", e.org.ID)))
		if err != nil || len(invs) != 1 {
			t.Fatalf("pending = %d, %v", len(invs), err)
		}
		// Another organization's invitation: 404, still pending.
		foreign, _, err := db.CreateInvitation(e.otherSy, "someone@harbor.example", credtrack.RoleAuditor)
		if err != nil {
			t.Fatal(err)
		}
		want(t, e.do("POST", "/org/invitations/"+foreign.ID+"/revoke", adminTok, url.Values{}), 404, "")
		if l, _ := db.ListInvitations(e.otherSy); len(l) != 1 {
			t.Fatal("the other organization's invitation was revoked")
		}
		want(t, e.do("POST", "/org/invitations/"+invs[0].ID+"/revoke", adminTok, url.Values{}), 303, "/org/invitations")
		if w := e.do("GET", "/org/invitations", adminTok, nil); strings.Contains(w.Body.String(), "new.nurse@example.org") {
			t.Error("a revoked invitation is still listed")
		}
	})
}

func TestTokenPages(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		adminTok := e.signIn(e.users[credtrack.RoleAdmin], e.org.ID)
		want(t, e.do("GET", "/org/tokens", e.signIn(e.users[credtrack.RoleAuditor], e.org.ID), nil), 403, "")

		w := e.do("POST", "/org/tokens", adminTok, url.Values{"name": {"roster sync"}, "role": {"auditor"}})
		want(t, w, 200, "")
		i := strings.Index(w.Body.String(), "ctk_")
		if i < 0 {
			t.Fatal("the new token is not shown")
		}
		secret := w.Body.String()[i:]
		secret = secret[:strings.IndexAny(secret, `"<`)]
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Error("the page with the token may be cached")
		}
		if e.apiGet("/api/v1/me", secret) != 200 {
			t.Fatal("the new token does not work")
		}
		w = e.do("GET", "/org/tokens", adminTok, nil)
		if strings.Contains(w.Body.String(), secret) || strings.Contains(w.Body.String(), "ctk_") {
			t.Fatal("the token list shows the secret")
		}
		if !strings.Contains(w.Body.String(), "roster sync") || !strings.Contains(w.Body.String(), clock.Now().Format("2006-01-02 15:04")) {
			t.Error("the list lacks the token or its last use")
		}
		want(t, e.do("POST", "/org/tokens", adminTok, url.Values{"name": {"x"}, "role": {"owner"}}), 403, "")
		want(t, e.do("POST", "/org/tokens", adminTok, url.Values{"name": {"x"}, "role": {"auditor"}, "expires_days": {"-3"}}), 400, "")
		want(t, e.do("POST", "/org/tokens", adminTok, url.Values{"name": {""}, "role": {"auditor"}}), 400, "")

		list, err := db.ListAPITokens(credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("t", e.org.ID)))
		if err != nil || len(list) != 1 {
			t.Fatalf("tokens = %d, %v", len(list), err)
		}
		// Another organization's token: 404 and it keeps working.
		foreign := &credtrack.APIToken{Name: "harbor", Role: credtrack.RoleAuditor}
		foreignSecret, err := db.CreateAPIToken(e.otherSy, foreign)
		if err != nil {
			t.Fatal(err)
		}
		want(t, e.do("POST", "/org/tokens/"+foreign.ID+"/revoke", adminTok, url.Values{}), 404, "")
		if e.apiGet("/api/v1/me", foreignSecret) != 200 {
			t.Fatal("the other organization's token stopped working")
		}
		// Revoked: 401 at once.
		want(t, e.do("POST", "/org/tokens/"+list[0].ID+"/revoke", adminTok, url.Values{}), 303, "/org/tokens")
		if code := e.apiGet("/api/v1/me", secret); code != 401 {
			t.Fatalf("revoked token: %d", code)
		}
		// Expiring: works until its day has passed, then 401.
		w = e.do("POST", "/org/tokens", adminTok, url.Values{"name": {"brief"}, "role": {"coordinator"}, "expires_days": {"1"}})
		want(t, w, 200, "")
		body := w.Body.String()
		brief := body[strings.Index(body, "ctk_"):]
		brief = brief[:strings.IndexAny(brief, `"<`)]
		if e.apiGet("/api/v1/me", brief) != 200 {
			t.Fatal("the expiring token does not work")
		}
		// The handler dates the expiry by the wall clock; move the store's
		// clock past it.
		clock.T = credtrack.Now().Add(49 * time.Hour)
		if code := e.apiGet("/api/v1/me", brief); code != 401 {
			t.Fatalf("expired token: %d", code)
		}
	})
}

func TestSwitchOrganization(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		u := e.users[credtrack.RoleAuditor]
		if err := db.AddMembership(e.otherSy, u.ID, credtrack.RoleProvider); err != nil {
			t.Fatal(err)
		}
		tok := e.signIn(u, e.org.ID)
		w := e.do("GET", "/account", tok, nil)
		if !strings.Contains(w.Body.String(), `action="/org/switch"`) || !strings.Contains(w.Body.String(), "Harbor Health") {
			t.Fatalf("no organization switcher:\n%s", w.Body.String())
		}
		// An organization the user does not belong to: 404, nothing moves.
		_, lakeside := storetest.NewOrg(t, db, "Lakeside Care")
		want(t, e.do("POST", "/org/switch", tok, url.Values{"org": {lakeside.ID}}), 404, "")
		want(t, e.do("GET", "/account", tok, nil), 200, "")

		w = e.do("POST", "/org/switch", tok, url.Values{"org": {e.other.ID}})
		want(t, w, 303, "/")
		fresh := sessionCookie(t, w)
		if fresh == tok {
			t.Fatal("the token was not rotated")
		}
		// The old cookie stops working; the new one acts in the other org.
		want(t, e.do("GET", "/account", tok, nil), 303, "/login")
		w = e.do("GET", "/account", fresh, nil)
		want(t, w, 200, "")
		if !strings.Contains(w.Body.String(), `value="`+e.other.ID+`" selected`) {
			t.Errorf("the switcher does not show Harbor Health as current:\n%s", w.Body.String())
		}
		s, err := db.FindSessionByToken(context.Background(), fresh)
		if err != nil || s.OrgID != e.other.ID {
			t.Fatalf("session = %+v, %v", s, err)
		}
	})
}

// An organization's "MFA for every member" setting sends a provider
// without TOTP to enrolment on the next request.
func TestRequireMFASetting(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		adminTok := e.signIn(e.users[credtrack.RoleAdmin], e.org.ID)
		providerTok := e.signIn(e.users[credtrack.RoleProvider], e.org.ID)
		want(t, e.do("GET", "/account", providerTok, nil), 200, "")
		want(t, e.do("GET", "/org/settings", providerTok, nil), 403, "")
		w := e.do("GET", "/org/settings", adminTok, nil)
		want(t, w, 200, "")
		if !strings.Contains(w.Body.String(), `value="90"`) {
			t.Error("the settings page does not show the expiring window")
		}
		want(t, e.do("POST", "/org/settings", adminTok, url.Values{"require_mfa": {"on"}, "expiring_window_days": {"abc"}}), 400, "")
		want(t, e.do("POST", "/org/settings", adminTok, url.Values{"require_mfa": {"on"}, "expiring_window_days": {"400"}}), 400, "")
		want(t, e.do("GET", "/account", providerTok, nil), 200, "")
		want(t, e.do("POST", "/org/settings", adminTok, url.Values{"require_mfa": {"on"}, "expiring_window_days": {"60"}}), 303, "/org/settings")
		want(t, e.do("GET", "/account", providerTok, nil), 303, "/account/mfa/enrol")
		o, err := db.FindOrgByID(context.Background(), e.org.ID)
		if err != nil || o.ExpiringWindowDays != 60 {
			t.Fatalf("org = %+v, %v", o, err)
		}
	})
}
