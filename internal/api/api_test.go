package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/api"
	"credtrack/internal/blob"
	"credtrack/internal/docs"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// lockedBuffer collects log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture is an API handler on a real store with two organizations.
type fixture struct {
	h    *api.Handler
	db   *sqlstore.DB
	logs *lockedBuffer
	// blobDir is the local blob store of the document service.
	blobDir string

	orgA string
	ctxA context.Context // a system actor in org A

	providerID, credentialID string

	coordA, auditorA, providerRoleA, expiringA, coordB string
}

// testMaxDocumentSize is the fixture's upload limit, small so that the
// over-limit tests stay small.
const testMaxDocumentSize = 256 << 10

const (
	npi       = "1234567893"
	ssn       = "900-12-3456"
	deaNumber = "BB1388568"
	firstName = "Abigail"
	lastName  = "Okafor"
)

func newFixture(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) *fixture {
	t.Helper()
	ctxA, orgA := storetest.NewOrg(t, db, "Org A")
	ctxB, _ := storetest.NewOrg(t, db, "Org B")
	f := &fixture{db: db, logs: &lockedBuffer{}, orgA: orgA.ID, ctxA: ctxA, blobDir: t.TempDir()}
	blobs, err := blob.NewLocal(f.blobDir)
	if err != nil {
		t.Fatal(err)
	}
	f.h = api.New(api.Options{Tokens: db, Providers: db, Credentials: db, Records: db, Audit: db, Orgs: db, Now: clock.Now,
		Documents: &docs.Service{Store: db, Blobs: blobs, MaxSize: testMaxDocumentSize}, MaxDocumentSize: testMaxDocumentSize,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))})

	p := &credtrack.Provider{FirstName: firstName, LastName: lastName, Profession: credtrack.ProfMD, State: "MO",
		NPI: npi, SSN: ssn, Active: true}
	if err := db.CreateProvider(ctxA, p); err != nil {
		t.Fatal(err)
	}
	today := credtrack.DateOf(clock.Now())
	c := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredDEA, Number: strings.ToLower(deaNumber), Jurisdiction: "MO",
		ExpiresOn: credtrack.Date{Time: today.AddDate(1, 0, 0)}}
	if err := db.CreateCredential(ctxA, c); err != nil {
		t.Fatal(err)
	}
	f.providerID, f.credentialID = p.ID, c.ID

	token := func(ctx context.Context, name string, role credtrack.Role, expires time.Time) string {
		t.Helper()
		secret, err := db.CreateAPIToken(ctx, &credtrack.APIToken{Name: name, Role: role, ExpiresAt: expires})
		if err != nil {
			t.Fatalf("create token %s: %v", name, err)
		}
		return secret
	}
	f.coordA = token(ctxA, "coordinator A", credtrack.RoleCoordinator, time.Time{})
	f.auditorA = token(ctxA, "auditor A", credtrack.RoleAuditor, time.Time{})
	f.providerRoleA = token(ctxA, "provider A", credtrack.RoleProvider, time.Time{})
	f.expiringA = token(ctxA, "expiring A", credtrack.RoleCoordinator, clock.Now().Add(time.Hour))
	f.coordB = token(ctxB, "coordinator B", credtrack.RoleCoordinator, time.Time{})
	return f
}

// response is a recorded answer with its body decoded.
type response struct {
	code   int
	header http.Header
	body   string
	json   map[string]any
}

// do sends one request through the handler's ServeHTTP. An empty token
// sends no Authorization header; a token with a space is sent as the whole
// header value.
func (f *fixture) do(t *testing.T, method, path, token string) response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	switch {
	case token == "":
	case strings.Contains(token, " "):
		req.Header.Set("Authorization", token)
	default:
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	r := response{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON; body %s", method, path, ct, r.body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.json); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, r.body)
	}
	return r
}

// wantError checks the status and the {"error":{"code","message"}} shape.
func (r response) wantError(t *testing.T, what string, status int, code string) {
	t.Helper()
	e, _ := r.json["error"].(map[string]any)
	if r.code != status || e == nil || e["code"] != code || e["message"] == "" || e["message"] == nil {
		t.Fatalf("%s = %d %s, want %d with error code %q", what, r.code, r.body, status, code)
	}
}

