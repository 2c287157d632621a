package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/psv"
)

// Verifier runs and shows primary-source verifications (psv.Service over
// the store). When Options.Verifier is nil the verification pages answer
// 503 and the navigation and buttons leave them out.
type Verifier interface {
	RequestCheck(ctx context.Context, providerID, credentialID, source string) (*credtrack.VerificationCheck, error)
	RecordManual(ctx context.Context, m psv.Manual) (*credtrack.Verification, error)
	Applicable(p *credtrack.Provider, c *credtrack.Credential) []string
	Health(ctx context.Context) ([]*credtrack.SourceHealth, error)
	History(ctx context.Context, providerID string) ([]*credtrack.Verification, error)
	Evidence(ctx context.Context, id string) (*credtrack.Verification, []byte, error)
	Tasks(ctx context.Context) ([]*credtrack.VerificationCheck, error)
	Task(ctx context.Context, id string) (*credtrack.VerificationCheck, error)
	MaxAgeDays(ctx context.Context) (int, error)
	SetMaxAgeDays(ctx context.Context, days int) error
}

// maxManualUpload caps the body of the manual verification form: the
// document service's 25 MB limit plus the form fields.
const maxManualUpload = 26 << 20

func init() {
	flashes["check-queued"] = Flash{Kind: "info", Text: "The verification is queued; its result appears below within a minute."}
	flashes["check-manual"] = Flash{Kind: "error", Text: "That source keeps failing, so the check became a manual verification task."}
	flashes["manual-recorded"] = Flash{Kind: "info", Text: "The manual verification is recorded."}
	flashes["freshness-saved"] = Flash{Kind: "info", Text: "The verification freshness limit is saved."}
}

func (h *Handler) verifierOr503(w http.ResponseWriter, r *http.Request) bool {
	if h.verifier == nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EUNAVAILABLE, "Primary-source verification is not available on this server."))
		return false
	}
	return true
}

// verifyButton is one "Verify" action on the history page.
type verifyButton struct {
	CredentialID string
	Source       string
	Label        string
}

// verificationRow is one verification in the history.
type verificationRow struct {
	ID          string
	At          string
	Source      string
	What        string
	Result      string
	ResultLabel string
	Error       string
	HTTPStatus  int
	LatencyMS   int64
	SHA256      string
	Who         string
	VerifiedOn  string
	DocumentID  string
	Mismatches  []credtrack.Finding
	HasEvidence bool
}

// freshRow is one credential with its verification freshness.
type freshRow struct {
	ID         string
	Label      string
	Number     string
	VerifiedAt string
	VerifiedBy string
	Stale      bool
	Buttons    []verifyButton
	ManualURL  string
}

type verificationsPage struct {
	Page
	ProviderID  string
	Name        string
	MaxAgeDays  int
	CanRun      bool
	CanEvidence bool
	NPIButtons  []verifyButton
	Credentials []freshRow
	Rows        []verificationRow
	ManualURL   string
}

func (h *Handler) credentialLabel(c *credtrack.Credential) string {
	l := c.Type.Label()
	if c.Jurisdiction != "" {
		l += " (" + c.Jurisdiction + ")"
	}
	return l
}

