package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"credtrack"
)

// The identity promises of issue 3 (sessions, cookies, CSRF, no state
// change on GET, bad input), tested through the real handler on a real
// store, on SQLite and PostgreSQL. The unit tests of internal/web use a
// fake Auth and internal/auth has no HTTP: these close the gap between
// them. What they already cover is not repeated here: lockout and
// throttling (internal/auth/lockout_test.go, internal/web/throttle_test.go),
// reset single use and expiry (internal/auth/reset_test.go), API token
// shapes and expiry (internal/api/api_test.go TestAuthentication).

var promiseAddr atomic.Int32

// login signs actor in through POST /login with the fixture's password,
// carrying cookie (nil for none), and returns the response. Each login
// comes from its own address, so the per-address throttle stays out of it.
func (f *idFixture) login(t *testing.T, actor string, cookie *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := form("/login", url.Values{"email": {f.users[actor].Email}, "password": {"correct horse battery staple"}})
	r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4321", promiseAddr.Add(1)%250+1)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return f.serve(r)
}

// sessionCookie returns the session cookie a response sets, nil if none.
func (f *idFixture) sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == f.cookieName() && c.Value != "" {
			return c
		}
	}
	return nil
}

// signIn logs actor in and returns the session cookie.
func (f *idFixture) signIn(t *testing.T, actor string) *http.Cookie {
	t.Helper()
	rec := f.login(t, actor, nil)
	c := f.sessionCookie(rec)
	if rec.Code != http.StatusSeeOther || c == nil {
		t.Fatalf("login as %s: %d %v", actor, rec.Code, rec.Header().Values("Set-Cookie"))
	}
	return c
}

// signedIn reports whether cookie opens the account page (a Self route any
// signed-in user may open); a dead session is sent to /login.
func (f *idFixture) signedIn(t *testing.T, cookie *http.Cookie) bool {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/account", nil)
	r.AddCookie(cookie)
	rec := f.serve(r)
	switch {
	case rec.Code == http.StatusOK:
		return true
	case rec.Code == http.StatusSeeOther && rec.Header().Get("Location") == "/login":
		return false
	}
	t.Fatalf("GET /account: %d → %q", rec.Code, rec.Header().Get("Location"))
	return false
}

// fingerprint is the database's state without the audit log, which every
// request adds to by design.
func (f *idFixture) fingerprint(t *testing.T) map[string]string {
	t.Helper()
	fp, err := f.a.db.FingerprintForTest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	delete(fp, "audit_events")
	delete(fp, "audit_heads")
	// The shared per-address throttle (PostgreSQL) counts every attempt,
	// refused ones included, by design.
	delete(fp, "rate_limits")
	return fp
}

func diffFingerprints(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, before[k], v))
		}
	}
	return out
}

