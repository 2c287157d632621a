package psv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/blob"
	"credtrack/internal/docs"
	"credtrack/internal/jobs"
	"credtrack/internal/psv"
	"credtrack/internal/psv/nppes"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// registry replays the real NPPES recording of NPI 1720377294, or
// answers 503 while down is set.
func registry(t *testing.T) (*nppes.Client, *atomic.Bool, *atomic.Int32) {
	body, err := os.ReadFile("/work/shared/data/psv/nppes-api/ropensci-npi_api-b2f594.json")
	if err != nil {
		t.Fatal(err)
	}
	down, calls := &atomic.Bool{}, &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Query().Get("number") != "1720377294" {
			w.Write([]byte(`{"result_count": 0, "results": []}`))
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	c := nppes.New(srv.URL)
	c.Fetch.Sleep = func(context.Context, time.Duration) error { return nil }
	c.Fetch.MaxAttempts = 2
	c.Fetch.Limiter.SetLimit(1e6)
	return c, down, calls
}

// alerts records the alerts raised, deduplicated by key as the store does.
type alerts struct {
	mu   sync.Mutex
	keys map[string]*credtrack.Alert
	n    int
}

func (a *alerts) Raise(ctx context.Context, al *credtrack.Alert) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	if a.keys == nil {
		a.keys = map[string]*credtrack.Alert{}
	}
	if _, ok := a.keys[al.Key]; ok {
		return false, nil
	}
	a.keys[al.Key] = al
	return true, nil
}