// handleVerifications shows a provider's verification history with its
// evidence summary, the credentials' freshness and the Verify actions.
func (h *Handler) handleVerifications(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	ctx := r.Context()
	a := credtrack.ActorFromContext(ctx)
	pr, ok := h.pathProvider(w, r)
	if !ok {
		return
	}
	list, err := h.verifier.History(ctx, pr.ID)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	maxAge, err := h.verifier.MaxAgeDays(ctx)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := verificationsPage{Page: h.newPage(w, r, "Verifications · "+pr.FullName(), "providers"), ProviderID: pr.ID,
		Name: pr.FullName(), MaxAgeDays: maxAge, CanRun: a.Can(credtrack.PermVerificationRun),
		CanEvidence: a.Can(credtrack.PermCredentialRead),
		ManualURL:   "/providers/" + url.PathEscape(pr.ID) + "/verify/manual"}
	for _, s := range h.verifier.Applicable(pr, nil) {
		p.NPIButtons = append(p.NPIButtons, verifyButton{Source: s, Label: "Look up the NPI in " + credtrack.SourceLabel(s)})
	}
	now := credtrack.Now()
	labels := map[string]string{}
	for _, c := range pr.Credentials {
		labels[c.ID] = h.credentialLabel(c)
		row := freshRow{ID: c.ID, Label: labels[c.ID], Number: mask(c.NumberLast4 != "", c.NumberLast4), VerifiedBy: c.VerifiedBy,
			Stale: c.Stale(now, maxAge), ManualURL: p.ManualURL + "?credential_id=" + url.QueryEscape(c.ID)}
		if !c.VerifiedAt.IsZero() {
			row.VerifiedAt = c.VerifiedAt.UTC().Format("2006-01-02 15:04")
		}
		for _, s := range h.verifier.Applicable(pr, c) {
			row.Buttons = append(row.Buttons, verifyButton{CredentialID: c.ID, Source: s, Label: "Verify with " + credtrack.SourceLabel(s)})
		}
		p.Credentials = append(p.Credentials, row)
	}
	for _, v := range list {
		row := verificationRow{ID: v.ID, At: v.CreatedAt.UTC().Format("2006-01-02 15:04:05"), Source: credtrack.SourceLabel(v.Source),
			Result: string(v.Result), ResultLabel: v.Result.Label(), Error: v.Error, HTTPStatus: v.HTTPStatus,
			LatencyMS: v.Latency.Milliseconds(), Who: string(v.ActorKind) + " " + v.ActorID, DocumentID: v.DocumentID,
			HasEvidence: v.HasResponse || v.Source == credtrack.SourceManual}
		if len(v.ResponseSHA256) > 0 {
			row.SHA256 = fmt.Sprintf("%x", v.ResponseSHA256)
		}
		row.What = "Provider"
		if v.CredentialID != "" {
			row.What = labels[v.CredentialID]
		}
		if checked := v.Query["checked"]; checked != "" {
			row.Source += ": " + checked
		}
		if !v.VerifiedOn.IsZero() {
			row.VerifiedOn = v.VerifiedOn.String()
		}
		for _, f := range v.Findings {
			if !f.Match && f.Severity == "mismatch" {
				row.Mismatches = append(row.Mismatches, f)
			}
		}
		p.Rows = append(p.Rows, row)
	}
	h.render(w, r, http.StatusOK, "verifications", p)
}

