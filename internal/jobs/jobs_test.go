package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/jobs"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestEnqueueIsIdempotent(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		for i, want := range []bool{true, false} {
			added, err := db.EnqueueJob(ctx, &credtrack.Job{Kind: "k", Key: "2026-11"})
			if err != nil || added != want {
				t.Fatalf("enqueue %d: added=%v err=%v", i, added, err)
			}
		}
	})
}

// TestClaimOnce: several workers claiming at once never take the same job,
// and a job whose lease ran out is claimed again.
func TestClaimOnce(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		const n = 20
		for i := 0; i < n; i++ {
			if _, err := db.EnqueueJob(ctx, &credtrack.Job{Kind: "k", Key: credtrack.NewID()}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					j, err := db.ClaimJob(ctx, "w", []string{"k"}, time.Minute)
					if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seen[j.ID]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d distinct jobs, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("job %s claimed %d times", id, c)
			}
		}
		// Nothing is claimable until the leases run out.
		if _, err := db.ClaimJob(ctx, "w", []string{"k"}, time.Minute); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("claim during lease: %v", err)
		}
		clock.Advance(2 * time.Minute)
		j, err := db.ClaimJob(ctx, "w2", []string{"k"}, time.Minute)
		if err != nil || j.Attempts != 2 {
			t.Fatalf("reclaim after lease: %+v, %v", j, err)
		}
	})
}

func TestRunnerRunsAndRetries(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		calls := 0
		r := jobs.NewRunner(db, quiet, map[string]jobs.Kind{
			"flaky": {Every: time.Hour, Handler: func(context.Context, *credtrack.Job) error {
				calls++
				if calls == 1 {
					return errors.New("first attempt fails")
				}
				return nil
			}},
		})
		r.Now = clock.Now
		if err := r.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Schedule(ctx); err != nil { // same hour: no second job
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); err != nil || n != 1 || calls != 1 {
			t.Fatalf("RunOnce = %d, %v (calls %d)", n, err, calls)
		}
		if n, _ := r.RunOnce(ctx); n != 0 {
			t.Fatal("a failed job was retried before its backoff")
		}
		clock.Advance(2 * time.Minute)
		if n, err := r.RunOnce(ctx); err != nil || n != 1 || calls != 2 {
			t.Fatalf("retry: %d, %v (calls %d)", n, err, calls)
		}
	})
}

func TestPurgeSessions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx, org := storetest.NewOrg(t, db, "Org")
		u := &credtrack.User{Email: "a@example.org"}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateSession(ctx, &credtrack.Session{UserID: u.ID, OrgID: org.ID}, 12*time.Hour); err != nil {
			t.Fatal(err)
		}
		r := jobs.NewRunner(db, quiet, jobs.Builtin(db, 30*time.Minute))
		r.Now = clock.Now
		clock.Advance(31 * time.Minute)
		if err := r.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if n, err := db.PurgeSessions(ctx, 30*time.Minute); err != nil || n != 0 {
			t.Fatalf("sessions left after the purge job: %d, %v", n, err)
		}
	})
}
