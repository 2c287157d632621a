package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/config"
	"credtrack/internal/jobs"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/psv"
	"credtrack/internal/psv/nppes"
	"credtrack/internal/server"
	"credtrack/internal/storetest"
)

// TestVerificationPages drives the verification pages of the served
// handler on both backends, with NPPES replaced by a local server replaying
// the real registry recording: a coordinator asks for an NPI lookup, the
// job runs it, the history shows the result and the evidence page the raw
// response; then the registry fails, the checks become manual tasks, and
// the coordinator records a manual verification with a screenshot.
func TestVerificationPages(t *testing.T) {
	recording, err := os.ReadFile("/work/shared/data/psv/nppes-api/ropensci-npi_api-b2f594.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var down atomic.Bool
			reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if down.Load() {
					w.WriteHeader(http.StatusBadGateway)
					return
				}
				w.Write(recording)
			}))
			defer reg.Close()
			cfg := config.Default()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			cfg.DevInsecureCookies = true
			cfg.NPPESURL = reg.URL + "/api/"
			// Alerts are emailed through the configured SMTP server: a real
			// listener here.
			smtp := mailtest.NewServer(t)
			host, port := smtp.Addr()
			cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS, cfg.SMTPFrom = host, int64(port), "none", "credtrack@verify.test"
			if backend == "postgres" {
				cfg.DatabaseURL = storetest.PostgresDatabase(t)
			}
			m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			ctx := context.Background()
			a, err := m.openApp(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.migrateOrCheck(ctx, true); err != nil {
				t.Fatal(err)
			}
			o := &credtrack.Organization{Name: "Verifying Clinic"}
			if err := a.db.CreateOrg(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", "")), o); err != nil {
				t.Fatal(err)
			}
			sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", o.ID))
			users := map[credtrack.Role]*credtrack.User{}
			for _, role := range []credtrack.Role{credtrack.RoleCoordinator, credtrack.RoleAuditor} {
				u := &credtrack.User{Email: string(role) + "@verify.test", Name: string(role), EmailVerifiedAt: credtrack.Now()}
				if err := a.db.CreateUser(sys, u); err != nil {
					t.Fatal(err)
				}
				if err := a.db.AddMembership(sys, u.ID, role); err != nil {
					t.Fatal(err)
				}
				if err := a.db.MarkTOTPEnabledForTest(ctx, u.ID, credtrack.Now()); err != nil {
					t.Fatal(err)
				}
				users[role] = u
			}
			p := &credtrack.Provider{FirstName: "Elise", LastName: "Hiza", Profession: credtrack.ProfMD, NPI: "1720377294", Active: true,
				Specialty: "Orthopaedic Surgery"}
			if err := a.db.CreateProvider(sys, p); err != nil {
				t.Fatal(err)
			}
			npi := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredNPI, Number: "1720377294"}
			lic := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredStateLicense, Number: "2017-01132", Jurisdiction: "NC"}
			for _, c := range []*credtrack.Credential{npi, lic} {
				if err := a.db.CreateCredential(sys, c); err != nil {
					t.Fatal(err)
				}
			}
			svc := a.verification()
			// No real sleeping between retries.
			svc.Sources[credtrack.SourceNPPES].(*nppes.Source).Client.Fetch.Sleep = func(context.Context, time.Duration) error { return nil }
			authSvc := &auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log}
			promReg := prometheus.NewRegistry()
			h, _ := a.handler(authSvc, promReg, server.NewMetrics(promReg))
			runner := jobs.NewRunner(a.db, a.log, map[string]jobs.Kind{psv.JobKind: {Handler: svc.RunJob}})

			cookie := func(role credtrack.Role) *http.Cookie {
				s := &credtrack.Session{UserID: users[role].ID, OrgID: o.ID, MFAAt: credtrack.Now(), IP: "192.0.2.1", UserAgent: "t"}
				secret, err := a.db.CreateSession(ctx, s, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				return &http.Cookie{Name: "sid", Value: secret}
			}
			coord := cookie(credtrack.RoleCoordinator)
			do := func(r *http.Request, c *http.Cookie) *httptest.ResponseRecorder {
				r.AddCookie(c)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				return rec
			}
			get := func(path string, c *http.Cookie) *httptest.ResponseRecorder {
				return do(httptest.NewRequest(http.MethodGet, path, nil), c)
			}
			histURL := "/providers/" + p.ID + "/verifications"

			page := get(histURL, coord)
			if page.Code != 200 || !strings.Contains(page.Body.String(), "Look up the NPI in NPPES NPI Registry") ||
				!strings.Contains(page.Body.String(), "Never") {
				t.Fatalf("history before: %d %s", page.Code, page.Body.String())
			}
			rec := do(form("/providers/"+p.ID+"/verify", url.Values{"source": {"nppes"}}), coord)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != histURL {
				t.Fatalf("verify: %d %s", rec.Code, rec.Body.String())
			}
			if n, err := runner.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("jobs run: %d %v", n, err)
			}
			page = get(histURL, coord)
			body := page.Body.String()
			if !strings.Contains(body, "badge-result-verified") || !strings.Contains(body, "HTTP 200") || strings.Contains(body, "1720377294") {
				t.Fatalf("history after: %s", body)
			}
			// The evidence page shows the raw response to roles that may read
			// credential numbers (an auditor), and the provider page the freshness.
			list, err := a.db.FindVerifications(sys, p.ID)
			if err != nil || len(list) != 1 {
				t.Fatal(list, err)
			}
			ev := get("/verifications/"+list[0].ID, cookie(credtrack.RoleAuditor))
			if ev.Code != 200 || !strings.Contains(ev.Body.String(), "ORTHOPAEDIC") && !strings.Contains(ev.Body.String(), "Orthopaedic Surgery") {
				t.Fatalf("evidence: %d %s", ev.Code, ev.Body.String())
			}
			if strings.Contains(ev.Body.String(), "<script") || strings.Contains(ev.Body.String(), "style=") {
				t.Fatal("the evidence page carries inline script or style")
			}
			if pp := get("/providers/"+p.ID, coord).Body.String(); !strings.Contains(pp, "by NPPES NPI Registry") || !strings.Contains(pp, "/verifications") {
				t.Fatalf("provider page freshness: %s", pp)
			}

			// The registry fails: three failed calls in a row
			// (credtrack.FailingAfter) mark it failing. The runner makes the
			// first attempts: the first two fail and are queued again for
			// later; the third makes the source failing, which turns every
			// pending check of it into a manual task at once and raises one
			// alert, shown in the app and emailed to the coordinator.
			down.Store(true)
			for i := 0; i < 3; i++ {
				do(form("/providers/"+p.ID+"/verify", url.Values{"source": {"nppes"}, "credential_id": {npi.ID}}), coord)
			}
			if n, _ := runner.RunOnce(ctx); n != 3 {
				t.Fatalf("jobs run on the failing registry: %d", n)
			}
			if pending, err := a.db.FindChecks(sys, credtrack.CheckPending); err != nil || len(pending) != 0 {
				t.Fatalf("pending checks of the failing source: %d %v", len(pending), err)
			}
			msgs := smtp.WaitFor(t, 1, 10*time.Second)
			if len(msgs) != 1 || msgs[0].To[0] != "coordinator@verify.test" || !strings.Contains(msgs[0].Text, "NPPES NPI Registry keeps failing") ||
				!strings.Contains(msgs[0].Text, "3 check(s) became manual tasks; 3 failed calls in a row (HTTP 502") ||
				!strings.Contains(msgs[0].Text, "/verification/tasks") || strings.Contains(msgs[0].Text, "1720377294") {
				t.Fatalf("alert email: %+v", msgs)
			}
			if al := get("/alerts", coord).Body.String(); !strings.Contains(al, "NPPES NPI Registry keeps failing") {
				t.Fatalf("alerts page: %s", al)
			}
			// A new check of the failing source is a task at once and raises
			// no second alert (one per failing spell).
			do(form("/providers/"+p.ID+"/verify", url.Values{"source": {"nppes"}, "credential_id": {npi.ID}}), coord)
			if n, _ := runner.RunOnce(ctx); n != 0 {
				t.Fatalf("a check of a failing source was queued: %d jobs ran", n)
			}
			if ev, _, err := a.db.FindAuditEvents(sys, credtrack.AuditFilter{Action: "alert.raised"}); err != nil || len(ev) != 1 ||
				ev[0].Details["kind"] != psv.AlertKindSourceFailing || ev[0].ActorID != psv.JobKind {
				t.Fatalf("alert.raised events: %+v %v", ev, err)
			}
			tasks := get("/verification/tasks", coord)
			if tasks.Code != 200 || strings.Count(tasks.Body.String(), "Verify by hand") != 4 {
				t.Fatalf("tasks: %d %s", tasks.Code, tasks.Body.String())
			}
			src := get("/verification/sources", coord).Body.String()
			if !strings.Contains(src, "Failing") || !strings.Contains(src, "HTTP 502 after") {
				t.Fatalf("sources: %s", src)
			}
			checks, err := a.db.FindChecks(sys, credtrack.CheckManual)
			if err != nil || len(checks) != 4 {
				t.Fatal(checks, err)
			}
			formPage := get("/providers/"+p.ID+"/verify/manual?check_id="+checks[0].ID, coord)
			if formPage.Code != 200 || !strings.Contains(formPage.Body.String(), "keeps failing") {
				t.Fatalf("manual form: %d %s", formPage.Code, formPage.Body.String())
			}
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for k, v := range map[string]string{"check_id": checks[0].ID, "credential_id": npi.ID, "source": "NPPES web lookup",
				"verified_on": credtrack.DateOf(credtrack.Now()).String(), "result": "verified"} {
				mw.WriteField(k, v)
			}
			fw, _ := mw.CreateFormFile("file", "lookup.png")
			fw.Write(append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100<<10)...)) // over the 64 KiB form limit
			mw.Close()
			req := httptest.NewRequest(http.MethodPost, "/providers/"+p.ID+"/verify/manual", &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			rec = do(req, coord)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("manual: %d %s", rec.Code, rec.Body.String())
			}
			if n := strings.Count(get("/verification/tasks", coord).Body.String(), "Verify by hand"); n != 3 {
				t.Fatalf("tasks after the manual verification: %d", n)
			}
			if body := get(histURL, coord).Body.String(); !strings.Contains(body, "Manual verification: NPPES web lookup") ||
				!strings.Contains(body, "document attached") {
				t.Fatalf("history with the manual verification: %s", body)
			}
			// Freshness: a licence last verified 121 days ago is past the
			// default 120-day limit and is marked stale on the provider
			// page and the verification page; the NPI verified today is not.
			if strings.Contains(get("/providers/"+p.ID, coord).Body.String(), ">Stale<") {
				t.Fatal("a fresh credential is marked stale")
			}
			if _, err := svc.RecordManual(sys, psv.Manual{ProviderID: p.ID, CredentialID: lic.ID, Source: "NC board lookup",
				VerifiedOn: credtrack.DateOf(credtrack.Now().Add(-121 * 24 * time.Hour)), Result: credtrack.VerifyVerified}); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/providers/" + p.ID, histURL} {
				if n := strings.Count(get(path, coord).Body.String(), ">Stale<"); n != 1 {
					t.Fatalf("%s shows %d stale credentials, want the licence only", path, n)
				}
			}
			// An auditor sees the pages but cannot act.
			aud := cookie(credtrack.RoleAuditor)
			if rec := do(form("/providers/"+p.ID+"/verify", url.Values{"source": {"nppes"}}), aud); rec.Code != http.StatusForbidden {
				t.Fatalf("auditor verify: %d", rec.Code)
			}
			if b := get(histURL, aud).Body.String(); strings.Contains(b, `action="/providers/`+p.ID+`/verify"`) {
				t.Fatal("the auditor is offered Verify buttons")
			}
		})
	}
}