// handleVerify queues a check of the provider (or one credential) against
// a source and returns to the history.
func (h *Handler) handleVerify(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	// Another organization's provider is a 404 whatever the form says.
	pr, ok := h.pathProvider(w, r)
	if !ok {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	id := pr.ID
	c, err := h.verifier.RequestCheck(r.Context(), id, r.PostForm.Get("credential_id"), r.PostForm.Get("source"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if c.State == credtrack.CheckManual {
		h.setFlash(w, "check-manual")
	} else {
		h.setFlash(w, "check-queued")
	}
	http.Redirect(w, r, "/providers/"+url.PathEscape(id)+"/verifications", http.StatusSeeOther)
}

type findingRow struct {
	credtrack.Finding
	Label string
}

type evidencePage struct {
	Page
	V          *credtrack.Verification
	Source     string
	Result     string
	At         string
	SHA256     string
	Findings   []findingRow
	Query      []option
	Response   string
	Truncated  bool
	DocumentID string
}

// handleEvidence shows one verification with its findings and the raw
// response (opened from its sealed copy; the read is audited).
func (h *Handler) handleEvidence(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	v, raw, err := h.verifier.Evidence(r.Context(), r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := evidencePage{Page: h.newPage(w, r, "Verification evidence", "providers"), V: v, Source: credtrack.SourceLabel(v.Source),
		Result: v.Result.Label(), At: v.CreatedAt.UTC().Format(time.RFC3339), DocumentID: v.DocumentID}
	if len(v.ResponseSHA256) > 0 {
		p.SHA256 = fmt.Sprintf("%x", v.ResponseSHA256)
	}
	for _, f := range v.Findings {
		p.Findings = append(p.Findings, findingRow{Finding: f, Label: strings.ReplaceAll(f.Field, "_", " ")})
	}
	keys := make([]string, 0, len(v.Query))
	for k := range v.Query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p.Query = append(p.Query, option{Value: v.Query[k], Label: k})
	}
	if len(raw) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") == nil {
			raw = buf.Bytes()
		}
		const show = 256 << 10
		if len(raw) > show {
			raw, p.Truncated = raw[:show], true
		}
		p.Response = string(raw)
	}
	h.render(w, r, http.StatusOK, "verification", p)
}

type manualPage struct {
	Page
	ProviderID   string
	Name         string
	Credentials  []option
	CheckID      string
	Reason       string
	Today        string
	Source       string
	Results      []option
	UploadsLimit string
}

// handleManualForm shows the manual verification form, optionally for
// one credential or to answer a manual task.
func (h *Handler) handleManualForm(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	h.renderManual(w, r, http.StatusOK, r.URL.Query().Get("credential_id"), r.URL.Query().Get("check_id"), "", nil)
}

func (h *Handler) renderManual(w http.ResponseWriter, r *http.Request, status int, credentialID, checkID, source string, formErr error) {
	ctx := r.Context()
	pr, ok := h.pathProvider(w, r)
	if !ok {
		return
	}
	p := manualPage{Page: h.newPage(w, r, "Manual verification · "+pr.FullName(), "providers"), ProviderID: pr.ID,
		Name: pr.FullName(), CheckID: checkID, Today: h.today().String(), Source: source, UploadsLimit: "25 MB"}
	if checkID != "" {
		t, err := h.verifier.Task(ctx, checkID)
		if err != nil || t.ProviderID != pr.ID {
			h.renderError(w, r, credtrack.Errorf(credtrack.ENOTFOUND, "There is no such task for this provider."))
			return
		}
		p.Reason, credentialID = t.Reason, t.CredentialID
	}
	p.Credentials = append(p.Credentials, option{Value: "", Label: "The provider (no single credential)", Selected: credentialID == ""})
	for _, c := range pr.Credentials {
		p.Credentials = append(p.Credentials, option{Value: c.ID, Label: h.credentialLabel(c) + " " + mask(c.NumberLast4 != "", c.NumberLast4),
			Selected: c.ID == credentialID})
	}
	for _, res := range credtrack.VerificationResults {
		if res != credtrack.VerifyError {
			p.Results = append(p.Results, option{Value: string(res), Label: res.Label(), Selected: res == credtrack.VerifyVerified})
		}
	}
	if formErr != nil {
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: credtrack.ErrorMessage(formErr)})
	}
	h.render(w, r, status, "verification_manual", p)
}

// handleManual records a manual verification with its optional
// screenshot or document.
func (h *Handler) handleManual(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	// Another organization's provider is a 404 whatever the form says.
	if _, ok := h.pathProvider(w, r); !ok {
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.renderError(w, r, credtrack.Errorf(credtrack.ETOOLARGE, "The file is larger than 25 MB."))
			return
		}
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The form could not be read."))
		return
	}
	defer r.MultipartForm.RemoveAll()
	f := r.MultipartForm.Value
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	m := psv.Manual{ProviderID: r.PathValue("id"), CredentialID: get("credential_id"), CheckID: get("check_id"),
		Source: get("source"), Result: credtrack.VerificationResult(get("result"))}
	d, err := credtrack.ParseDate(get("verified_on"))
	if err != nil {
		h.renderManual(w, r, http.StatusBadRequest, m.CredentialID, m.CheckID, m.Source, err)
		return
	}
	m.VerifiedOn = d
	var file multipart.File
	if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 && fhs[0].Size > 0 {
		file, err = fhs[0].Open()
		if err != nil {
			h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The file could not be read."))
			return
		}
		defer file.Close()
		m.File, m.Filename = io.Reader(file), fhs[0].Filename
	}
	if _, err := h.verifier.RecordManual(r.Context(), m); err != nil {
		if code := credtrack.ErrorCode(err); code == credtrack.EINVALID {
			h.renderManual(w, r, http.StatusBadRequest, m.CredentialID, m.CheckID, m.Source, err)
			return
		}
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "manual-recorded")
	http.Redirect(w, r, "/providers/"+url.PathEscape(m.ProviderID)+"/verifications", http.StatusSeeOther)
}