func TestIdentityPromises(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, true)

			// SECURITY.md §2 item 23: the attributes as the browser gets
			// them, parsed from the Set-Cookie header of a real login.
			t.Run("cookie attributes", func(t *testing.T) {
				checkCookie(t, f, "__Host-sid", true)
				// Plain-http localhost development drops Secure and with it
				// the __Host- prefix (which requires Secure); nothing else.
				checkCookie(t, newIDFixture(t, backend, false), "sid", false)
			})

			// Item 16: a new token on login; the one held before is dead,
			// and a token planted by someone else is never adopted.
			t.Run("login rotates the token", func(t *testing.T) {
				before := f.signIn(t, "auditor")
				rec := f.login(t, "auditor", before)
				after := f.sessionCookie(rec)
				if after == nil || after.Value == before.Value {
					t.Fatalf("login with a session cookie kept the token")
				}
				if f.signedIn(t, before) {
					t.Error("the pre-login cookie still works after login")
				}
				if !f.signedIn(t, after) {
					t.Error("the new cookie does not work")
				}
				planted := &http.Cookie{Name: f.cookieName(), Value: "FIXATEDTOKENFIXATEDTOKENFIXATEDT"}
				if c := f.sessionCookie(f.login(t, "auditor", planted)); c == nil || c.Value == planted.Value {
					t.Error("login adopted a planted session token")
				}
			})

			// Item 18: logout deletes the session row; replaying the cookie
			// finds no session.
			t.Run("logout deletes the row", func(t *testing.T) {
				c := f.signIn(t, "provider")
				n0 := f.sessions(t)
				r := form("/logout", nil)
				r.AddCookie(c)
				if rec := f.serve(r); rec.Code != http.StatusSeeOther {
					t.Fatalf("logout: %d", rec.Code)
				}
				if n := f.sessions(t); n != n0-1 {
					t.Errorf("sessions %d → %d, want one fewer", n0, n)
				}
				if f.signedIn(t, c) {
					t.Error("the cookie works after logout")
				}
			})

			// Item 44: a cross-site POST is refused with 403 before any
			// handler runs, so nothing changes: not the password, not the
			// session.
			t.Run("cross-origin POST refused", func(t *testing.T) {
				c := f.signIn(t, "auditor")
				fp := f.fingerprint(t)
				for _, p := range []struct {
					path string
					form url.Values
				}{
					{"/account/password", url.Values{"current": {"correct horse battery staple"}, "current_password": {"correct horse battery staple"},
						"new": {"a whole new passphrase 42"}, "new_password": {"a whole new passphrase 42"}, "confirm": {"a whole new passphrase 42"}}},
					{"/account/sessions/revoke-others", nil},
					{"/logout", nil},
				} {
					r := form(p.path, p.form)
					r.Header.Set("Origin", "https://evil.example")
					r.Header.Set("Sec-Fetch-Site", "cross-site")
					r.AddCookie(c)
					if rec := f.serve(r); rec.Code != http.StatusForbidden {
						t.Errorf("cross-site POST %s: %d, want 403", p.path, rec.Code)
					}
				}
				if d := diffFingerprints(fp, f.fingerprint(t)); len(d) > 0 {
					t.Errorf("cross-site POSTs changed the database: %v", d)
				}
				if !f.signedIn(t, c) {
					t.Error("a cross-site logout ended the session")
				}
			})

			// Item 44 again: GET, the method a link or an image can send
			// from anywhere, never changes state. Every GET route is walked
			// (discovered from the mux) as each kind of caller.
			t.Run("no state change on GET", func(t *testing.T) {
				owner, sid := f.session(t, "owner")
				auditor := f.signIn(t, "auditor")
				for _, p := range f.patterns {
					method, path, ok := strings.Cut(p, " ")
					if !ok || method != http.MethodGet {
						continue
					}
					filled, _ := f.fill(path, f.orgA, sid)
					for _, who := range []string{"anonymous", "owner", "auditor", "token"} {
						r := httptest.NewRequest(http.MethodGet, filled, nil)
						switch who {
						case "owner":
							r.AddCookie(owner)
						case "auditor":
							r.AddCookie(auditor)
						case "token":
							r.Header.Set("Authorization", "Bearer "+f.tokens["owner"])
						}
						fp := f.fingerprint(t)
						rec := f.serve(r)
						after := f.fingerprint(t)
						if who == "token" && rowCount(fp["api_tokens"]) == rowCount(after["api_tokens"]) {
							// A token records when it was last used (the
							// promised "last used" column), like a session's
							// last-seen time: bookkeeping, not a change the
							// request asked for.
							after["api_tokens"] = fp["api_tokens"]
						}
						if d := diffFingerprints(fp, after); len(d) > 0 {
							t.Errorf("%s as %s (%d) changed the database: %v", p, who, rec.Code, d)
						}
					}
				}
			})

			// Bad input: malformed forms and bodies over the limit get a
			// 4xx, never a 500, and change nothing; on the API, malformed
			// JSON and foreign tokens get a 4xx with a stable error code.
			t.Run("bad input", func(t *testing.T) {
				owner, _ := f.session(t, "owner")
				bodies := map[string]string{
					"malformed form": "email=%zz&password=%%&&=",
					"over the limit": "email=x&password=" + strings.Repeat("A", 200<<10),
				}
				for _, p := range f.patterns {
					method, path, ok := strings.Cut(p, " ")
					if !ok || method == http.MethodGet || method == http.MethodHead || p == "POST /logout" {
						// Logout reads no input: there is nothing to malform.
						continue
					}
					filled, _ := f.fill(path, f.orgA, "x")
					isAPI := strings.HasPrefix(path, "/api/")
					for name, body := range bodies {
						if isAPI {
							body = map[string]string{"malformed form": `{"name": "x",`, "over the limit": `{"name": "` + strings.Repeat("A", 2<<20) + `"}`}[name]
						}
						for _, who := range []string{"anonymous", "owner"} {
							r := httptest.NewRequest(method, filled, strings.NewReader(body))
							r.RemoteAddr = fmt.Sprintf("203.0.113.%d:1", promiseAddr.Add(1)%250+1)
							if isAPI {
								r.Header.Set("Content-Type", "application/json")
								if who == "owner" {
									r.Header.Set("Authorization", "Bearer "+f.tokens["owner"])
								}
							} else {
								r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
								if who == "owner" {
									r.AddCookie(owner)
								}
							}
							fp := f.fingerprint(t)
							rec := f.serve(r)
							where := fmt.Sprintf("%s, %s, as %s", p, name, who)
							if who == "anonymous" && f.webPol[p].SignedIn {
								// Sent to sign in before the body is looked at.
								if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
									t.Errorf("%s: %d, want 303 → /login", where, rec.Code)
								}
							} else if rec.Code < 400 || rec.Code >= 500 {
								t.Errorf("%s: %d, want 4xx", where, rec.Code)
							}
							if isAPI {
								wantAPICode(t, where, rec)
							}
							if d := diffFingerprints(fp, f.fingerprint(t)); len(d) > 0 {
								t.Errorf("%s changed the database: %v", where, d)
							}
						}
					}
				}
				// A token of another organization asking for this one's
				// records: 404 with the stable code, nothing of the record.
				for _, path := range []string{"/api/v1/providers/" + f.ids[f.orgA]["providers"], "/api/v1/credentials/" + f.ids[f.orgA]["credentials"]} {
					r := httptest.NewRequest(http.MethodGet, path, nil)
					r.Header.Set("Authorization", "Bearer "+f.tokens["other"])
					rec := f.serve(r)
					if rec.Code != http.StatusNotFound || wantAPICode(t, path, rec) != credtrack.ENOTFOUND {
						t.Errorf("foreign token on %s: %d %s", path, rec.Code, rec.Body)
					}
					for _, s := range nameA {
						if strings.Contains(rec.Body.String(), s) {
							t.Errorf("foreign token on %s: the response holds %q", path, s)
						}
					}
				}
			})

			// Item 17 through HTTP, last because it moves the clock: 29
			// idle minutes keep the session, 31 end it (and its row); even
			// an active session ends 12 hours after login.
			t.Run("idle and absolute timeouts", func(t *testing.T) {
				defer func() { f.clock.T = time.Now().UTC() }()
				c := f.signIn(t, "auditor")
				f.clock.Advance(29 * time.Minute)
				if !f.signedIn(t, c) {
					t.Fatal("signed out after 29 idle minutes")
				}
				n0 := f.sessions(t)
				f.clock.Advance(31 * time.Minute)
				if f.signedIn(t, c) {
					t.Fatal("still signed in after 31 idle minutes")
				}
				if n := f.sessions(t); n != n0-1 {
					t.Errorf("the idle session's row was not deleted: %d → %d", n0, n)
				}

				f.clock.T = time.Now().UTC()
				c = f.signIn(t, "auditor")
				for i := range 24 { // 24 × 29 min = 11 h 36 min, active all along
					f.clock.Advance(29 * time.Minute)
					if !f.signedIn(t, c) {
						t.Fatalf("an active session ended after %d minutes", (i+1)*29)
					}
				}
				f.clock.Advance(29 * time.Minute) // 12 h 5 min after login
				if f.signedIn(t, c) {
					t.Error("an active session outlived the 12-hour absolute limit")
				}
			})
		})
	}
}