func TestChecksRunAsJobsAndFailingSourceMakesTasks(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		sys, org := storetest.NewOrg(t, db, "Org A")
		p := &credtrack.Provider{FirstName: "Elise", LastName: "Hiza", Profession: credtrack.ProfMD, Specialty: "Orthopaedic Surgery",
			NPI: "1720377294", Active: true}
		if err := db.CreateProvider(sys, p); err != nil {
			t.Fatal(err)
		}
		npi := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredNPI, Number: "1720377294"}
		lic := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredStateLicense, Number: "2017-01132", Jurisdiction: "NC"}
		for _, c := range []*credtrack.Credential{npi, lic} {
			if err := db.CreateCredential(sys, c); err != nil {
				t.Fatal(err)
			}
		}
		client, down, calls := registry(t)
		bs, err := blob.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		al := &alerts{}
		svc := &psv.Service{Store: db, Sources: map[string]credtrack.Source{credtrack.SourceNPPES: &nppes.Source{Client: client}},
			Docs: &docs.Service{Store: db, Blobs: bs}, Alerts: al, Now: clock.Now}
		runner := jobs.NewRunner(db, slog.New(slog.DiscardHandler), map[string]jobs.Kind{psv.JobKind: {Handler: svc.RunJob}})
		coord := storetest.As("u-coord", org.ID, credtrack.RoleCoordinator)

		// An auditor may not ask for verifications.
		if _, err := svc.RequestCheck(storetest.As("u-a", org.ID, credtrack.RoleAuditor), p.ID, "", credtrack.SourceNPPES); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Fatalf("auditor: %v", err)
		}
		check, err := svc.RequestCheck(coord, p.ID, "", credtrack.SourceNPPES)
		if err != nil || check.State != credtrack.CheckPending || check.RequestedBy != "u-coord" {
			t.Fatalf("RequestCheck = %+v, %v", check, err)
		}
		if n, err := runner.RunOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		got, _ := db.FindCheck(sys, check.ID)
		if got.State != credtrack.CheckDone || got.VerificationID == "" {
			t.Fatalf("check after the job: %+v", got)
		}
		hist, err := db.FindVerifications(coord, p.ID)
		if err != nil || len(hist) != 1 {
			t.Fatalf("history: %v %v", hist, err)
		}
		v := hist[0]
		if v.Result != credtrack.VerifyVerified || v.CredentialID != npi.ID || v.ActorID != psv.JobKind || v.RequestedBy != "u-coord" ||
			v.HTTPStatus != 200 || !v.HasResponse {
			t.Fatalf("verification: %+v", v)
		}
		if c, _ := db.FindCredentialByID(sys, npi.ID); c.VerifiedAt.IsZero() || c.VerifiedBy != "NPPES NPI Registry" {
			t.Fatalf("NPI credential freshness: %+v", c)
		}
		// The license matched: a finding says so, masked.
		var licenseFinding credtrack.Finding
		for _, f := range v.Findings {
			if f.Field == "license" {
				licenseFinding = f
			}
		}
		if !licenseFinding.Match || licenseFinding.Source != "••••1132 (NC)" {
			t.Fatalf("license finding: %+v", licenseFinding)
		}

		// The registry goes down: calls fail, and after three failures in
		// a row the source is failing and the checks become manual tasks.
		down.Store(true)
		var ids []string
		for i := 0; i < 3; i++ {
			c, err := svc.RequestCheck(coord, p.ID, "", credtrack.SourceNPPES)
			if err != nil || c.State != credtrack.CheckPending {
				t.Fatalf("check %d: %+v %v", i, c, err)
			}
			ids = append(ids, c.ID)
		}
		job := func(id string, attempt int) *credtrack.Job {
			args, _ := json.Marshal(map[string]string{"check_id": id})
			return &credtrack.Job{ID: "j-" + id, Kind: psv.JobKind, OrgID: org.ID, Args: args, Attempts: attempt}
		}
		for i, id := range ids[:2] {
			if err := svc.RunJob(context.Background(), job(id, 1)); err == nil {
				t.Fatalf("job %d on a failing registry succeeded", i)
			}
		}
		if err := svc.RunJob(context.Background(), job(ids[2], 1)); err != nil {
			t.Fatalf("third failure: %v", err)
		}
		// The third failure made the source failing: every pending check of
		// it became a manual task at once, not only the one that failed.
		if pending, err := db.FindChecks(coord, credtrack.CheckPending); err != nil || len(pending) != 0 {
			t.Fatalf("pending checks after the source failed: %d %v", len(pending), err)
		}
		before := calls.Load()
		for _, id := range ids[:2] { // their retries find the tasks made: no call
			if err := svc.RunJob(context.Background(), job(id, 2)); err != nil {
				t.Fatal(err)
			}
		}
		if calls.Load() != before {
			t.Fatal("a failing source was called again")
		}
		late, err := svc.RequestCheck(coord, p.ID, lic.ID, credtrack.SourceNPPES)
		if err != nil || late.State != credtrack.CheckManual || !strings.Contains(late.Reason, "HTTP 503") {
			t.Fatalf("check on a failing source: %+v %v", late, err)
		}
		tasks, err := db.FindChecks(coord, credtrack.CheckManual)
		if err != nil || len(tasks) != 4 {
			t.Fatalf("tasks = %d, %v", len(tasks), err)
		}
		// One alert per failing spell: raised when the source started
		// failing (three tasks made) and not again for the late check.
		if len(al.keys) != 1 || al.n != 2 {
			t.Fatalf("alerts = %d distinct of %d raised, want 1 of 2", len(al.keys), al.n)
		}
		for _, a := range al.keys {
			if a.Kind != psv.AlertKindSourceFailing || !strings.Contains(a.Title, "NPPES NPI Registry keeps failing") ||
				!strings.Contains(a.Body, "3 check(s) became manual tasks; 3 failed calls in a row (HTTP 503") || !strings.Contains(a.Body, "HTTP 503") ||
				strings.Contains(a.Body, "1720377294") || a.Link != "/verification/tasks" {
				t.Fatalf("alert: %+v", a)
			}
		}
		health, err := svc.Health(coord)
		if err != nil || len(health) != 1 || !health[0].Failing || health[0].Errors != 3 || health[0].Calls != 4 {
			t.Fatalf("health = %+v, %v", health[0], err)
		}

		// A coordinator answers the task by hand with a screenshot.
		png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 64)...)
		mv, err := svc.RecordManual(coord, psv.Manual{ProviderID: p.ID, CredentialID: lic.ID, CheckID: late.ID,
			Source: "NC Medical Board license lookup", VerifiedOn: credtrack.DateOf(clock.T), Result: credtrack.VerifyVerified,
			File: bytes.NewReader(png), Filename: "lookup.png"})
		if err != nil {
			t.Fatal(err)
		}
		if mv.DocumentID == "" {
			t.Fatal("the screenshot was not stored")
		}
		if c, _ := db.FindCheck(sys, late.ID); c.State != credtrack.CheckClosed {
			t.Fatalf("task after the manual verification: %+v", c)
		}
		if c, _ := db.FindCredentialByID(sys, lic.ID); c.VerifiedBy != "Manual verification" {
			t.Fatalf("license freshness: %+v", c)
		}
		// Bad manual inputs are refused.
		for _, m := range []psv.Manual{
			{ProviderID: p.ID, Source: "", VerifiedOn: credtrack.DateOf(clock.T), Result: credtrack.VerifyVerified},
			{ProviderID: p.ID, Source: "x", Result: credtrack.VerifyVerified},
			{ProviderID: p.ID, Source: "x", VerifiedOn: credtrack.DateOf(clock.T.Add(48 * time.Hour)), Result: credtrack.VerifyVerified},
			{ProviderID: p.ID, Source: "x", VerifiedOn: credtrack.DateOf(clock.T), Result: credtrack.VerifyError},
			{ProviderID: p.ID, CheckID: ids[0], Source: "x", VerifiedOn: credtrack.DateOf(clock.T), Result: credtrack.VerifyVerified,
				CredentialID: lic.ID},
		} {
			if _, err := svc.RecordManual(coord, m); credtrack.ErrorCode(err) != credtrack.EINVALID {
				t.Errorf("manual %+v: %v", m, err)
			}
		}
		_, _ = io.Discard.Write(nil)
	})
}
