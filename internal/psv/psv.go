// Package psv runs primary-source verifications: a coordinator (or a
// job) asks for a check of a provider or credential against a source; the
// check is queued as a durable job; the job calls the source's adapter
// (internal/psv/nppes, nursys, license), stores the Verification with its
// evidence, and refreshes the credential's VerifiedAt. Sources are
// watched: every call is counted in the source health log, and a source
// that keeps failing turns its pending checks into manual verification
// tasks, which a coordinator answers with a manual verification (source,
// date, result and a screenshot or document).
package psv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/docs"
)

// JobKind is the job that runs one queued check.
const JobKind = "psv.check"

// MaxAttempts is how many times the job tries a failing source before the
// check becomes a manual task anyway.
const MaxAttempts = 4

// HealthWindow is the period the health page's error rate and latency
// cover.
const HealthWindow = 24 * time.Hour

// Store is the persistence the service needs (*sqlstore.DB).
type Store interface {
	FindProviderByID(ctx context.Context, id string) (*credtrack.Provider, error)
	FindCredentialByID(ctx context.Context, id string) (*credtrack.Credential, error)
	RecordVerification(ctx context.Context, v *credtrack.Verification, raw []byte) error
	FindVerifications(ctx context.Context, providerID string) ([]*credtrack.Verification, error)
	OpenVerification(ctx context.Context, id string) (*credtrack.Verification, []byte, error)
	CreateCheck(ctx context.Context, c *credtrack.VerificationCheck) error
	FindCheck(ctx context.Context, id string) (*credtrack.VerificationCheck, error)
	MakeCheckManual(ctx context.Context, id, reason string) (bool, error)
	FindChecks(ctx context.Context, state string) ([]*credtrack.VerificationCheck, error)
	SourceHealth(ctx context.Context, source string, since time.Time) (*credtrack.SourceHealth, error)
	VerificationMaxAgeDays(ctx context.Context) (int, error)
	SetVerificationMaxAgeDays(ctx context.Context, days int) error
	EnqueueJob(ctx context.Context, j *credtrack.Job) (bool, error)
}

// Documents stores the screenshot or document of a manual verification
// (*docs.Service).
type Documents interface {
	Upload(ctx context.Context, u docs.Upload) (*credtrack.Document, error)
}

// Alerter raises an alert for the coordinators of the organization in ctx
// (internal/alerts.Service: stored, shown in the app, emailed, audited
// "alert.raised"; a key the organization already has is not raised
// again). Optional: when nil, a failing source shows on the health page
// and in the task list only.
type Alerter interface {
	Raise(ctx context.Context, a *credtrack.Alert) (bool, error)
}

// AlertKindSourceFailing is the kind of the alert raised when a source
// keeps failing (credtrack.FailingAfter failed calls in a row).
const AlertKindSourceFailing = "source.failing"

