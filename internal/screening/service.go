package screening

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"credtrack"
	"credtrack/internal/jobs"
)

// Store is the persistence the service needs (internal/sqlstore.DB).
type Store interface {
	SaveListVersion(ctx context.Context, v *credtrack.ListVersion, entries []*credtrack.ListEntry) error
	RecordListImportFailure(ctx context.Context, source credtrack.ListSource, origin, reason string) error
	CurrentListVersion(ctx context.Context, source credtrack.ListSource) (*credtrack.ListVersion, error)
	ListVersionBySHA(ctx context.Context, source credtrack.ListSource, sha string) (*credtrack.ListVersion, error)
	LoadListEntries(ctx context.Context, versionID string) ([]*credtrack.ListEntry, error)
	EnqueueJob(ctx context.Context, j *credtrack.Job) (bool, error)
	MonitoringOrgIDs(ctx context.Context) ([]string, error)
	ScreeningSubjects(ctx context.Context) ([]*credtrack.Provider, error)
	SaveScreeningResults(ctx context.Context, runID string, screened int, cands []*credtrack.ScreeningCandidate) ([]*credtrack.ScreeningCandidate, error)
	StartMonitoringRun(ctx context.Context, run *credtrack.MonitoringRun) (*credtrack.MonitoringRun, error)
	UpdateMonitoringRun(ctx context.Context, run *credtrack.MonitoringRun, jobID string) error
	RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error
}

// Alerter raises alerts (internal/alerts.Service).
type Alerter interface {
	Raise(ctx context.Context, a *credtrack.Alert) (bool, error)
}

// JobMonitor is the job kind of the monitoring run.
const JobMonitor = "screening.monitor"

// MonitorEvery is how often the monitoring job runs without a new list:
// "at least monthly".
const MonitorEvery = 30 * 24 * time.Hour