// rowCount is the row count of a FingerprintForTest entry.
func rowCount(fp string) string { n, _, _ := strings.Cut(fp, " "); return n }

func (f *idFixture) sessions(t *testing.T) int {
	t.Helper()
	n, err := f.a.db.RowCountsForTest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n["sessions"]
}

// checkCookie logs in on f and checks the session cookie's Set-Cookie line.
func checkCookie(t *testing.T, f *idFixture, name string, secure bool) {
	t.Helper()
	rec := f.login(t, "auditor", nil)
	var line string
	for _, l := range rec.Header().Values("Set-Cookie") {
		if strings.HasPrefix(l, name+"=") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no %s cookie in %q", name, rec.Header().Values("Set-Cookie"))
	}
	c, err := http.ParseSetCookie(line)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(c.Name, "__Host-") != secure || c.Secure != secure {
		t.Errorf("%q: prefix/Secure, want secure=%v", line, secure)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("%q: want HttpOnly; SameSite=Lax; Path=/; no Domain", line)
	}
	if len(c.Value) < 26 { // ≥128 bits in base32
		t.Errorf("session token of %d characters", len(c.Value))
	}
}

// wantAPICode checks that an API error response carries a known, stable
// error code (never EINTERNAL) and returns it.
func wantAPICode(t *testing.T, where string, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" || body.Error.Code == credtrack.EINTERNAL {
		t.Errorf("%s: error body %q has no stable code", where, rec.Body.String())
	}
	return body.Error.Code
}
