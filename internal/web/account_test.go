package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"credtrack"
)

// The account methods of fakeAuth. Reset links reuse fakeAuth.links;
// session IDs are the tokens themselves.

func (a *fakeAuth) RequestPasswordReset(ctx context.Context, email string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.users[email]; ok {
		a.links["reset-"+email] = email
	}
	return nil
}

func (a *fakeAuth) ResetPassword(ctx context.Context, link, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	email, ok := a.links[link]
	if !ok {
		return credtrack.Errorf(credtrack.EINVALID, "This reset link is invalid, already used or expired. Ask for a new one.")
	}
	if len(password) < 8 {
		return credtrack.Errorf(credtrack.EINVALID, "the password must have at least 8 characters")
	}
	delete(a.links, link)
	a.passwords[email] = password
	for tok, e := range a.sessions {
		if e == email {
			delete(a.sessions, tok)
		}
	}
	return nil
}

func (a *fakeAuth) ChangePassword(ctx context.Context, token, current, password string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	email, ok := a.sessions[token]
	if !ok {
		return "", credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
	}
	if a.passwords[email] != current {
		return "", credtrack.Errorf(credtrack.EINVALID, "The current password is wrong.")
	}
	a.passwords[email] = password
	for tok, e := range a.sessions {
		if e == email {
			delete(a.sessions, tok)
		}
	}
	nt := credtrack.NewID()
	a.sessions[nt] = email
	return nt, nil
}

