package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/jobs"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/psv"
	"credtrack/internal/psv/nppes"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// The tests in this file close the gaps of issue 4's review: every
// category of event the issue requires, recorded by the real request on
// both backends (TestAuditCategories); `credtrack audit verify` on a
// tampered chain (TestAuditVerifyCommandBrokenChain); a read that cannot
// be audited answering 503 over HTTP (TestAuditFailClosedOverHTTP).

// newAuditEvents returns the events recorded since seen, and adds them to it.
func (f *idFixture) newAuditEvents(t *testing.T, seen map[string]bool) []*credtrack.AuditEvent {
	t.Helper()
	all, err := f.a.db.AuditEventsForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*credtrack.AuditEvent
	for _, ev := range all {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// apiRequest builds an API request with a JSON body (nil for none) and a
// bearer token.
func apiRequest(method, path, token string, body any) *http.Request {
	var r *http.Request
	if body == nil {
		r = httptest.NewRequest(method, path, nil)
	} else {
		b, _ := json.Marshal(body)
		r = httptest.NewRequest(method, path, strings.NewReader(string(b)))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// withCookie adds c to r and returns r.
func withCookie(r *http.Request, c *http.Cookie) *http.Request {
	r.AddCookie(c)
	return r
}

// wantEvent is the event a case must record. Empty fields are not checked
// (a new object's ID is filled in by the case).
type wantEvent struct {
	action     string
	org        string
	actorKind  credtrack.ActorKind
	actorID    string
	targetType string
	targetID   string
	outcome    credtrack.Outcome
	// noIP marks events of a command, which has no client address.
	noIP bool
	// preAuth marks events of a sign-in not yet finished: the actor has
	// no organization and no role yet, so org and role are not checked.
	preAuth bool
	// status, when set, is the HTTP status the event's details record.
	status string
}

// secretsForAudit are values that must never appear in an event's details:
// passwords, API tokens, session secrets, credential numbers, addresses
// of invitees.
const (
	auditPassword    = "correct horse battery staple"
	auditNewPassword = "a brand new passphrase 42"
	auditNumber      = "ZQ7731955"
	auditNewNumber   = "ZQ7731966"
	auditInvitee     = "invitee-7731@alpha.test"
	auditNPI         = "1720377294"
)

// TestAuditCategories performs, on both backends and through the served
// handler (web or API, as a user would) wherever a route exists, one
// action of every category issue 4 requires the log to capture, and
// checks the event it recorded: action, organization, actor, target,
// outcome, a client address, and details free of the secret or sensitive
// values the request carried.
func TestAuditCategories(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			// A recorded NPPES registry answer (for auditNPI).
			nppesRecording, err := os.ReadFile("/work/shared/data/psv/nppes-api/ropensci-npi_api-b2f594.json")
			if err != nil {
				t.Fatal(err)
			}
			smtp := mailtest.NewServer(t)
			registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(nppesRecording) }))
			defer registry.Close()
			f := newIDFixtureWith(t, backend, true, func(c *config.Config) {
				host, port := smtp.Addr()
				c.SMTPHost, c.SMTPPort, c.SMTPTLS, c.SMTPFrom = host, int64(port), "none", "credtrack@test.example"
				c.BaseURL = "https://ct.example"
				c.NPPESURL = registry.URL + "/api/"
			})
			ctx := context.Background()
			seen := map[string]bool{}
			f.newAuditEvents(t, seen) // the fixture's own events
			secrets := []string{auditNPI, auditPassword, auditNewPassword, auditNumber, auditNewNumber, auditInvitee, nameA[2], nameB[2]}
			for _, tok := range f.tokens {
				secrets = append(secrets, tok)
			}
			orgA, orgB := f.orgA, f.orgB
			user := func(actor string) string { return f.users[actor].ID }
			status := func(t *testing.T, what string, rec *httptest.ResponseRecorder, want int) {
				t.Helper()
				if rec.Code != want {
					t.Fatalf("%s: %d, want %d: %.300s", what, rec.Code, want, rec.Body.String())
				}
			}
			created := map[string]string{} // IDs of objects the cases create
			idOf := func(t *testing.T, rec *httptest.ResponseRecorder) string {
				t.Helper()
				var v struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.ID == "" {
					t.Fatalf("no id in %s (%v)", rec.Body.String(), err)
				}
				return v.ID
			}
			tokenA := f.tokens["owner"]
			tokenID := func(actor string) string {
				// A token's actor ID is its record's ID: look it up from /api/v1/me.
				rec := f.serve(apiRequest("GET", "/api/v1/me", f.tokens[actor], nil))
				var v map[string]any
				json.Unmarshal(rec.Body.Bytes(), &v)
				for _, k := range []string{"token_id", "id"} {
					if s, ok := v[k].(string); ok {
						return s
					}
				}
				return ""
			}
			ownerTokenID := tokenID("owner")
			if ownerTokenID == "" {
				t.Fatal("/api/v1/me names no token ID")
			}
			var totpSeed string

			cases := []struct {
				name string
				do   func(t *testing.T) wantEvent
			}{
				// Authentication.
				{"login succeeded", func(t *testing.T) wantEvent {
					status(t, "login", f.login(t, "coordinator", nil), http.StatusSeeOther)
					return wantEvent{action: "auth.login.succeeded", org: orgA, actorKind: credtrack.ActorUser, actorID: user("coordinator"),
						targetType: "session", outcome: credtrack.OutcomeSuccess}
				}},
				{"login failed", func(t *testing.T) wantEvent {
					r := form("/login", url.Values{"email": {f.users["coordinator"].Email}, "password": {auditNewPassword}})
					r.RemoteAddr = "198.51.100.240:4321"
					rec := f.serve(r)
					if rec.Code == http.StatusSeeOther && f.sessionCookie(rec) != nil {
						t.Fatal("a wrong password signed in")
					}
					return wantEvent{action: "auth.login.failed", targetType: "user", targetID: user("coordinator"), outcome: credtrack.OutcomeFailure}
				}},
				{"mfa enabled", func(t *testing.T) wantEvent {
					// The provider-role user sets up TOTP as a user would:
					// start, read the seed off the page, confirm a code.
					c, _ := f.session(t, "provider")
					status(t, "enrol start", f.serve(withCookie(form("/account/mfa/enrol/start", nil), c)), http.StatusSeeOther)
					page := f.serve(withCookie(httptest.NewRequest("GET", "/account/mfa/enrol", nil), c))
					m := regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`).FindStringSubmatch(page.Body.String())
					if m == nil {
						t.Fatalf("no seed on the enrolment page: %d %.500s", page.Code, page.Body.String())
					}
					totpSeed = strings.ReplaceAll(m[1], " ", "")
					secrets = append(secrets, totpSeed)
					rec := f.serve(withCookie(form("/account/mfa/enrol", url.Values{"code": {totpCode(t, totpSeed)}}), c))
					if rec.Code >= 400 {
						t.Fatalf("enrol: %d %.300s", rec.Code, rec.Body.String())
					}
					return wantEvent{action: "mfa.enabled", org: orgA, actorKind: credtrack.ActorUser, actorID: user("provider"),
						outcome: credtrack.OutcomeSuccess}
				}},
				{"mfa failed", func(t *testing.T) wantEvent {
					// Now a password sign-in leaves the session at the code
					// prompt, where a wrong code fails.
					c := f.signIn(t, "provider")
					rec := f.serve(withCookie(form("/login/mfa", url.Values{"code": {"000000"}}), c))
					if rec.Code == http.StatusSeeOther && rec.Header().Get("Location") == "/" {
						t.Fatal("a wrong TOTP code passed")
					}
					// Before the code is passed the session acts in no
					// organization: the event is on the instance's chain,
					// without a role (see the report on issue 4).
					return wantEvent{action: "mfa.failed", org: "", actorKind: credtrack.ActorUser, actorID: user("provider"),
						targetType: "user", targetID: user("provider"), outcome: credtrack.OutcomeFailure, preAuth: true}
				}},
				{"password changed", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "auditor")
					rec := f.serve(withCookie(form("/account/password", url.Values{"current": {auditPassword},
						"password": {auditNewPassword}, "confirm": {auditNewPassword}}), c))
					if rec.Code >= 400 {
						t.Fatalf("password change: %d %.300s", rec.Code, rec.Body.String())
					}
					return wantEvent{action: "auth.password.changed", org: orgA, actorKind: credtrack.ActorUser, actorID: user("auditor"),
						targetType: "user", targetID: user("auditor"), outcome: credtrack.OutcomeSuccess}
				}},
				{"session revoked", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					_, other := f.session(t, "owner")
					rec := f.serve(withCookie(form("/account/sessions/"+other+"/revoke", nil), c))
					status(t, "revoke", rec, http.StatusSeeOther)
					return wantEvent{action: "session.revoked", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "session", targetID: other, outcome: credtrack.OutcomeSuccess}
				}},
				// Reads, downloads and exports.
				{"credential read (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("GET", "/api/v1/credentials/"+f.ids[orgA]["credentials"], tokenA, nil))
					status(t, "credential", rec, http.StatusOK)
					return wantEvent{action: "credential.read", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "credential", targetID: f.ids[orgA]["credentials"], outcome: credtrack.OutcomeSuccess}
				}},
				{"provider read (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "coordinator")
					status(t, "provider page", f.serve(withCookie(httptest.NewRequest("GET", "/providers/"+f.ids[orgA]["providers"], nil), c)), http.StatusOK)
					return wantEvent{action: "provider.read", org: orgA, actorKind: credtrack.ActorUser, actorID: user("coordinator"),
						targetType: "provider", targetID: f.ids[orgA]["providers"], outcome: credtrack.OutcomeSuccess}
				}},
				{"document downloaded (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("GET", "/api/v1/documents/"+f.ids[orgA]["documents"]+"/content", tokenA, nil))
					status(t, "download", rec, http.StatusOK)
					return wantEvent{action: "document.downloaded", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "document", targetID: f.ids[orgA]["documents"], outcome: credtrack.OutcomeSuccess}
				}},
				{"audit log exported (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					status(t, "export", f.serve(withCookie(httptest.NewRequest("GET", "/audit/export.csv", nil), c)), http.StatusOK)
					return wantEvent{action: "export.created", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "audit_log", outcome: credtrack.OutcomeSuccess}
				}},
				{"roster exported (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					status(t, "export", f.serve(withCookie(httptest.NewRequest("GET", "/roster/export.csv", nil), c)), http.StatusOK)
					return wantEvent{action: "export.created", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "roster", outcome: credtrack.OutcomeSuccess}
				}},
				// Create, update, delete of providers and credentials.
				{"provider created (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("POST", "/api/v1/providers", tokenA, map[string]any{"first_name": "Audra", "last_name": "Coverage",
						"profession": "RN", "state": "MO", "active": true}))
					status(t, "create", rec, http.StatusCreated)
					created["provider"] = idOf(t, rec)
					return wantEvent{action: "provider.created", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "provider", targetID: created["provider"], outcome: credtrack.OutcomeSuccess}
				}},
				{"provider updated (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("PATCH", "/api/v1/providers/"+created["provider"], tokenA, map[string]any{"last_name": "Coverage-Smith"}))
					status(t, "update", rec, http.StatusOK)
					return wantEvent{action: "provider.updated", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "provider", targetID: created["provider"], outcome: credtrack.OutcomeSuccess}
				}},
				{"credential created (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("POST", "/api/v1/providers/"+created["provider"]+"/credentials", tokenA,
						map[string]any{"type": "other", "number": auditNumber, "jurisdiction": "MO"}))
					status(t, "create", rec, http.StatusCreated)
					created["credential"] = idOf(t, rec)
					return wantEvent{action: "credential.created", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "credential", targetID: created["credential"], outcome: credtrack.OutcomeSuccess}
				}},
				{"credential updated (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("PATCH", "/api/v1/credentials/"+created["credential"], tokenA, map[string]any{"number": auditNewNumber}))
					status(t, "update", rec, http.StatusOK)
					return wantEvent{action: "credential.updated", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "credential", targetID: created["credential"], outcome: credtrack.OutcomeSuccess}
				}},
				{"credential deleted (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("DELETE", "/api/v1/credentials/"+created["credential"], tokenA, nil))
					if rec.Code != http.StatusNoContent && rec.Code != http.StatusOK {
						t.Fatalf("delete: %d %s", rec.Code, rec.Body.String())
					}
					return wantEvent{action: "credential.deleted", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "credential", targetID: created["credential"], outcome: credtrack.OutcomeSuccess}
				}},
				{"provider deleted (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("DELETE", "/api/v1/providers/"+created["provider"], tokenA, nil))
					if rec.Code != http.StatusNoContent && rec.Code != http.StatusOK {
						t.Fatalf("delete: %d %s", rec.Code, rec.Body.String())
					}
					return wantEvent{action: "provider.deleted", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "provider", targetID: created["provider"], outcome: credtrack.OutcomeSuccess}
				}},
				// Organizations: created by the operator's command (no
				// route creates one for an existing user), changed on the
				// settings page. Nothing deletes an organization.
				{"organization created (operator)", func(t *testing.T) wantEvent {
					o := &credtrack.Organization{Name: "Charlie Clinic", Kind: credtrack.OrgKindTeam}
					if err := f.a.db.CreateOrg(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", "")), o); err != nil {
						t.Fatal(err)
					}
					return wantEvent{action: "org.created", org: o.ID, actorKind: credtrack.ActorSystem, actorID: "cli",
						targetType: "organization", targetID: o.ID, outcome: credtrack.OutcomeSuccess, noIP: true}
				}},
				{"organization settings changed (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					rec := f.serve(withCookie(form("/org/settings", url.Values{"expiring_window_days": {"60"}}), c))
					status(t, "settings", rec, http.StatusSeeOther)
					return wantEvent{action: "org.settings_changed", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "organization", targetID: orgA, outcome: credtrack.OutcomeSuccess}
				}},
				// Primary-source verification.
				{"verification requested (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "coordinator")
					rec := f.serve(withCookie(form("/providers/"+f.ids[orgA]["providers"]+"/verify", url.Values{"source": {"nppes"}}), c))
					status(t, "verify", rec, http.StatusSeeOther)
					return wantEvent{action: "psv.check.requested", org: orgA, actorKind: credtrack.ActorUser, actorID: user("coordinator"),
						outcome: credtrack.OutcomeSuccess}
				}},
				{"verification performed (job)", func(t *testing.T) wantEvent {
					// A provider with an NPI, checked against NPPES: the
					// job's call records the masked request and the
					// response's metadata, never the NPI.
					rec := f.serve(apiRequest("POST", "/api/v1/providers", tokenA, map[string]any{"first_name": "Elise", "last_name": "Hiza",
						"profession": "MD", "npi": auditNPI, "active": true}))
					status(t, "create", rec, http.StatusCreated)
					id := idOf(t, rec)
					c, _ := f.session(t, "coordinator")
					status(t, "verify", f.serve(withCookie(form("/providers/"+id+"/verify", url.Values{"source": {"nppes"}}), c)), http.StatusSeeOther)
					svc := f.a.verification()
					svc.Sources[credtrack.SourceNPPES].(*nppes.Source).Client.Fetch.Sleep = func(context.Context, time.Duration) error { return nil }
					runner := jobs.NewRunner(f.a.db, f.a.log, map[string]jobs.Kind{psv.JobKind: {Handler: svc.RunJob}})
					if n, err := runner.RunOnce(ctx); err != nil || n < 1 {
						t.Fatalf("jobs run: %d %v", n, err)
					}
					return wantEvent{action: "psv.nppes.requested", org: orgA, actorKind: credtrack.ActorSystem, noIP: true}
				}},
				// Role changes, invitations, administrative actions.
				{"invitation created (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					rec := f.serve(withCookie(form("/org/invitations", url.Values{"email": {auditInvitee}, "role": {"coordinator"}}), c))
					status(t, "invite", rec, http.StatusSeeOther)
					return wantEvent{action: "invitation.created", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "invitation", outcome: credtrack.OutcomeSuccess}
				}},
				{"invitation accepted, member added (web)", func(t *testing.T) wantEvent {
					// Org B's owner is invited to org A and accepts through
					// the emailed link, signed in: member.added follows.
					c, _ := f.session(t, "owner")
					status(t, "invite", f.serve(withCookie(form("/org/invitations", url.Values{"email": {f.users["other"].Email},
						"role": {"auditor"}}), c)), http.StatusSeeOther)
					var token string
					for _, msg := range smtp.Messages() {
						if slices.Contains(msg.To, f.users["other"].Email) {
							if m := regexp.MustCompile(`/invitations/accept\?token=([^\s"<&]+)`).FindStringSubmatch(msg.Text); m != nil {
								token, _ = url.QueryUnescape(m[1])
							}
						}
					}
					if token == "" {
						t.Fatalf("no invitation email to %s", f.users["other"].Email)
					}
					secrets = append(secrets, token)
					other, _ := f.session(t, "other")
					rec := f.serve(withCookie(form("/invitations/accept", url.Values{"token": {token}, "action": {"accept"}}), other))
					status(t, "accept", rec, http.StatusSeeOther)
					return wantEvent{action: "member.added", org: orgA, actorKind: credtrack.ActorUser, actorID: user("other"),
						outcome: credtrack.OutcomeSuccess}
				}},
				{"member role changed (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					rec := f.serve(withCookie(form("/org/members/"+f.ids[orgA]["members"]+"/role", url.Values{"role": {"coordinator"}}), c))
					status(t, "role", rec, http.StatusSeeOther)
					return wantEvent{action: "member.role_changed", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "user", targetID: f.ids[orgA]["members"], outcome: credtrack.OutcomeSuccess}
				}},
				{"account unlocked (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					rec := f.serve(withCookie(form("/org/members/"+f.ids[orgA]["members"]+"/unlock", nil), c))
					status(t, "unlock", rec, http.StatusSeeOther)
					return wantEvent{action: "auth.account.unlocked", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "user", targetID: f.ids[orgA]["members"], outcome: credtrack.OutcomeSuccess}
				}},
				{"API token created (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					rec := f.serve(withCookie(form("/org/tokens", url.Values{"name": {"coverage"}, "role": {"auditor"}}), c))
					if rec.Code >= 400 {
						t.Fatalf("token: %d %.300s", rec.Code, rec.Body.String())
					}
					// The secret is shown once on the page: it must not be in the log.
					if m := regexp.MustCompile(`ctk_[A-Za-z0-9_-]+`).FindString(rec.Body.String()); m != "" {
						secrets = append(secrets, m)
					} else {
						t.Errorf("the token page shows no token")
					}
					return wantEvent{action: "api_token.created", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "api_token", outcome: credtrack.OutcomeSuccess}
				}},
				{"member removed (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "owner")
					rec := f.serve(withCookie(form("/org/members/"+f.ids[orgA]["members"]+"/remove", nil), c))
					status(t, "remove", rec, http.StatusSeeOther)
					return wantEvent{action: "member.removed", org: orgA, actorKind: credtrack.ActorUser, actorID: user("owner"),
						targetType: "user", targetID: f.ids[orgA]["members"], outcome: credtrack.OutcomeSuccess}
				}},
				{"member added (operator command)", func(t *testing.T) wantEvent {
					// Memberships are added by accepting an invitation
					// (whose token only the email carries) or by the
					// operator's `user create`, whose store call this is.
					u := &credtrack.User{Email: "added@alpha.test", Name: "Added"}
					octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", orgA))
					if _, err := f.a.db.CreateMember(octx, u, credtrack.RoleCoordinator, 0); err != nil {
						t.Fatal(err)
					}
					return wantEvent{action: "member.added", org: orgA, actorKind: credtrack.ActorSystem, actorID: "cli",
						targetID: u.ID, outcome: credtrack.OutcomeSuccess, noIP: true}
				}},
				// Access denials.
				{"denied: role lacks the permission (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("POST", "/api/v1/providers", f.tokens["auditor"], map[string]any{"first_name": "No", "last_name": "Way"}))
					status(t, "auditor create", rec, http.StatusForbidden)
					return wantEvent{action: "authz.denied", org: orgA, actorKind: credtrack.ActorToken, targetType: "route",
						targetID: "POST /api/v1/providers", outcome: credtrack.OutcomeDenied}
				}},
				{"denied: role lacks the permission (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "provider")
					status(t, "provider opens members", f.serve(withCookie(httptest.NewRequest("GET", "/org/members", nil), c)), http.StatusForbidden)
					return wantEvent{action: "authz.denied", org: orgA, actorKind: credtrack.ActorUser, actorID: user("provider"),
						targetType: "route", targetID: "GET /org/members", outcome: credtrack.OutcomeDenied}
				}},
				{"refused: another organization's record (API)", func(t *testing.T) wantEvent {
					rec := f.serve(apiRequest("GET", "/api/v1/credentials/"+f.ids[orgB]["credentials"], tokenA, nil))
					status(t, "cross-org credential", rec, http.StatusNotFound)
					for _, s := range nameB {
						if strings.Contains(rec.Body.String(), s) {
							t.Fatalf("the 404 holds %q", s)
						}
					}
					// The store cannot see another organization's rows
					// (row-level security), so it cannot tell this ID from
					// one that does not exist: the refusal is recorded as
					// the route's failed request, with the 404.
					return wantEvent{action: "http.request", org: orgA, actorKind: credtrack.ActorToken, actorID: ownerTokenID,
						targetType: "route", targetID: "GET /api/v1/credentials/{id}", outcome: credtrack.OutcomeFailure, status: "404"}
				}},
				{"refused: another organization's record (web)", func(t *testing.T) wantEvent {
					c, _ := f.session(t, "coordinator")
					rec := f.serve(withCookie(httptest.NewRequest("GET", "/providers/"+f.ids[orgB]["providers"], nil), c))
					status(t, "cross-org provider", rec, http.StatusNotFound)
					return wantEvent{action: "http.request", org: orgA, actorKind: credtrack.ActorUser, actorID: user("coordinator"),
						targetType: "route", targetID: "GET /providers/{id}", outcome: credtrack.OutcomeFailure, status: "404"}
				}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					want := c.do(t)
					evs := f.newAuditEvents(t, seen)
					var got *credtrack.AuditEvent
					for _, ev := range evs {
						if ev.Action == want.action && (want.targetID == "" || ev.TargetID == want.targetID) &&
							(want.actorID == "" || ev.ActorID == want.actorID) {
							got = ev
							break
						}
					}
					if got == nil {
						var list []string
						for _, ev := range evs {
							list = append(list, fmt.Sprintf("%s(%s %s/%s %s)", ev.Action, ev.ActorKind, ev.TargetType, ev.TargetID, ev.Outcome))
						}
						t.Fatalf("no %s event on %s; the request recorded %v", want.action, want.targetID, list)
					}
					var bad []string
					check := func(field, got, want string) {
						if want != "" && got != want {
							bad = append(bad, fmt.Sprintf("%s = %q, want %q", field, got, want))
						}
					}
					if !want.preAuth && got.OrgID != want.org {
						bad = append(bad, fmt.Sprintf("org = %q, want %q", got.OrgID, want.org))
					}
					check("status", got.Details["status"], want.status)
					check("actor kind", string(got.ActorKind), string(want.actorKind))
					check("actor", got.ActorID, want.actorID)
					check("target type", got.TargetType, want.targetType)
					check("outcome", string(got.Outcome), string(want.outcome))
					if !want.preAuth && (got.ActorKind == credtrack.ActorUser || got.ActorKind == credtrack.ActorToken) {
						if got.ActorRole == "" {
							bad = append(bad, "no actor role")
						}
					}
					if !want.noIP && got.IP == "" {
						bad = append(bad, "no IP")
					}
					if got.At.IsZero() || len(got.Hash) == 0 {
						bad = append(bad, "no time or hash")
					}
					details, _ := json.Marshal(got.Details)
					for _, s := range secrets {
						if strings.Contains(string(details), s) {
							bad = append(bad, fmt.Sprintf("details hold %q", s))
						}
					}
					if len(bad) > 0 {
						t.Errorf("%s event %+v:\n%s", want.action, got, strings.Join(bad, "\n"))
					}
				})
			}
		})
	}
}