// Service imports lists and screens organizations.
type Service struct {
	Store  Store
	Alerts Alerter // nil: no alerts (tests of the store parts)
	Log    *slog.Logger
	// Now is the clock (default credtrack.Now).
	Now func() time.Time
	// TimePass, when set, times each monitoring run
	// (server.Metrics.TimePass: the "screening" series of
	// credtrack_pass_duration_seconds).
	TimePass func(pass string) func(err error)

	mu  sync.Mutex
	ix  *Index
	key string // the versions ix was built from
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return credtrack.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// ImportOptions describe one import.
type ImportOptions struct {
	Source credtrack.ListSource
	// Kind is what the file does; "" guesses it from Origin's file name
	// (see GuessKind) and refuses to guess for an LEIE file named otherwise.
	Kind credtrack.ListImportKind
	// Origin is the file name or URL, recorded with the version (a URL's
	// query string, which may hold an API key, is dropped).
	Origin string
	// Force accepts a full list much shorter than the one in force
	// (normally refused as a probable mistake: a supplement given as full).
	Force bool
}

// Import reads a list file, validates all of it, builds the new version
// (a full file replaces the list; a supplement is applied to the version
// in force) and switches to it atomically, then queues the monitoring run
// for the new version. A refused file changes nothing: the version in
// force stays, and the refusal is audited.
func (s *Service) Import(ctx context.Context, r io.Reader, o ImportOptions) (*credtrack.ListVersion, error) {
	o.Origin = cleanOrigin(o.Origin)
	v, err := s.importList(ctx, r, o)
	if err != nil {
		if aerr := s.Store.RecordListImportFailure(ctx, o.Source, o.Origin, credtrack.ErrorMessage(err)); aerr != nil {
			s.log().Error("cannot audit a refused list import", "err", aerr)
		}
		return nil, err
	}
	if _, err := s.Store.EnqueueJob(ctx, &credtrack.Job{Kind: JobMonitor, Key: "version:" + v.ID}); err != nil {
		return v, fmt.Errorf("the list was imported, but the monitoring run could not be queued: %w", err)
	}
	return v, nil
}

func (s *Service) importList(ctx context.Context, r io.Reader, o ImportOptions) (*credtrack.ListVersion, error) {
	if o.Kind == "" {
		k, ok := GuessKind(o.Source, o.Origin)
		if !ok {
			return nil, credtrack.Errorf(credtrack.EINVALID, "cannot tell from the name %q whether this LEIE file is the full list (UPDATED.csv) or a monthly supplement (YYMMEXCL.csv, YYMMREIN.csv): say it with --kind full|exclusions|reinstatements", o.Origin)
		}
		o.Kind = k
	}
	if o.Source == credtrack.ListSAM && o.Kind != credtrack.ListFull {
		return nil, credtrack.Errorf(credtrack.EINVALID, "a SAM extract is always the full list")
	}
	p, err := Parse(o.Source, r)
	if err != nil {
		return nil, err
	}
	if prev, err := s.Store.ListVersionBySHA(ctx, o.Source, p.SHA256); err == nil {
		return nil, credtrack.Errorf(credtrack.ECONFLICT, "this file was already imported on %s (version %s): nothing changed",
			prev.ImportedAt.Format("2006-01-02 15:04 MST"), prev.ID)
	} else if credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
		return nil, err
	}
	cur, err := s.Store.CurrentListVersion(ctx, o.Source)
	if err != nil && credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
		return nil, err
	}
	var base []*credtrack.ListEntry
	v := &credtrack.ListVersion{Source: o.Source, Kind: o.Kind, Origin: o.Origin, SHA256: p.SHA256, FileRows: p.Rows}
	if cur != nil {
		v.BaseID = cur.ID
		if o.Kind != credtrack.ListFull {
			if base, err = s.Store.LoadListEntries(ctx, cur.ID); err != nil {
				return nil, err
			}
		}
	}
	if o.Kind == credtrack.ListReinstatements {
		for _, e := range p.Entries {
			if e.ReinDate.IsZero() {
				return nil, credtrack.Errorf(credtrack.EINVALID, "a row of this reinstatement file has no REINDATE: it is not a REIN supplement")
			}
		}
	}
	entries, added, removed := Apply(o.Kind, base, p.Entries)
	if o.Kind == credtrack.ListFull {
		v.BaseID = ""
		if cur != nil {
			removed = cur.Entries
		}
		if cur != nil && !o.Force && len(entries) < cur.Entries/2 {
			return nil, credtrack.Errorf(credtrack.EINVALID, "this full list has %d entries, less than half of the %d in force: if it is a monthly supplement, import it with --kind exclusions or reinstatements; if it really is the full list, use --force",
				len(entries), cur.Entries)
		}
	}
	v.Added, v.Removed = added, removed
	if err := s.Store.SaveListVersion(ctx, v, entries); err != nil {
		return nil, err
	}
	return v, nil
}

// cleanOrigin drops a URL's query and fragment (a SAM download URL holds
// the API key) and user information.
func cleanOrigin(o string) string {
	if i := strings.IndexAny(o, "?#"); i >= 0 {
		o = o[:i]
	}
	if i := strings.Index(o, "://"); i >= 0 {
		if at := strings.IndexByte(o[i+3:], '@'); at >= 0 && !strings.Contains(o[i+3:i+3+at], "/") {
			o = o[:i+3] + o[i+3+at+1:]
		}
	}
	if len(o) > 300 {
		o = o[:300]
	}
	return o
}

// Index returns the index of the lists in force, rebuilt only when a
// version changed.
func (s *Service) Index(ctx context.Context) (*Index, error) {
	var vers []*credtrack.ListVersion
	key := ""
	for _, src := range credtrack.ListSources {
		v, err := s.Store.CurrentListVersion(ctx, src)
		if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
			key += string(src) + ":-;"
			continue
		}
		if err != nil {
			return nil, err
		}
		vers = append(vers, v)
		key += string(src) + ":" + v.ID + ";"
	}
	today := credtrack.DateOf(s.now())
	key += today.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ix != nil && s.key == key {
		return s.ix, nil
	}
	var all []*credtrack.ListEntry
	for _, v := range vers {
		es, err := s.Store.LoadListEntries(ctx, v.ID)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
	}
	ix := NewIndex(all, today)
	for _, v := range vers {
		ix.Versions[v.Source] = v.ID
	}
	s.ix, s.key = ix, key
	return ix, nil
}