func TestAuthentication(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)

		r := f.do(t, "GET", "/api/v1/providers", "")
		r.wantError(t, "no Authorization", http.StatusUnauthorized, credtrack.EUNAUTHORIZED)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="credtrack"` {
			t.Errorf("no Authorization: WWW-Authenticate = %q", got)
		}

		for _, bad := range []string{
			"garbage",                            // not a credtrack token
			"ctk_" + strings.Repeat("A", 40),     // the right shape, but unknown
			f.coordA + "x",                       // a real token, altered
			"Basic Y29vcmQ6cGFzc3dvcmQ=",         // another scheme
			"Bearer " + strings.Repeat("x", 300), // over-long
		} {
			r := f.do(t, "GET", "/api/v1/me", bad)
			r.wantError(t, "token "+bad[:min(len(bad), 20)], http.StatusUnauthorized, credtrack.EUNAUTHORIZED)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="credtrack"`) {
				t.Errorf("token %q: WWW-Authenticate = %q", bad, r.header.Get("WWW-Authenticate"))
			}
			if strings.Contains(r.body, f.coordA) {
				t.Errorf("the token is echoed in the error: %s", r.body)
			}
		}

		// A valid token identifies its organization and role.
		r = f.do(t, "GET", "/api/v1/me", f.auditorA)
		if r.code != http.StatusOK || r.json["role"] != "auditor" || r.json["org_id"] == "" || r.json["token_id"] == "" {
			t.Fatalf("/me with the auditor token = %d %s", r.code, r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("/me Cache-Control = %q, want no-store", cc)
		}

		// The expiring token works until it expires, then is refused.
		if r := f.do(t, "GET", "/api/v1/me", f.expiringA); r.code != http.StatusOK {
			t.Fatalf("token before its expiry = %d %s", r.code, r.body)
		}
		clock.Advance(time.Hour + time.Second)
		r = f.do(t, "GET", "/api/v1/me", f.expiringA)
		r.wantError(t, "expired token", http.StatusUnauthorized, credtrack.EUNAUTHORIZED)
		if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("expired token: WWW-Authenticate = %q", got)
		}
		// The other tokens do not expire.
		if r := f.do(t, "GET", "/api/v1/me", f.coordA); r.code != http.StatusOK {
			t.Fatalf("token without expiry after the clock moved = %d %s", r.code, r.body)
		}

		// Rejected tokens and requests are audited without errors.
		if strings.Contains(f.logs.String(), "level=ERROR") {
			t.Errorf("the API logged errors:\n%s", f.logs.String())
		}
	})
}

func TestProviders(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)

		// The list: the provider with its credential, identifiers masked.
		r := f.do(t, "GET", "/api/v1/providers", f.coordA)
		if r.code != http.StatusOK {
			t.Fatalf("list = %d %s", r.code, r.body)
		}
		list, _ := r.json["providers"].([]any)
		if r.json["total"] != 1.0 || len(list) != 1 || r.json["limit"] != 50.0 || r.json["offset"] != 0.0 {
			t.Fatalf("list = %s", r.body)
		}
		p := list[0].(map[string]any)
		if p["id"] != f.providerID || p["last_name"] != lastName {
			t.Errorf("listed provider = %v", p)
		}
		creds, _ := p["credentials"].([]any)
		if len(creds) != 1 || creds[0].(map[string]any)["number_last4"] != deaNumber[5:] {
			t.Errorf("listed credentials = %v", p["credentials"])
		}
		for _, secret := range []string{npi, ssn, ssn[7:] + `"`, deaNumber, strings.ToLower(deaNumber), `"ssn`, `"dob`, `"npi":`} {
			if strings.Contains(r.body, secret) {
				t.Errorf("the list holds %q: %s", secret, r.body)
			}
		}
		if r := f.do(t, "GET", "/api/v1/providers?q=okaf&limit=10&offset=0", f.coordA); r.code != 200 || r.json["total"] != 1.0 || r.json["limit"] != 10.0 {
			t.Errorf("search = %d %s", r.code, r.body)
		}
		if r := f.do(t, "GET", "/api/v1/providers?offset=1", f.coordA); r.code != 200 || r.json["total"] != 1.0 || len(r.json["providers"].([]any)) != 0 {
			t.Errorf("past the end = %d %s", r.code, r.body)
		}

		t.Run("npi_last4 in the list", func(t *testing.T) {
			if p["npi_last4"] != npi[6:] {
				t.Errorf("the provider list has no npi_last4 (got %v, want %q)", p["npi_last4"], npi[6:])
			}
		})

		// Org B sees none of org A's providers, and cannot tell the ID exists.
		if r := f.do(t, "GET", "/api/v1/providers", f.coordB); r.code != 200 || r.json["total"] != 0.0 {
			t.Errorf("org B's list = %d %s", r.code, r.body)
		}
		r = f.do(t, "GET", "/api/v1/providers/"+f.providerID, f.coordB)
		r.wantError(t, "org A's provider with org B's token", http.StatusNotFound, credtrack.ENOTFOUND)
		unknown := f.do(t, "GET", "/api/v1/providers/"+credtrack.NewID(), f.coordB)
		unknown.wantError(t, "unknown provider", http.StatusNotFound, credtrack.ENOTFOUND)
		if r.json["error"].(map[string]any)["message"] != unknown.json["error"].(map[string]any)["message"] {
			t.Errorf("another organization's provider and a missing one answer differently: %s vs %s", r.body, unknown.body)
		}
		for _, s := range []string{firstName, lastName, npi[6:], f.credentialID} {
			if strings.Contains(r.body, s) {
				t.Errorf("the 404 for org B holds %q: %s", s, r.body)
			}
		}

		// Org A reads the provider: the full NPI is still not in the API.
		r = f.do(t, "GET", "/api/v1/providers/"+f.providerID, f.coordA)
		if r.code != http.StatusOK || r.json["first_name"] != firstName || r.json["npi_last4"] != npi[6:] {
			t.Fatalf("show = %d %s", r.code, r.body)
		}
		if strings.Contains(r.body, npi) || strings.Contains(r.body, ssn) || strings.Contains(r.body, deaNumber) {
			t.Errorf("show holds a full identifier: %s", r.body)
		}
	})
}

