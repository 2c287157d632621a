package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/config"
	"credtrack/internal/jobs"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/screening"
	"credtrack/internal/server"
	"credtrack/internal/storetest"
)

// TestScreeningPages drives issue 6's screening through the served pages
// on both backends, with the services as serve wires them: the real LEIE
// supplement 1701EXCL.csv is imported, the monitoring job it queues flags
// the provider whose NPI is on it, the coordinator is alerted in the app
// and by email (no NPI in either), the queue, list versions and
// monitoring progress pages show it, and the coordinator clears the
// candidate (audited), which does not come back on the next run.
func TestScreeningPages(t *testing.T) {
	excl, err := os.ReadFile("/work/shared/data/psv/leie/1701EXCL.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			cfg.DevInsecureCookies = true
			smtp := mailtest.NewServer(t)
			host, port := smtp.Addr()
			cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS, cfg.SMTPFrom = host, int64(port), "none", "credtrack@screen.test"
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
			o := &credtrack.Organization{Name: "Screening Clinic"}
			if err := a.db.CreateOrg(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", "")), o); err != nil {
				t.Fatal(err)
			}
			sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", o.ID))
			coordUser := &credtrack.User{Email: "coord@screen.test", Name: "Coord", EmailVerifiedAt: credtrack.Now()}
			if err := a.db.CreateUser(sys, coordUser); err != nil {
				t.Fatal(err)
			}
			if err := a.db.AddMembership(sys, coordUser.ID, credtrack.RoleCoordinator); err != nil {
				t.Fatal(err)
			}
			if err := a.db.MarkTOTPEnabledForTest(ctx, coordUser.ID, credtrack.Now()); err != nil {
				t.Fatal(err)
			}
			// ELITE LAB SERVICES, LLC is excluded in 1701EXCL.csv under NPI 1578549051.
			hit := &credtrack.Provider{FirstName: "Elite", LastName: "Labs", Profession: credtrack.ProfMD, NPI: "1578549051", Active: true}
			clean := &credtrack.Provider{FirstName: "Clara", LastName: "Clean", Profession: credtrack.ProfRN, NPI: "1720377294", Active: true}
			for _, p := range []*credtrack.Provider{hit, clean} {
				if err := a.db.CreateProvider(sys, p); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := a.mailer(); err != nil {
				t.Fatal(err)
			}
			authSvc := &auth.Service{Store: a.db, Hasher: a.hasher, Log: a.log, Mail: a.mail, BaseURL: a.cfg.PublicURL()}
			promReg := prometheus.NewRegistry()
			metrics := server.NewMetrics(promReg)
			h, _ := a.handler(authSvc, promReg, metrics)
			svc := a.screeningService(authSvc)
			svc.TimePass = metrics.TimePass
			runner := jobs.NewRunner(a.db, a.log, svc.JobKinds())

			if _, err := svc.Import(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", "")), bytes.NewReader(excl),
				screening.ImportOptions{Source: credtrack.ListLEIE, Origin: "1701EXCL.csv"}); err != nil {
				t.Fatal(err)
			}
			if n, err := runner.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("monitoring job: %d %v", n, err)
			}
			// A second run for the same version finds the job done.
			if n, _ := runner.RunOnce(ctx); n != 0 {
				t.Fatalf("the monitoring job ran again: %d", n)
			}

			s := &credtrack.Session{UserID: coordUser.ID, OrgID: o.ID, MFAAt: credtrack.Now(), IP: "192.0.2.1", UserAgent: "t"}
			secret, err := a.db.CreateSession(ctx, s, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			coord := &http.Cookie{Name: "sid", Value: secret}
			do := func(r *http.Request) *httptest.ResponseRecorder {
				r.AddCookie(coord)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				return rec
			}
			get := func(path string) string {
				rec := do(httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != 200 {
					t.Fatalf("GET %s: %d", path, rec.Code)
				}
				if strings.Contains(rec.Body.String(), "1578549051") {
					t.Fatalf("GET %s shows the full NPI", path)
				}
				return rec.Body.String()
			}
			queue := get("/screening")
			if !strings.Contains(queue, "Elite Labs") || strings.Contains(queue, "Clara Clean") || !strings.Contains(queue, "ELITE LAB SERVICES") {
				t.Fatalf("screening queue:\n%s", queue)
			}
			if lists := get("/screening/lists"); !strings.Contains(lists, "1701EXCL.csv") {
				t.Fatalf("list versions:\n%s", lists)
			}
			if mon := get("/screening/monitoring"); !strings.Contains(mon, "new list version") || !strings.Contains(mon, "100") {
				t.Fatalf("monitoring:\n%s", mon)
			}
			msgs := smtp.WaitFor(t, 1, 10*time.Second)
			if msgs[0].To[0] != "coord@screen.test" || strings.Contains(string(msgs[0].Raw), "1578549051") ||
				!strings.Contains(msgs[0].Text, "exclusion match") {
				t.Fatalf("alert email: %+v", msgs[0])
			}
			if al := get("/alerts"); !strings.Contains(al, "exclusion match") {
				t.Fatalf("alerts page:\n%s", al)
			}

			cands, err := a.db.FindScreeningCandidates(sys, credtrack.CandidateOpen, 10)
			if err != nil || len(cands) != 1 || cands[0].ProviderID != hit.ID {
				t.Fatalf("open candidates: %+v %v", cands, err)
			}
			rec := do(form("/screening/candidates/"+cands[0].ID+"/decide", url.Values{"decision": {"cleared"},
				"reason": {"Different entity: our provider is a physician, the entry a laboratory."}}))
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("clear: %d %s", rec.Code, rec.Body.String())
			}
			if q := get("/screening"); strings.Contains(q, "Elite Labs") {
				t.Fatal("the cleared candidate is still in the open queue")
			}
			if ev, _, err := a.db.FindAuditEvents(sys, credtrack.AuditFilter{Action: "screening.candidate.cleared"}); err != nil || len(ev) != 1 {
				t.Fatalf("cleared events: %d %v", len(ev), err)
			}
			// The scheduled (monthly) run re-screens: the cleared candidate
			// stays cleared, the list entry being unchanged.
			if err := svc.RunMonitoring(ctx, &credtrack.Job{ID: "monthly", Kind: screening.JobMonitor, Key: "monthly-test"}); err != nil {
				t.Fatal(err)
			}
			if cs, err := a.db.FindScreeningCandidates(sys, credtrack.CandidateOpen, 10); err != nil || len(cs) != 0 {
				t.Fatalf("open candidates after the monthly run: %+v %v", cs, err)
			}
		})
	}
}