// TestAuditVerifyCommandBrokenChain tampers with one event of one
// organization's chain (the append-only triggers set aside, as only the
// database's owner could) and runs `credtrack audit verify`: it names the
// first broken link and exits non-zero; --org limits the check to one
// organization, so an intact one passes.
func TestAuditVerifyCommandBrokenChain(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(t.TempDir(), "data"), "CREDTRACK_BASE_URL": "https://ct.example"}
			if backend == "postgres" {
				env["CREDTRACK_DATABASE_URL"] = storetest.PostgresDatabase(t)
			}
			steps := [][]string{
				{"migrate"},
				{"org", "create", "--name", "Alpha"},
				{"org", "create", "--name", "Bravo"},
				{"user", "create", "--email", "one@alpha.test", "--org", "Alpha", "--role", "admin", "--link"},
				{"user", "create", "--email", "two@alpha.test", "--org", "Alpha", "--role", "auditor", "--link"},
				{"user", "create", "--email", "one@bravo.test", "--org", "Bravo", "--role", "admin", "--link"},
			}
			for _, s := range steps {
				if code, out, errOut := run(t, env, "", s...); code != 0 {
					t.Fatalf("%v: %d %s %s", s, code, out, errOut)
				}
			}
			if code, out, errOut := run(t, env, "", "audit", "verify"); code != 0 || strings.Contains(out, "BROKEN") {
				t.Fatalf("audit verify before tampering: %d %s %s", code, out, errOut)
			}

			// Tamper with Alpha's third event, as the database owner.
			ctx := context.Background()
			a := openTestApp(t, env)
			alpha, err := a.resolveOrg(ctx, "Alpha")
			if err != nil {
				t.Fatal(err)
			}
			bravo, err := a.resolveOrg(ctx, "Bravo")
			if err != nil {
				t.Fatal(err)
			}
			evs, err := a.db.AuditEventsForTest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var victim *credtrack.AuditEvent
			for _, ev := range evs {
				if ev.OrgID == alpha.ID && ev.Seq == 3 {
					victim = ev
				}
			}
			if victim == nil {
				t.Fatal("Alpha has no third event")
			}
			raw := a.db.WriteDB()
			q := "UPDATE audit_events SET details = '{\"role\":\"owner\"}' WHERE id = ?"
			if a.db.Backend() == sqlstore.Postgres {
				q = strings.Replace(q, "?", "$1", 1)
				_, err = raw.ExecContext(ctx, "ALTER TABLE audit_events DISABLE TRIGGER USER")
			} else {
				_, err = raw.ExecContext(ctx, "DROP TRIGGER audit_events_no_update")
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.ExecContext(ctx, q, victim.ID); err != nil {
				t.Fatal(err)
			}
			a.Close()

			code, out, errOut := run(t, env, "", "audit", "verify")
			wantBroken := fmt.Sprintf("%s: BROKEN at event 3 (ID %s): event content does not match its hash", alpha.ID, victim.ID)
			if code == 0 || !strings.Contains(out, wantBroken) || !strings.Contains(errOut, "1 audit chain(s) failed verification") {
				t.Fatalf("audit verify after tampering: exit %d\n%s\n%s\nwant a line %q", code, out, errOut, wantBroken)
			}
			if !regexp.MustCompile(`(?m)^` + bravo.ID + `: \d+ events verified$`).MatchString(out) {
				t.Errorf("audit verify did not verify Bravo's intact chain:\n%s", out)
			}
			// --org: only the named chain is checked.
			code, out, errOut = run(t, env, "", "audit", "verify", "--org", "Bravo")
			if code != 0 || strings.Contains(out, "BROKEN") || strings.Contains(out, alpha.ID) || !strings.Contains(out, bravo.ID+": ") {
				t.Fatalf("audit verify --org Bravo: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = run(t, env, "", "audit", "verify", "--org", alpha.ID)
			if code == 0 || strings.TrimSpace(out) != wantBroken || strings.Contains(out, bravo.ID) {
				t.Fatalf("audit verify --org %s: exit %d\n%s%s", alpha.ID, code, out, errOut)
			}
		})
	}
}