// TestVerifyNPICommand runs `credtrack verify npi` against a local
// registry replaying the real recording.
func TestVerifyNPICommand(t *testing.T) {
	recording, err := os.ReadFile("/work/shared/data/psv/nppes-api/provider_api-3d40bf.json")
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(recording) }))
	defer reg.Close()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := config.Default()
	cfg.DataDir = dir
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	ctx := context.Background()
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.migrateOrCheck(ctx, true); err != nil {
		t.Fatal(err)
	}
	o := &credtrack.Organization{Name: "CLI Clinic"}
	if err := a.db.CreateOrg(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", "")), o); err != nil {
		t.Fatal(err)
	}
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", o.ID))
	p := &credtrack.Provider{FirstName: "Paul", LastName: "Dewy", Profession: credtrack.ProfMD, NPI: "1760485387", Active: true}
	if err := a.db.CreateProvider(sys, p); err != nil {
		t.Fatal(err)
	}
	a.Close()
	var out, errOut bytes.Buffer
	m = &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	code := m.Run(ctx, []string{"verify", "npi", "--org", "CLI Clinic", "--provider", p.ID, "--data-dir", dir, "--nppes-url", reg.URL})
	if code != 0 || !strings.Contains(out.String(), "NPPES NPI Registry: Mismatch") ||
		!strings.Contains(out.String(), `MISMATCH last name        record "Dewy", registry "DEWEY"`) || strings.Contains(out.String(), "1760485387") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if code := m.Run(ctx, []string{"verify", "npi", "--org", "CLI Clinic", "--data-dir", dir}); code != 2 {
		t.Fatalf("without --provider: exit %d", code)
	}
}