// ScreenOrg screens every active provider of the organization in ctx
// against ix and records the results under runID. It returns how many
// providers were screened and the new or reopened candidates.
func (s *Service) ScreenOrg(ctx context.Context, ix *Index, runID string) (int, []*credtrack.ScreeningCandidate, error) {
	provs, err := s.Store.ScreeningSubjects(ctx)
	if err != nil {
		return 0, nil, err
	}
	subjects := make([]*Subject, len(provs))
	names := map[string]string{}
	for i, p := range provs {
		subjects[i] = &Subject{ProviderID: p.ID, OrgID: p.OrgID, FirstName: p.FirstName, LastName: p.LastName,
			NPI: p.NPI, State: p.State, DOB: p.DOB}
		names[p.ID] = strings.TrimSpace(p.FirstName + " " + p.LastName)
	}
	matches := ix.ScreenAll(subjects)
	cands := make([]*credtrack.ScreeningCandidate, 0, len(matches))
	for _, m := range matches {
		cands = append(cands, &credtrack.ScreeningCandidate{ProviderID: m.ProviderID, ProviderName: names[m.ProviderID],
			Source: m.Entry.Source, EntryKey: m.Entry.Key, EntryHash: m.Entry.Hash, ListVersionID: ix.Versions[m.Entry.Source],
			Score: m.Score, Reasons: m.Reasons, Entry: *m.Entry})
	}
	fresh, err := s.Store.SaveScreeningResults(ctx, runID, len(provs), cands)
	return len(provs), fresh, err
}

// JobKinds returns the monitoring job for the runner: run explicitly for
// each new list version (Import queues it) and scheduled every
// MonitorEvery.
func (s *Service) JobKinds() map[string]jobs.Kind {
	return map[string]jobs.Kind{JobMonitor: {Every: MonitorEvery, Handler: s.RunMonitoring}}
}

// RunMonitoring is the monitoring job: it re-screens every active provider
// of every organization, one organization per transaction, recording its
// progress so that a job interrupted (its worker died) resumes after the
// last organization finished. A new hit raises an alert for the
// organization's coordinators (and its candidate was audited). A list in
// force older than credtrack.ListMaxAge raises a "list.stale" alert in
// every organization. The job key (kind, key unique in the jobs table)
// makes each list version's run happen once even with several servers on
// one database; the run row keeps its progress.
func (s *Service) RunMonitoring(ctx context.Context, j *credtrack.Job) (err error) {
	if s.TimePass != nil {
		done := s.TimePass("screening")
		defer func() { done(err) }()
	}
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor(JobMonitor, ""))
	ix, err := s.Index(sys)
	if err != nil {
		return err
	}
	if len(ix.Versions) == 0 {
		return nil // no list imported yet: nothing to screen against
	}
	trigger := "schedule"
	if strings.HasPrefix(j.Key, "version:") {
		trigger = "new list version"
	}
	run, err := s.Store.StartMonitoringRun(sys, &credtrack.MonitoringRun{ID: j.Key, Trigger: trigger,
		LEIE: ix.Versions[credtrack.ListLEIE], SAM: ix.Versions[credtrack.ListSAM]})
	if err != nil {
		return err
	}
	if run.State == "done" {
		return nil
	}
	run.State, run.Error = "running", ""
	run.LEIE, run.SAM = ix.Versions[credtrack.ListLEIE], ix.Versions[credtrack.ListSAM]
	orgs, err := s.Store.MonitoringOrgIDs(sys)
	if err != nil {
		return err
	}
	run.OrgsTotal = len(orgs)
	stale := s.staleLists(sys)
	for _, org := range orgs {
		if run.Cursor != "" && org <= run.Cursor {
			continue // done before an interruption
		}
		octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor(JobMonitor, org))
		n, fresh, err := s.ScreenOrg(octx, ix, run.ID)
		if err != nil {
			run.State, run.Error = "failed", credtrack.ErrorMessage(err)
			_ = s.Store.UpdateMonitoringRun(sys, run, j.ID)
			return err
		}
		s.alertHits(octx, fresh)
		for _, st := range stale {
			s.raise(octx, &credtrack.Alert{Kind: "list.stale", Key: "list.stale:" + st.ID, Severity: credtrack.AlertWarning,
				Title: fmt.Sprintf("The %s exclusion list is %d days old", strings.ToUpper(string(st.Source)), int(s.now().Sub(st.ImportedAt).Hours()/24)),
				Body:  "A monthly import was missed: import the current file (credtrack lists import) so that screening stays current.",
				Link:  "/screening/lists"})
		}
		run.OrgsDone++
		run.Providers += n
		run.NewHits += len(fresh)
		run.Cursor = org
		if err := s.Store.UpdateMonitoringRun(sys, run, j.ID); err != nil {
			return err
		}
	}
	run.State = "done"
	if err := s.Store.UpdateMonitoringRun(sys, run, j.ID); err != nil {
		return err
	}
	return s.Store.RecordEvent(sys, &credtrack.AuditEvent{Action: "monitoring.finished", TargetType: "monitoring_run", TargetID: run.ID,
		Outcome: credtrack.OutcomeSuccess, Details: map[string]string{"orgs": fmt.Sprint(run.OrgsDone), "providers": fmt.Sprint(run.Providers),
			"new_hits": fmt.Sprint(run.NewHits), "leie": run.LEIE, "sam": run.SAM}})
}