// Service is the verification service.
type Service struct {
	Store   Store
	Sources map[string]credtrack.Source
	Docs    Documents // nil: manual verifications take no attachment
	Alerts  Alerter
	Log     *slog.Logger
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return credtrack.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// SourceNames lists the configured automated sources, sorted.
func (s *Service) SourceNames() []string {
	var out []string
	for n := range s.Sources {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Applicable lists the configured sources that can verify the credential
// (nil: the provider's NPI), for the "Verify" buttons.
func (s *Service) Applicable(p *credtrack.Provider, c *credtrack.Credential) []string {
	var out []string
	for _, n := range s.SourceNames() {
		switch n {
		case credtrack.SourceNPPES:
			if (c == nil && p.NPILast4 != "") || (c != nil && c.Type == credtrack.CredNPI) {
				out = append(out, n)
			}
		case credtrack.SourceNursys:
			if c != nil && c.Type == credtrack.CredStateLicense && isNurse(p.Profession) {
				out = append(out, n)
			}
		case credtrack.SourceLicenseFile:
			if c != nil && c.Type == credtrack.CredStateLicense {
				if j, ok := s.Sources[n].(interface{ Jurisdictions() []string }); !ok || slices.Contains(j.Jurisdictions(), c.Jurisdiction) {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

func isNurse(p credtrack.Profession) bool {
	switch p {
	case credtrack.ProfRN, credtrack.ProfLPN, credtrack.ProfAPRN, credtrack.ProfCRNA, credtrack.ProfCNM:
		return true
	}
	return false
}

type jobArgs struct {
	CheckID string `json:"check_id"`
}

// RequestCheck queues a verification of a provider (credentialID "" for
// the provider's NPI) against source. When the source is failing, the
// check is created as a manual task at once. The caller needs
// verification.run.
func (s *Service) RequestCheck(ctx context.Context, providerID, credentialID, source string) (*credtrack.VerificationCheck, error) {
	if err := credtrack.Authorize(ctx, credtrack.PermVerificationRun); err != nil {
		return nil, err
	}
	if _, ok := s.Sources[source]; !ok {
		return nil, credtrack.Errorf(credtrack.EINVALID, "%s is not a configured verification source", credtrack.SourceLabel(source))
	}
	c := &credtrack.VerificationCheck{ProviderID: providerID, CredentialID: credentialID, Source: source, State: credtrack.CheckPending}
	h, err := s.Store.SourceHealth(ctx, source, s.now().Add(-HealthWindow))
	if err != nil {
		return nil, err
	}
	if h.Failing {
		c.State, c.Reason = credtrack.CheckManual, failingReason(h)
	}
	if err := s.Store.CreateCheck(ctx, c); err != nil {
		return nil, err
	}
	if c.State == credtrack.CheckPending {
		args, _ := json.Marshal(jobArgs{CheckID: c.ID})
		if _, err := s.Store.EnqueueJob(ctx, &credtrack.Job{Kind: JobKind, Key: c.ID, OrgID: c.OrgID, Args: args}); err != nil {
			return nil, err
		}
	} else {
		// The source may have failed on another organization's checks:
		// this organization hears of it now (once per failing spell).
		s.alertFailing(ctx, h, 1)
	}
	return c, nil
}

func failingReason(h *credtrack.SourceHealth) string {
	r := fmt.Sprintf("%s keeps failing (%d failed calls in a row", credtrack.SourceLabel(h.Source), h.ConsecutiveFailures)
	if h.LastError != "" {
		r += "; last: " + h.LastError
	}
	return r + "): verify by hand"
}

// RunJob is the job handler of JobKind: it runs one queued check as the
// system actor "psv.check" of the check's organization. A source that is
// failing turns the check into a manual task without calling it; a call
// that fails is retried by the job runner, up to MaxAttempts, after which
// the check becomes a manual task too.
func (s *Service) RunJob(ctx context.Context, j *credtrack.Job) error {
	var args jobArgs
	if err := json.Unmarshal(j.Args, &args); err != nil || args.CheckID == "" || j.OrgID == "" {
		return fmt.Errorf("psv: job %s has no check", j.ID)
	}
	ctx = credtrack.NewContextWithActor(ctx, credtrack.SystemActor(JobKind, j.OrgID))
	c, err := s.Store.FindCheck(ctx, args.CheckID)
	if err != nil {
		return err
	}
	if c.State != credtrack.CheckPending {
		return nil // answered already (a rerun after a crash, or done by hand)
	}
	h, err := s.Store.SourceHealth(ctx, c.Source, s.now().Add(-HealthWindow))
	if err != nil {
		return err
	}
	if h.Failing {
		return s.makeManual(ctx, c, failingReason(h), h)
	}
	v, err := s.verify(ctx, c.ProviderID, c.CredentialID, c.Source, c.ID, c.RequestedBy)
	if err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			// The source cannot take this check (no NPI, no mapping):
			// a person has to.
			return s.makeManual(ctx, c, credtrack.ErrorMessage(err), nil)
		}
		return err
	}
	if v.Result != credtrack.VerifyError {
		return nil
	}
	if h, err = s.Store.SourceHealth(ctx, c.Source, s.now().Add(-HealthWindow)); err != nil {
		return err
	}
	if h.Failing || j.Attempts >= MaxAttempts {
		return s.makeManual(ctx, c, failingReason(h), h)
	}
	return fmt.Errorf("psv: %s: %s", c.Source, v.Error)
}

// makeManual turns check c into a manual task. When the source is
// failing (h.Failing), every other pending check of that source in the
// organization becomes a manual task at once too (their jobs would only
// find the source failing, possibly after minutes of retry back-off), and
// the organization's coordinators get an alert.
func (s *Service) makeManual(ctx context.Context, c *credtrack.VerificationCheck, reason string, h *credtrack.SourceHealth) error {
	changed, err := s.Store.MakeCheckManual(ctx, c.ID, reason)
	if err != nil || !changed || h == nil || !h.Failing {
		return err
	}
	n := 1
	pending, err := s.Store.FindChecks(ctx, credtrack.CheckPending)
	if err != nil {
		return err
	}
	for _, o := range pending {
		if o.Source != c.Source {
			continue
		}
		ok, err := s.Store.MakeCheckManual(ctx, o.ID, reason)
		if err != nil {
			return err
		}
		if ok {
			n++
		}
	}
	s.alertFailing(ctx, h, n)
	return nil
}

// alertFailing raises the "source keeps failing" alert of h's source for
// the organization in ctx. Its key names the failing spell (the last
// success before it), so an organization gets one alert per spell however
// many checks fail, and a new one if the source recovers and fails again.
// The body holds the sanitized error of the health log, never a number.
func (s *Service) alertFailing(ctx context.Context, h *credtrack.SourceHealth, tasks int) {
	if s.Alerts == nil || h == nil || !h.Failing {
		return
	}
	spell := "never"
	if !h.LastSuccess.IsZero() {
		spell = h.LastSuccess.UTC().Format(time.RFC3339Nano)
	}
	label := credtrack.SourceLabel(h.Source)
	// Most important first: the email cuts the body at 100 characters.
	body := fmt.Sprintf("%d check(s) became manual tasks; %d failed calls in a row", tasks, h.ConsecutiveFailures)
	if h.LastError != "" {
		body += " (" + h.LastError + ")"
	}
	body += ". New checks become tasks until the source answers again."
	a := &credtrack.Alert{Kind: AlertKindSourceFailing, Key: AlertKindSourceFailing + ":" + h.Source + ":" + spell,
		Severity: credtrack.AlertWarning, Title: label + " keeps failing: verify by hand", Body: body, Link: "/verification/tasks"}
	if _, err := s.Alerts.Raise(ctx, a); err != nil {
		s.log().Error("psv: raising the failing-source alert failed", "source", h.Source, "err", err)
	}
}

// Verify calls source now for a provider (and credential) and stores the
// verification. It is what the job runs; the CLI calls it directly.
func (s *Service) Verify(ctx context.Context, providerID, credentialID, source string) (*credtrack.Verification, error) {
	if err := credtrack.Authorize(ctx, credtrack.PermVerificationRun); err != nil {
		return nil, err
	}
	return s.verify(ctx, providerID, credentialID, source, "", "")
}

func (s *Service) verify(ctx context.Context, providerID, credentialID, source, checkID, requestedBy string) (*credtrack.Verification, error) {
	src, ok := s.Sources[source]
	if !ok {
		return nil, credtrack.Errorf(credtrack.EINVALID, "%s is not a configured verification source", credtrack.SourceLabel(source))
	}
	p, err := s.Store.FindProviderByID(ctx, providerID)
	if err != nil {
		return nil, err
	}
	req := &credtrack.VerificationRequest{Provider: p, Query: map[string]string{}}
	if credentialID != "" {
		if req.Credential, err = s.Store.FindCredentialByID(ctx, credentialID); err != nil {
			return nil, err
		}
		if req.Credential.ProviderID != p.ID {
			return nil, credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
	} else if source == credtrack.SourceNPPES {
		// The NPPES check refreshes the provider's NPI credential, if any.
		for _, c := range p.Credentials {
			if c.Type == credtrack.CredNPI {
				credentialID = c.ID
			}
		}
	}
	if source == credtrack.SourceNPPES {
		// The comparison needs the full numbers of the state licenses.
		var full []*credtrack.Credential
		for _, c := range p.Credentials {
			if c.Type != credtrack.CredStateLicense {
				continue
			}
			fc, err := s.Store.FindCredentialByID(ctx, c.ID)
			if err != nil {
				return nil, err
			}
			full = append(full, fc)
		}
		p.Credentials = full
	}
	res, err := src.Verify(ctx, req)
	if err != nil {
		return nil, err
	}
	v := &credtrack.Verification{ProviderID: p.ID, CredentialID: credentialID, CheckID: checkID, Source: source,
		Query: req.Query, Result: res.Result, Findings: res.Findings, Error: res.Error, HTTPStatus: res.Evidence.HTTPStatus,
		Latency: res.Evidence.Latency, ResponseSHA256: res.Evidence.ResponseSHA256, RequestedBy: requestedBy}
	for k, val := range res.Query {
		v.Query[k] = val
	}
	if err := s.Store.RecordVerification(ctx, v, res.Evidence.Response); err != nil {
		return nil, err
	}
	return v, nil
}

// Manual is a verification a coordinator made by hand.
type Manual struct {
	ProviderID   string
	CredentialID string
	CheckID      string // the task it answers, if any
	// Source says what was checked ("Missouri board web lookup",
	// "phone call to the board"); at most 200 characters.
	Source     string
	VerifiedOn credtrack.Date
	Result     credtrack.VerificationResult
	// File is the screenshot or document (PDF, PNG, JPEG), optional.
	File     io.Reader
	Filename string
}

// RecordManual stores a manual verification, with its attachment stored
// through the document service (encrypted, fingerprinted) first.
func (s *Service) RecordManual(ctx context.Context, m Manual) (*credtrack.Verification, error) {
	if err := credtrack.Authorize(ctx, credtrack.PermVerificationRun); err != nil {
		return nil, err
	}
	m.Source = strings.TrimSpace(m.Source)
	if m.Source == "" || len(m.Source) > 200 {
		return nil, credtrack.Errorf(credtrack.EINVALID, "say which source you checked (at most 200 characters)")
	}
	if m.VerifiedOn.IsZero() {
		return nil, credtrack.Errorf(credtrack.EINVALID, "the date of the verification is required")
	}
	if m.VerifiedOn.After(s.now()) {
		return nil, credtrack.Errorf(credtrack.EINVALID, "the date of the verification is in the future")
	}
	if m.Result == credtrack.VerifyError || !slices.Contains(credtrack.VerificationResults, m.Result) {
		return nil, credtrack.Errorf(credtrack.EINVALID, "choose a result: verified, mismatch, not found or excluded")
	}
	if m.CheckID != "" {
		c, err := s.Store.FindCheck(ctx, m.CheckID)
		if err != nil {
			return nil, err
		}
		if c.ProviderID != m.ProviderID || c.CredentialID != m.CredentialID {
			return nil, credtrack.Errorf(credtrack.EINVALID, "the task is for another provider or credential")
		}
	}
	v := &credtrack.Verification{ProviderID: m.ProviderID, CredentialID: m.CredentialID, CheckID: m.CheckID,
		Source: credtrack.SourceManual, Query: map[string]string{"checked": m.Source}, Result: m.Result, VerifiedOn: m.VerifiedOn}
	if m.File != nil {
		if s.Docs == nil {
			return nil, credtrack.Errorf(credtrack.EUNAVAILABLE, "document storage is not configured on this server")
		}
		d, err := s.Docs.Upload(ctx, docs.Upload{ProviderID: m.ProviderID, CredentialID: m.CredentialID, Filename: m.Filename, Body: m.File})
		if err != nil {
			return nil, err
		}
		v.DocumentID = d.ID
	}
	if err := s.Store.RecordVerification(ctx, v, nil); err != nil {
		return nil, err
	}
	return v, nil
}

// Health returns the health of every configured source.
func (s *Service) Health(ctx context.Context) ([]*credtrack.SourceHealth, error) {
	var out []*credtrack.SourceHealth
	for _, n := range s.SourceNames() {
		h, err := s.Store.SourceHealth(ctx, n, s.now().Add(-HealthWindow))
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// History lists a provider's verifications, newest first (audited).
func (s *Service) History(ctx context.Context, providerID string) ([]*credtrack.Verification, error) {
	return s.Store.FindVerifications(ctx, providerID)
}

// Evidence returns one verification with its raw response (audited).
func (s *Service) Evidence(ctx context.Context, id string) (*credtrack.Verification, []byte, error) {
	return s.Store.OpenVerification(ctx, id)
}

// Tasks lists the organization's open manual verification tasks.
func (s *Service) Tasks(ctx context.Context) ([]*credtrack.VerificationCheck, error) {
	return s.Store.FindChecks(ctx, credtrack.CheckManual)
}

// Task returns one check of the organization.
func (s *Service) Task(ctx context.Context, id string) (*credtrack.VerificationCheck, error) {
	return s.Store.FindCheck(ctx, id)
}

// MaxAgeDays is the organization's verification freshness limit.
func (s *Service) MaxAgeDays(ctx context.Context) (int, error) {
	return s.Store.VerificationMaxAgeDays(ctx)
}

// SetMaxAgeDays changes the freshness limit (org.manage).
func (s *Service) SetMaxAgeDays(ctx context.Context, days int) error {
	return s.Store.SetVerificationMaxAgeDays(ctx, days)
}
