package jobs_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/jobs"
	"credtrack/internal/server"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// scrape returns the /metrics text of m.
func scrape(t *testing.T, m *server.Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

// TestJobMetrics: the runner reports every run and failure by kind, and
// the queue-depth gauges read the jobs table at scrape time.
func TestJobMetrics(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		m := server.NewMetrics(nil)
		m.RegisterJobQueue(db.JobCounts)
		r := jobs.NewRunner(db, quiet, map[string]jobs.Kind{
			"good": {Handler: func(context.Context, *credtrack.Job) error { return nil }},
			"bad":  {Handler: func(context.Context, *credtrack.Job) error { return errors.New("upstream down") }},
		})
		r.Now = clock.Now
		r.Observe = m.ObserveJob
		for _, k := range []string{"good", "good", "bad"} {
			if _, err := db.EnqueueJob(ctx, &credtrack.Job{Kind: k, Key: credtrack.NewID()}); err != nil {
				t.Fatal(err)
			}
		}
		// One job due later, which counts as queued but not as due.
		if _, err := db.EnqueueJob(ctx, &credtrack.Job{Kind: "good", Key: "later", RunAfter: clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		before := scrape(t, m)
		for _, want := range []string{`credtrack_jobs{state="queued"} 4`, "credtrack_jobs_due 3"} {
			if !strings.Contains(before, want) {
				t.Errorf("before the run, metrics lack %q", want)
			}
		}
		if n, err := r.RunOnce(ctx); err != nil || n != 3 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		after := scrape(t, m)
		for _, want := range []string{
			`credtrack_jobs_run_total{kind="good",outcome="ok"} 2`,
			`credtrack_jobs_run_total{kind="bad",outcome="failed"} 1`,
			`credtrack_job_failures_total{kind="bad"} 1`,
			`credtrack_job_duration_seconds_count{kind="good"} 2`,
			`credtrack_jobs{state="done"} 2`,
			// The failed job is queued again for a retry, later.
			`credtrack_jobs{state="queued"} 2`,
			"credtrack_jobs_due 0",
		} {
			if !strings.Contains(after, want) {
				t.Errorf("after the run, metrics lack %q", want)
			}
		}
	})
}