// TestAuditFailClosedOverHTTP makes every read event fail to insert (a
// refusing trigger, as a full disk or a broken audit table would) and
// asks for a credential on the web page and the API: both answer 503 with
// none of the record's data.
func TestAuditFailClosedOverHTTP(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, true)
			ctx := context.Background()
			cred, prov := f.ids[f.orgA]["credentials"], f.ids[f.orgA]["providers"]
			c, _ := f.session(t, "owner")
			// The pages answer before the audit fails.
			for _, path := range []string{"/providers/" + prov, "/credentials/" + cred + "/edit"} {
				if rec := f.serve(withCookie(httptest.NewRequest("GET", path, nil), c)); rec.Code != http.StatusOK ||
					!strings.Contains(rec.Body.String(), nameA[0]) {
					t.Fatalf("GET %s with the audit working: %d", path, rec.Code)
				}
			}
			raw := f.a.db.WriteDB()
			var err error
			if f.a.db.Backend() == sqlstore.Postgres {
				if _, err = raw.ExecContext(ctx, `CREATE FUNCTION refuse_reads() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN IF NEW.action LIKE '%.read' OR NEW.action LIKE '%.listed' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$`); err == nil {
					_, err = raw.ExecContext(ctx, "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_reads()")
				}
			} else {
				_, err = raw.ExecContext(ctx, `CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_events
					WHEN NEW.action LIKE '%.read' OR NEW.action LIKE '%.listed' BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
			}
			if err != nil {
				t.Fatal(err)
			}
			leaks := append(append([]string{}, nameA...), "4471")
			for _, r := range []*http.Request{
				withCookie(httptest.NewRequest("GET", "/providers/"+prov, nil), c),
				withCookie(httptest.NewRequest("GET", "/credentials/"+cred+"/edit", nil), c),
				apiRequest("GET", "/api/v1/credentials/"+cred, f.tokens["owner"], nil),
				apiRequest("GET", "/api/v1/providers/"+prov, f.tokens["owner"], nil),
			} {
				rec := f.serve(r)
				if rec.Code != http.StatusServiceUnavailable {
					t.Errorf("GET %s with a failing audit: %d, want 503", r.URL.Path, rec.Code)
				}
				for _, s := range leaks {
					if strings.Contains(rec.Body.String(), s) {
						t.Errorf("GET %s with a failing audit shows %q", r.URL.Path, s)
					}
				}
			}
		})
	}
}