func (a *fakeAuth) Sessions(ctx context.Context, token string) ([]*credtrack.Session, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	email, ok := a.sessions[token]
	if !ok {
		return nil, "", credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
	}
	var out []*credtrack.Session
	for tok, e := range a.sessions {
		if e == email {
			out = append(out, &credtrack.Session{ID: tok, UserID: a.members[e].userID, IP: "192.0.2.7",
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0"})
		}
	}
	return out, token, nil
}

func (a *fakeAuth) RevokeSession(ctx context.Context, token, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	email, ok := a.sessions[token]
	if !ok {
		return credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
	}
	if a.sessions[id] != email {
		return credtrack.Errorf(credtrack.ENOTFOUND, "there is no such session")
	}
	delete(a.sessions, id)
	return nil
}

func (a *fakeAuth) RevokeOtherSessions(ctx context.Context, token string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	email, ok := a.sessions[token]
	if !ok {
		return 0, credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
	}
	n := 0
	for tok, e := range a.sessions {
		if e == email && tok != token {
			delete(a.sessions, tok)
			n++
		}
	}
	return n, nil
}

func TestForgotPasswordSameAnswer(t *testing.T) {
	e := newEnv(t, true)
	if rec := e.get(t, "/password/forgot", ""); rec.Code != http.StatusOK {
		t.Fatalf("GET /password/forgot = %d", rec.Code)
	}
	if rec := e.get(t, "/login", ""); !strings.Contains(rec.Body.String(), `href="/password/forgot"`) {
		t.Fatal("the sign-in page has no forgot-password link")
	}
	var bodies []string
	for _, email := range []string{"coord@example.com", "nobody@example.com"} {
		rec := e.post(t, "/password/forgot", url.Values{"email": {email}})
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "If an account exists") {
			t.Fatalf("POST for %s = %d %s", email, rec.Code, rec.Body)
		}
		bodies = append(bodies, rec.Body.String())
	}
	if bodies[0] != bodies[1] {
		t.Fatal("the answer differs for a known and an unknown address")
	}
}

func TestResetPasswordPages(t *testing.T) {
	e := newEnv(t, true)
	e.auth.links["tok-1"] = "coord@example.com"
	old := e.auth.session(e.sid, "coord@example.com")

	rec := e.get(t, "/password/reset?token=tok-1", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("GET reset = %d, Referrer-Policy %q", rec.Code, rec.Header().Get("Referrer-Policy"))
	}
	if !strings.Contains(rec.Body.String(), `name="token" value="tok-1"`) {
		t.Fatal("the token is not in a hidden field")
	}
	if rec := e.get(t, "/password/reset", ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("GET reset without token = %d", rec.Code)
	}
	// Mismatch and weak password keep the form; the link still works after.
	if rec := e.post(t, "/password/reset", url.Values{"token": {"tok-1"}, "password": {"abc"}, "confirm": {"abd"}}); rec.Code != http.StatusBadRequest {
		t.Fatalf("mismatch = %d", rec.Code)
	}
	if rec := e.post(t, "/password/reset", url.Values{"token": {"tok-1"}, "password": {"abc"}, "confirm": {"abc"}}); rec.Code != http.StatusBadRequest {
		t.Fatalf("weak = %d", rec.Code)
	}
	rec = e.post(t, "/password/reset", url.Values{"token": {"tok-1"}, "password": {"new long password"}, "confirm": {"new long password"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("reset = %d → %q", rec.Code, rec.Header().Get("Location"))
	}
	if strings.Contains(rec.Header().Get("Location")+rec.Header().Get("Set-Cookie"), "tok-1") {
		t.Fatal("the token leaked into the redirect or a cookie")
	}
	if _, ok := e.auth.sessions[old.Value]; ok {
		t.Fatal("the session survived the reset")
	}
	rec = e.post(t, "/password/reset", url.Values{"token": {"tok-1"}, "password": {"new long password"}, "confirm": {"new long password"}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "already used or expired") {
		t.Fatalf("second use = %d", rec.Code)
	}
}

func TestAccountPagesNeedSignIn(t *testing.T) {
	e := newEnv(t, true)
	for _, p := range []string{"/account", "/account/sessions", "/account/password"} {
		if rec := e.get(t, p, ""); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login") {
			t.Errorf("anonymous GET %s = %d → %q", p, rec.Code, rec.Header().Get("Location"))
		}
		rec := e.get(t, p, "nurse@example.com")
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", p, rec.Code)
		}
		if !strings.Contains(rec.Body.String(), `href="/account"`) {
			t.Errorf("GET %s: no Account link in the navigation", p)
		}
	}
}

func TestSessionsPageAndRevoke(t *testing.T) {
	e := newEnv(t, true)
	cur := e.auth.session(e.sid, "coord@example.com")
	other := e.auth.session(e.sid, "coord@example.com")
	stranger := e.auth.session(e.sid, "nurse@example.com")

	req, _ := http.NewRequest(http.MethodGet, "/account/sessions", nil)
	req.AddCookie(cur)
	rec := e.serve(req)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "This session") || !strings.Contains(body, "Firefox on Linux") {
		t.Fatalf("sessions page = %d %s", rec.Code, body)
	}
	// Someone else's session: 404, and it survives.
	if rec := e.post(t, "/account/sessions/"+stranger.Value+"/revoke", nil, cur); rec.Code != http.StatusNotFound {
		t.Fatalf("revoke another user's session = %d", rec.Code)
	}
	if rec := e.post(t, "/account/sessions/"+other.Value+"/revoke", nil, cur); rec.Code != http.StatusSeeOther {
		t.Fatalf("revoke = %d", rec.Code)
	}
	if _, ok := e.auth.sessions[other.Value]; ok {
		t.Fatal("revoked session still exists")
	}
	third := e.auth.session(e.sid, "coord@example.com")
	if rec := e.post(t, "/account/sessions/revoke-others", nil, cur); rec.Code != http.StatusSeeOther {
		t.Fatalf("revoke others = %d", rec.Code)
	}
	if _, ok := e.auth.sessions[third.Value]; ok {
		t.Fatal("other session still exists")
	}
	if _, ok := e.auth.sessions[cur.Value]; !ok {
		t.Fatal("current session ended")
	}
}

func TestChangePasswordPage(t *testing.T) {
	e := newEnv(t, true)
	cur := e.auth.session(e.sid, "coord@example.com")
	form := url.Values{"current": {"wrong"}, "password": {"new long password"}, "confirm": {"new long password"}}
	if rec := e.post(t, "/account/password", form, cur); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "current password is wrong") {
		t.Fatalf("wrong current = %d", rec.Code)
	}
	form.Set("current", "correct horse")
	rec := e.post(t, "/account/password", form, cur)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("change = %d %s", rec.Code, rec.Body)
	}
	c := findCookie(rec, e.sid)
	if c == nil || c.Value == "" || c.Value == cur.Value {
		t.Fatal("the session cookie was not replaced by the rotated token")
	}
	if _, ok := e.auth.sessions[c.Value]; !ok {
		t.Fatal("the new cookie is not a live session")
	}
}