func TestCredentials(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)

		// An auditor reads one credential: the number masked.
		r := f.do(t, "GET", "/api/v1/credentials/"+f.credentialID, f.auditorA)
		if r.code != http.StatusOK || r.json["id"] != f.credentialID || r.json["provider_id"] != f.providerID ||
			r.json["type"] != string(credtrack.CredDEA) || r.json["number"] != nil || r.json["number_last4"] != deaNumber[5:] {
			t.Fatalf("credential for the auditor = %d %s", r.code, r.body)
		}
		if strings.Contains(r.body, deaNumber) {
			t.Errorf("the credential holds the full number without ?reveal: %s", r.body)
		}
		// The read is in the audit log, attributed to the token.
		evs, _, err := db.FindAuditEvents(storetest.As("u-aud", f.orgA, credtrack.RoleAuditor), credtrack.AuditFilter{Action: "credential.read", TargetID: f.credentialID})
		if err != nil || len(evs) != 1 || evs[0].ActorKind != credtrack.ActorToken || evs[0].ActorRole != credtrack.RoleAuditor {
			t.Errorf("audit of the credential read = %v, %v", evs, err)
		}

		// Another organization's token gets a plain 404.
		r = f.do(t, "GET", "/api/v1/credentials/"+f.credentialID, f.coordB)
		r.wantError(t, "org A's credential with org B's token", http.StatusNotFound, credtrack.ENOTFOUND)
		if strings.Contains(r.body, deaNumber) || strings.Contains(r.body, deaNumber[5:]) {
			t.Errorf("the 404 holds the number: %s", r.body)
		}
	})
}

// TestProviderRoleToken: a provider-role token may call the "own record"
// routes, but a token is linked to no provider record, so it reaches none.
func TestProviderRoleToken(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)

		r := f.do(t, "GET", "/api/v1/providers", f.providerRoleA)
		for _, s := range []string{f.providerID, firstName, lastName} {
			if strings.Contains(r.body, s) {
				t.Fatalf("a provider-role token lists providers: %d %s", r.code, r.body)
			}
		}
		t.Run("list is empty, not refused", func(t *testing.T) {
			if r.code == http.StatusForbidden {
				t.Errorf("a provider-role token's list is refused: %s", r.body)
			}
			if r.code != http.StatusOK || r.json["total"] != 0.0 || len(r.json["providers"].([]any)) != 0 {
				t.Errorf("provider-role token lists providers: %d %s, want 200 with no results", r.code, r.body)
			}
		})
		r = f.do(t, "GET", "/api/v1/providers/"+f.providerID, f.providerRoleA)
		r.wantError(t, "provider-role token reads a provider", http.StatusNotFound, credtrack.ENOTFOUND)
		r = f.do(t, "GET", "/api/v1/credentials/"+f.credentialID, f.providerRoleA)
		r.wantError(t, "provider-role token reads a credential", http.StatusNotFound, credtrack.ENOTFOUND)
		if strings.Contains(r.body, deaNumber) {
			t.Errorf("the 404 holds the number: %s", r.body)
		}
	})
}

