// Package jobs runs durable background work: a scheduler that derives due
// work from the clock and enqueues it idempotently (kind + key), and a
// worker loop that claims jobs from the database, so any number of server
// processes can run it and each job still runs once. On shutdown the loop
// stops claiming and lets the running job finish.
package jobs

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"credtrack"
)

// Store is the persistence the runner needs.
type Store interface {
	EnqueueJob(ctx context.Context, j *credtrack.Job) (bool, error)
	ClaimJob(ctx context.Context, worker string, kinds []string, lease time.Duration) (*credtrack.Job, error)
	FinishJob(ctx context.Context, id string, jobErr error, retryAfter time.Duration) error
}

// Handler runs one kind of job. It must be idempotent: a job whose worker
// died mid-way runs again after its lease.
type Handler func(ctx context.Context, j *credtrack.Job) error

// Periodic is a job kind the scheduler enqueues once per Every.
type Periodic struct {
	Kind  string
	Every time.Duration
}

// Kind couples a handler with an optional schedule.
type Kind struct {
	Handler Handler
	Every   time.Duration // 0: only run when enqueued explicitly
}

// Runner claims and runs jobs.
type Runner struct {
	store  Store
	log    *slog.Logger
	kinds  map[string]Kind
	worker string
	// Poll is how often the runner looks for due work (default 5 s).
	Poll time.Duration
	// Lease is how long a claimed job is reserved (default 5 min).
	Lease time.Duration
	// Now is the clock (default credtrack.Now).
	Now func() time.Time
	// Observe, when set, is called after every job with its kind, how
	// long its handler ran and its error (nil on success), for the job
	// metrics (server.Metrics.ObserveJob).
	Observe func(kind string, d time.Duration, err error)
}

// NewRunner returns a runner for the given kinds.
func NewRunner(store Store, log *slog.Logger, kinds map[string]Kind) *Runner {
	return &Runner{store: store, log: log, kinds: kinds, worker: "worker-" + credtrack.NewID()[:8],
		Poll: 5 * time.Second, Lease: 5 * time.Minute, Now: credtrack.Now}
}

func (r *Runner) names() []string {
	out := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Schedule enqueues the periodic kinds due at now. The key is the start of
// the current period, so every node computes the same key and the
// database keeps one job per period.
func (r *Runner) Schedule(ctx context.Context) error {
	now := r.Now().UTC()
	for _, name := range r.names() {
		k := r.kinds[name]
		if k.Every <= 0 {
			continue
		}
		period := now.Truncate(k.Every)
		if _, err := r.store.EnqueueJob(ctx, &credtrack.Job{Kind: name, Key: period.Format(time.RFC3339), RunAfter: period}); err != nil {
			return err
		}
	}
	return nil
}

// RunOnce claims and runs due jobs until none is left or ctx ends, and
// returns how many ran.
func (r *Runner) RunOnce(ctx context.Context) (int, error) {
	ran := 0
	for ctx.Err() == nil {
		j, err := r.store.ClaimJob(ctx, r.worker, r.names(), r.Lease)
		if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
			return ran, nil
		}
		if err != nil {
			return ran, err
		}
		// The handler gets a context that survives shutdown, so a job
		// that has started finishes its work instead of half-doing it.
		start := time.Now()
		jobErr := r.kinds[j.Kind].Handler(context.WithoutCancel(ctx), j)
		if r.Observe != nil {
			r.Observe(j.Kind, time.Since(start), jobErr)
		}
		retry := time.Duration(0)
		if jobErr != nil && j.Attempts < 5 {
			retry = time.Duration(j.Attempts*j.Attempts) * time.Minute
		}
		if jobErr != nil {
			r.log.Error("job failed", "kind", j.Kind, "attempt", j.Attempts, "err", jobErr)
		}
		if err := r.store.FinishJob(context.WithoutCancel(ctx), j.ID, jobErr, retry); err != nil {
			return ran, err
		}
		ran++
	}
	return ran, nil
}

// Run schedules and runs jobs every Poll until ctx is cancelled. It
// returns after the job in progress, if any, has finished.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		if err := r.Schedule(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("job scheduling failed", "err", err)
		}
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("job loop failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SessionPurger is what the built-in session purge needs.
type SessionPurger interface {
	PurgeSessions(ctx context.Context, idle time.Duration) (int, error)
}

// Builtin returns the job kinds every server runs: hourly removal of
// expired sessions (the timeouts are enforced on every request anyway;
// this only keeps the table small).
func Builtin(s SessionPurger, idle time.Duration) map[string]Kind {
	return map[string]Kind{
		"sessions.purge": {Every: time.Hour, Handler: func(ctx context.Context, _ *credtrack.Job) error {
			_, err := s.PurgeSessions(ctx, idle)
			return err
		}},
	}
}
