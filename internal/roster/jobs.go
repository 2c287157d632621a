package roster

import (
	"context"
	"sync"
	"time"

	"credtrack"
)

// Jobs runs roster checks and imports in the background for the web
// pages: an upload is spooled (encrypted) and checked at once; the person
// then looks at the report and commits it in a mode of their choice,
// which runs on the same spooled file. Progress is kept in memory and
// polled by the page. Jobs live in this process only: a restart forgets
// them (their spooled files cannot be decrypted without the in-memory key
// and are removed at the next start of any job), and the person uploads
// again.
type Jobs struct {
	store Store
	// TTL is how long a finished job (and its spooled file) is kept for
	// the person to look at or commit (default 1 hour).
	TTL time.Duration
	// Today is passed to the imports (nil: UTC today).
	Today func() credtrack.Date

	mu   sync.Mutex
	jobs map[string]*Job
}

// NewJobs returns a job runner writing to store.
func NewJobs(store Store) *Jobs {
	return &Jobs{store: store, TTL: time.Hour, jobs: map[string]*Job{}}
}

// Job is one uploaded roster and what has been done with it.
type Job struct {
	ID       string
	OrgID    string
	UserID   string
	Filename string // as uploaded, for display only
	spool    *Spool

	mu        sync.Mutex
	state     string // "running" or "done"
	progress  Progress
	report    *Report
	err       error
	committed bool
	finished  time.Time
}

// JobStatus is a snapshot of a job.
type JobStatus struct {
	ID        string
	Filename  string
	Size      int64
	Running   bool
	Progress  Progress
	Report    *Report // the last finished check or import; nil while the first runs
	Err       string  // a failure of the store or the file system, for people
	Committed bool    // an import (not only a check) has run
}

// Percent is the share of the current phase done, 0–100.
func (s JobStatus) Percent() int {
	if s.Size <= 0 {
		return 100
	}
	return int(min(100, s.Progress.Bytes*100/s.Size))
}

// Start spools r and starts checking it (a dry run) as the actor in ctx.
func (js *Jobs) Start(ctx context.Context, filename string, spool *Spool) *Job {
	js.sweep()
	a := credtrack.ActorFromContext(ctx)
	j := &Job{ID: credtrack.NewID(), OrgID: a.OrgID, UserID: a.ID, Filename: filename, spool: spool}
	js.mu.Lock()
	js.jobs[j.ID] = j
	js.mu.Unlock()
	js.run(ctx, j, DryRun)
	return j
}

// Commit imports a checked job's file in mode (AllOrNothing or
// SkipInvalid). It refuses a job that is running, was already committed,
// or belongs to another organization.
func (js *Jobs) Commit(ctx context.Context, id string, mode Mode) error {
	if mode != AllOrNothing && mode != SkipInvalid {
		return credtrack.Errorf(credtrack.EINVALID, "choose all-or-nothing or skip-invalid")
	}
	j, err := js.find(ctx, id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	switch {
	case j.state == "running":
		j.mu.Unlock()
		return credtrack.Errorf(credtrack.ECONFLICT, "this file is still being processed")
	case j.committed:
		j.mu.Unlock()
		return credtrack.Errorf(credtrack.ECONFLICT, "this file has already been imported; upload it again to import it again")
	}
	j.committed = true
	j.mu.Unlock()
	js.run(ctx, j, mode)
	return nil
}

// Status returns a snapshot of a job of the actor's organization.
func (js *Jobs) Status(ctx context.Context, id string) (JobStatus, error) {
	j, err := js.find(ctx, id)
	if err != nil {
		return JobStatus{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	st := JobStatus{ID: j.ID, Filename: j.Filename, Size: j.spool.Size(), Running: j.state == "running",
		Progress: j.progress, Report: j.report, Committed: j.committed}
	if j.err != nil {
		st.Err = credtrack.ErrorMessage(j.err)
	}
	return st, nil
}

func (js *Jobs) find(ctx context.Context, id string) (*Job, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	js.mu.Lock()
	j := js.jobs[id]
	js.mu.Unlock()
	if j == nil || j.OrgID != org {
		return nil, credtrack.Errorf(credtrack.ENOTFOUND, "no such import: it may have expired (imports are kept for an hour); upload the file again")
	}
	return j, nil
}

// run starts a check or import of j in the background. The work gets its
// own context carrying the actor (the request's ends with the response).
func (js *Jobs) run(ctx context.Context, j *Job, mode Mode) {
	bg := credtrack.NewContextWithActor(context.Background(), credtrack.ActorFromContext(ctx))
	j.mu.Lock()
	j.state, j.err, j.progress = "running", nil, Progress{Phase: "checking"}
	j.mu.Unlock()
	go func() {
		rep, err := Import(bg, js.store, j.spool.Open, Options{Mode: mode, Today: js.Today, ImportID: j.ID,
			Progress: func(p Progress) {
				j.mu.Lock()
				j.progress = p
				j.mu.Unlock()
			}})
		j.mu.Lock()
		j.state, j.report, j.err, j.finished = "done", rep, err, time.Now()
		j.mu.Unlock()
		if mode != DryRun {
			j.spool.Remove() // imported (or failed): the file is no longer needed
		}
	}()
}

// sweep forgets finished jobs older than TTL and removes their files.
func (js *Jobs) sweep() {
	js.mu.Lock()
	defer js.mu.Unlock()
	for id, j := range js.jobs {
		j.mu.Lock()
		old := j.state == "done" && time.Since(j.finished) > js.TTL
		j.mu.Unlock()
		if old {
			j.spool.Remove()
			delete(js.jobs, id)
		}
	}
}