func TestRoutingAndParameters(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)

		// Unknown routes get the JSON shape, with or without a token.
		for _, tok := range []string{"", f.coordA} {
			f.do(t, "GET", "/api/v1/nope", tok).wantError(t, "GET /api/v1/nope", http.StatusNotFound, credtrack.ENOTFOUND)
		}
		// A known path with the wrong method: 405 with Allow.
		r := f.do(t, "PUT", "/api/v1/providers", f.coordA)
		r.wantError(t, "PUT /api/v1/providers", http.StatusMethodNotAllowed, credtrack.EMETHOD)
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
			t.Errorf("405 Allow = %q, want GET and POST", allow)
		}
		f.do(t, "DELETE", "/api/v1/me", f.coordA).wantError(t, "DELETE /api/v1/me",
			http.StatusMethodNotAllowed, credtrack.EMETHOD)

		for _, q := range []string{"limit=abc", "limit=-1", "offset=x", "limit=1.5"} {
			f.do(t, "GET", "/api/v1/providers?"+q, f.coordA).wantError(t, "?"+q, http.StatusBadRequest, credtrack.EINVALID)
		}
		// Limits over the maximum are clamped, and say so.
		if r := f.do(t, "GET", "/api/v1/providers?limit=100000", f.coordA); r.code != 200 || r.json["limit"] != 500.0 {
			t.Errorf("?limit=100000 = %d %s", r.code, r.body)
		}
		t.Run("limit=0 reports the limit applied", func(t *testing.T) {
			second := &credtrack.Provider{FirstName: "Bea", LastName: "Zimmer", Profession: credtrack.ProfRN, Active: true}
			if err := db.CreateProvider(f.ctxA, second); err != nil {
				t.Fatal(err)
			}
			r := f.do(t, "GET", "/api/v1/providers?limit=0", f.coordA)
			n := len(r.json["providers"].([]any))
			if r.code != 200 || n != 2 {
				t.Fatalf("?limit=0 = %d %s", r.code, r.body)
			}
			if lim, _ := r.json["limit"].(float64); float64(n) > lim {
				t.Errorf("?limit=0 answers %d providers with \"limit\": %v", n, r.json["limit"])
			}
		})
	})
}

// TestStatusUsesTheOrganizationsWindow: the ?status= filter (the store)
// uses the organization's expiring window; the status the API shows must
// use the same window, or a filtered list shows other statuses.
func TestStatusUsesTheOrganizationsWindow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		sys := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", ""))
		org := &credtrack.Organization{Name: "Short window", ExpiringWindowDays: 30}
		if err := db.CreateOrg(sys, org); err != nil {
			t.Fatal(err)
		}
		ctx := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", org.ID))
		p := &credtrack.Provider{FirstName: "Cai", LastName: "Window", Profession: credtrack.ProfOther, Active: true}
		if err := db.CreateProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
		// Expires in 60 days: outside a 30-day window, inside the default 90.
		c := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredOther, Number: "X-1",
			ExpiresOn: credtrack.Date{Time: credtrack.DateOf(clock.Now()).AddDate(0, 0, 60)}}
		if err := db.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		tok, err := db.CreateAPIToken(ctx, &credtrack.APIToken{Name: "coordinator", Role: credtrack.RoleCoordinator})
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{h: api.New(api.Options{Tokens: db, Providers: db, Credentials: db, Audit: db, Orgs: db, Now: clock.Now})}
		r := f.do(t, "GET", "/api/v1/providers?status=expiring", tok)
		if r.code != 200 || r.json["total"] != 0.0 {
			t.Fatalf("?status=expiring in a 30-day window = %d %s", r.code, r.body)
		}
		r = f.do(t, "GET", "/api/v1/providers?status=pending", tok)
		list, _ := r.json["providers"].([]any)
		if r.code != 200 || len(list) != 1 {
			t.Fatalf("?status=pending = %d %s", r.code, r.body)
		}
		if got := list[0].(map[string]any)["status"]; got != "pending" {
			t.Errorf("?status=pending lists a provider whose status shows as %q", got)
		}
	})
}
