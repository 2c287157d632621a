package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"credtrack"
)

// Screening serves the exclusion screening pages: the queue of open
// candidates with their decisions, the list versions with their import
// history and age, the monitoring runs, and the organization's alerts.
// Every method that touches tenant data acts in the organization of the
// actor in ctx and audits itself; list versions and monitoring runs are
// global data (the route's policy guards them and the request is audited
// by the middleware). It is implemented by the store.
type Screening interface {
	FindScreeningCandidates(ctx context.Context, status string, limit int) ([]*credtrack.ScreeningCandidate, error)
	DecideScreeningCandidate(ctx context.Context, id, decision, reason string) error
	ListVersions(ctx context.Context, limit int) ([]*credtrack.ListVersion, error)
	FindMonitoringRuns(ctx context.Context, limit int) ([]*credtrack.MonitoringRun, error)
	FindAlerts(ctx context.Context, openOnly bool, limit int) ([]*credtrack.Alert, error)
	CountOpenAlerts(ctx context.Context) (int, error)
	AcknowledgeAlert(ctx context.Context, id string) error
}

func init() {
	pageNames = append(pageNames, "screening", "screening_lists", "screening_monitoring", "alerts")
	flashes["candidate-cleared"] = Flash{Kind: "info", Text: "The candidate was cleared: it will not come back unless its list entry changes."}
	flashes["candidate-confirmed"] = Flash{Kind: "info", Text: "The match was confirmed. Act on the exclusion (suspend privileges, notify payers) and document it."}
	flashes["alert-acknowledged"] = Flash{Kind: "info", Text: "The alert was acknowledged."}
}

// requireScreening answers 503 when no screening service is configured.
func (h *Handler) requireScreening(w http.ResponseWriter, r *http.Request) bool {
	if h.screening == nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EUNAVAILABLE, "Exclusion screening is not available."))
		return false
	}
	return true
}

func (h *Handler) newScreeningPage(w http.ResponseWriter, r *http.Request, title, tab string) orgPage {
	p := orgPage{Page: h.newPage(w, r, title, "screening")}
	for _, t := range []struct{ href, label string }{
		{"/screening", "Queue"}, {"/screening/lists", "Lists"}, {"/screening/monitoring", "Monitoring"},
	} {
		p.Tabs = append(p.Tabs, orgNav{Href: t.href, Label: t.label, Current: t.href == tab})
	}
	return p
}

// listAge is one list's version in force, for the warnings.
type listAge struct {
	Source  string
	Version string
	Date    string
	Days    int
	Stale   bool
	Missing bool
}

func listAges(vs []*credtrack.ListVersion, now time.Time) []listAge {
	var out []listAge
	for _, src := range credtrack.ListSources {
		a := listAge{Source: strings.ToUpper(string(src)), Missing: true, Stale: true}
		for _, v := range vs {
			if v.Source == src && v.InForce {
				age := now.Sub(v.ImportedAt)
				a = listAge{Source: a.Source, Version: v.ID, Date: stamp(v.ImportedAt), Days: int(age.Hours() / 24),
					Stale: age > credtrack.ListMaxAge}
			}
		}
		out = append(out, a)
	}
	return out
}

// candidateRow is one line of the screening queue.
type candidateRow struct {
	ID, ProviderID, Provider, Source, Entry, Detail, Reasons, Version, Found, Status, Decision string
	Score                                                                                      int
	Listed                                                                                     bool
}

type screeningPage struct {
	orgPage
	Ages      []listAge
	Rows      []candidateRow
	Status    string
	CanDecide bool
}

func maskNPI(n string) string {
	if len(n) < 4 {
		return ""
	}
	return "••••" + n[len(n)-4:]
}

// handleScreening shows the candidates (open by default) with their
// clear/confirm forms.
func (h *Handler) handleScreening(w http.ResponseWriter, r *http.Request) {
	if !h.requireScreening(w, r) {
		return
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "", credtrack.CandidateOpen:
		status = credtrack.CandidateOpen
	case credtrack.CandidateCleared, credtrack.CandidateConfirmed, "all":
	default:
		status = credtrack.CandidateOpen
	}
	q := status
	if q == "all" {
		q = ""
	}
	cs, err := h.screening.FindScreeningCandidates(r.Context(), q, 200)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	vs, err := h.screening.ListVersions(r.Context(), 50)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := screeningPage{orgPage: h.newScreeningPage(w, r, "Exclusion screening", "/screening"), Status: status,
		Ages: listAges(vs, credtrack.Now())}
	p.CanDecide = p.Actor.Can(credtrack.PermVerificationRun)
	for _, c := range cs {
		e := c.Entry
		var why []string
		for _, rs := range c.Reasons {
			why = append(why, reasonText(rs))
		}
		detail := []string{}
		if e.DOB.String() != "" {
			detail = append(detail, "born "+e.DOB.String())
		}
		if e.City != "" || e.State != "" {
			detail = append(detail, strings.TrimSpace(e.City+" "+e.State))
		}
		if e.NPI != "" {
			detail = append(detail, "NPI "+maskNPI(e.NPI))
		}
		if e.ExclType != "" {
			detail = append(detail, e.ExclType)
		}
		if e.ExclDate.String() != "" {
			detail = append(detail, "since "+e.ExclDate.String())
		}
		if e.Agency != "" {
			detail = append(detail, e.Agency)
		}
		p.Rows = append(p.Rows, candidateRow{ID: c.ID, ProviderID: c.ProviderID, Provider: c.ProviderName,
			Source: strings.ToUpper(string(c.Source)), Entry: e.DisplayName(), Detail: strings.Join(detail, " · "),
			Reasons: strings.Join(why, "; "), Version: c.ListVersionID, Found: stamp(c.CreatedAt), Status: c.Status,
			Decision: c.Decision, Score: c.Score, Listed: c.Listed})
	}
	h.render(w, r, http.StatusOK, "screening", p)
}