// staleLists returns the lists in force older than credtrack.ListMaxAge.
func (s *Service) staleLists(ctx context.Context) []*credtrack.ListVersion {
	var out []*credtrack.ListVersion
	for _, src := range credtrack.ListSources {
		v, err := s.Store.CurrentListVersion(ctx, src)
		if err == nil && s.now().Sub(v.ImportedAt) > credtrack.ListMaxAge {
			out = append(out, v)
		}
	}
	return out
}

func (s *Service) alertHits(ctx context.Context, fresh []*credtrack.ScreeningCandidate) {
	for _, c := range fresh {
		sev := credtrack.AlertWarning
		if c.Score >= 90 {
			sev = credtrack.AlertCritical
		}
		var why []string
		for _, r := range c.Reasons {
			why = append(why, ReasonText(r))
		}
		s.raise(ctx, &credtrack.Alert{Kind: "screening.hit", Key: "screening.hit:" + c.ID + ":" + c.EntryHash, Severity: sev,
			Title: fmt.Sprintf("Possible %s exclusion match for a provider (score %d)", strings.ToUpper(string(c.Source)), c.Score),
			Body:  "Match: " + strings.Join(why, "; ") + ". Clear or confirm it in the screening queue.",
			Link:  "/screening"})
	}
}

func (s *Service) raise(ctx context.Context, a *credtrack.Alert) {
	if s.Alerts == nil {
		return
	}
	if _, err := s.Alerts.Raise(ctx, a); err != nil {
		s.log().Error("cannot raise an alert", "kind", a.Kind, "err", err)
	}
}

// ListAge describes the list versions in force for the pages.
type ListAge struct {
	Source  credtrack.ListSource
	Version *credtrack.ListVersion // nil when never imported
	Days    int
	Stale   bool
}

// ListAges returns the age of each list in force.
func (s *Service) ListAges(ctx context.Context) ([]ListAge, error) {
	var out []ListAge
	for _, src := range credtrack.ListSources {
		v, err := s.Store.CurrentListVersion(ctx, src)
		if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
			out = append(out, ListAge{Source: src, Stale: true})
			continue
		}
		if err != nil {
			return nil, err
		}
		age := s.now().Sub(v.ImportedAt)
		out = append(out, ListAge{Source: src, Version: v, Days: int(age.Hours() / 24), Stale: age > credtrack.ListMaxAge})
	}
	return out, nil
}