type healthRow struct {
	Source      string
	Label       string
	LastSuccess string
	LastFailure string
	LastError   string
	Calls       int
	Errors      int
	ErrorRate   string
	AvgLatency  string
	MaxLatency  string
	Failing     bool
	Streak      int
}

type sourcesPage struct {
	Page
	Rows       []healthRow
	MaxAgeDays int
	CanManage  bool
	Window     string
}

// stampOrNever formats a time in UTC to the minute, "never" when zero.
func stampOrNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return stamp(t)
}

// handleSources shows the health of each configured source and the
// freshness limit.
func (h *Handler) handleSources(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	ctx := r.Context()
	hs, err := h.verifier.Health(ctx)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	maxAge, err := h.verifier.MaxAgeDays(ctx)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := sourcesPage{Page: h.newPage(w, r, "Verification sources", "verification"), MaxAgeDays: maxAge,
		CanManage: credtrack.ActorFromContext(ctx).Can(credtrack.PermOrgManage), Window: "24 hours"}
	for _, s := range hs {
		p.Rows = append(p.Rows, healthRow{Source: s.Source, Label: credtrack.SourceLabel(s.Source), LastSuccess: stampOrNever(s.LastSuccess),
			LastFailure: stampOrNever(s.LastFailure), LastError: s.LastError, Calls: s.Calls, Errors: s.Errors,
			ErrorRate: strconv.FormatFloat(100*s.ErrorRate, 'f', 0, 64) + "%", AvgLatency: s.AvgLatency.String(),
			MaxLatency: s.MaxLatency.String(), Failing: s.Failing, Streak: s.ConsecutiveFailures})
	}
	h.render(w, r, http.StatusOK, "verification_sources", p)
}

// handleFreshness saves the organization's verification freshness limit.
func (h *Handler) handleFreshness(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("max_age_days")))
	if err != nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The freshness limit is a number of days."))
		return
	}
	if err := h.verifier.SetMaxAgeDays(r.Context(), days); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "freshness-saved")
	http.Redirect(w, r, "/verification/sources", http.StatusSeeOther)
}

type taskRow struct {
	ID           string
	ProviderID   string
	ProviderName string
	Source       string
	Reason       string
	Since        string
	ManualURL    string
}

type tasksPage struct {
	Page
	Rows   []taskRow
	CanRun bool
}

// handleTasks lists the manual verification tasks: checks whose source
// kept failing or could not take them.
func (h *Handler) handleTasks(w http.ResponseWriter, r *http.Request) {
	if !h.verifierOr503(w, r) {
		return
	}
	ts, err := h.verifier.Tasks(r.Context())
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := tasksPage{Page: h.newPage(w, r, "Manual verification tasks", "verification"),
		CanRun: credtrack.ActorFromContext(r.Context()).Can(credtrack.PermVerificationRun)}
	for _, t := range ts {
		p.Rows = append(p.Rows, taskRow{ID: t.ID, ProviderID: t.ProviderID, ProviderName: t.ProviderName,
			Source: credtrack.SourceLabel(t.Source), Reason: t.Reason, Since: stamp(t.CreatedAt),
			ManualURL: "/providers/" + url.PathEscape(t.ProviderID) + "/verify/manual?check_id=" + url.QueryEscape(t.ID)})
	}
	h.render(w, r, http.StatusOK, "verification_tasks", p)
}