func reasonText(r string) string {
	switch r {
	case "npi":
		return "NPI matches"
	case "name+dob":
		return "name and date of birth match"
	case "name+state":
		return "name matches in the same state"
	}
	return r
}

// handleDecide clears or confirms a candidate with a reason.
func (h *Handler) handleDecide(w http.ResponseWriter, r *http.Request) {
	if !h.requireScreening(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	decision := r.PostForm.Get("decision")
	err := h.screening.DecideScreeningCandidate(r.Context(), r.PathValue("id"), decision, r.PostForm.Get("reason"))
	flash := "candidate-cleared"
	if decision == credtrack.CandidateConfirmed {
		flash = "candidate-confirmed"
	}
	h.afterOrgPost(w, r, err, flash, "/screening")
}

type versionRow struct {
	ID, Source, Kind, Origin, SHA, Imported, By string
	Rows, Entries, Added, Removed               int
	InForce                                     bool
}

type listsPage struct {
	orgPage
	Ages []listAge
	Rows []versionRow
}

// handleScreeningLists shows each list's version in force and age, and
// the import history.
func (h *Handler) handleScreeningLists(w http.ResponseWriter, r *http.Request) {
	if !h.requireScreening(w, r) {
		return
	}
	vs, err := h.screening.ListVersions(r.Context(), 200)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := listsPage{orgPage: h.newScreeningPage(w, r, "Exclusion lists", "/screening/lists"), Ages: listAges(vs, credtrack.Now())}
	for _, v := range vs {
		sha := v.SHA256
		if len(sha) > 16 {
			sha = sha[:16] + "…"
		}
		p.Rows = append(p.Rows, versionRow{ID: v.ID, Source: strings.ToUpper(string(v.Source)), Kind: string(v.Kind), Origin: v.Origin,
			SHA: sha, Imported: stamp(v.ImportedAt), By: v.ImportedBy, Rows: v.FileRows, Entries: v.Entries, Added: v.Added,
			Removed: v.Removed, InForce: v.InForce})
	}
	h.render(w, r, http.StatusOK, "screening_lists", p)
}

type runRow struct {
	ID, Trigger, LEIE, SAM, State, Started, Finished, Error string
	OrgsDone, OrgsTotal, Providers, NewHits, Percent        int
}

type monitoringPage struct {
	orgPage
	Rows []runRow
}

// handleScreeningMonitoring shows the monitoring runs and their progress.
func (h *Handler) handleScreeningMonitoring(w http.ResponseWriter, r *http.Request) {
	if !h.requireScreening(w, r) {
		return
	}
	runs, err := h.screening.FindMonitoringRuns(r.Context(), 50)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := monitoringPage{orgPage: h.newScreeningPage(w, r, "Monitoring", "/screening/monitoring")}
	for _, m := range runs {
		pct := 0
		if m.OrgsTotal > 0 {
			pct = 100 * m.OrgsDone / m.OrgsTotal
		}
		if m.State == "done" {
			pct = 100
		}
		p.Rows = append(p.Rows, runRow{ID: m.ID, Trigger: m.Trigger, LEIE: m.LEIE, SAM: m.SAM, State: m.State, Started: stamp(m.StartedAt),
			Finished: stamp(m.FinishedAt), Error: m.Error, OrgsDone: m.OrgsDone, OrgsTotal: m.OrgsTotal, Providers: m.Providers,
			NewHits: m.NewHits, Percent: pct})
	}
	h.render(w, r, http.StatusOK, "screening_monitoring", p)
}

type alertRow struct {
	ID, Severity, Title, Body, Link, Created, Acked string
	Open                                            bool
}

type alertsPage struct {
	Page
	Rows   []alertRow
	CanAck bool
	All    bool
}

// handleAlerts lists the organization's alerts.
func (h *Handler) handleAlerts(w http.ResponseWriter, r *http.Request) {
	if !h.requireScreening(w, r) {
		return
	}
	all := r.URL.Query().Get("all") == "1"
	list, err := h.screening.FindAlerts(r.Context(), !all, 200)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := alertsPage{Page: h.newPage(w, r, "Alerts", "alerts"), All: all}
	p.CanAck = p.Actor.Can(credtrack.PermVerificationRun)
	for _, a := range list {
		link := ""
		if strings.HasPrefix(a.Link, "/") && !strings.HasPrefix(a.Link, "//") {
			link = a.Link
		}
		p.Rows = append(p.Rows, alertRow{ID: a.ID, Severity: a.Severity, Title: a.Title, Body: a.Body, Link: link,
			Created: stamp(a.CreatedAt), Acked: stamp(a.AckedAt), Open: a.AckedAt.IsZero()})
	}
	h.render(w, r, http.StatusOK, "alerts", p)
}

// handleAlertAck acknowledges an alert.
func (h *Handler) handleAlertAck(w http.ResponseWriter, r *http.Request) {
	if !h.requireScreening(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.afterOrgPost(w, r, h.screening.AcknowledgeAlert(r.Context(), r.PathValue("id")), "alert-acknowledged", "/alerts")
}

// alertBadge is the navigation label of the alerts link.
func (h *Handler) alertBadge(ctx context.Context) string {
	n, err := h.screening.CountOpenAlerts(ctx)
	if err != nil || n == 0 {
		return "Alerts"
	}
	return fmt.Sprintf("Alerts (%d)", n)
}
