package credtrack

import (
	"context"
	"time"
)

// VerificationResult is the outcome of one primary-source verification.
type VerificationResult string

// The results of a verification.
const (
	// VerifyVerified: the source confirms the record.
	VerifyVerified VerificationResult = "verified"
	// VerifyMismatch: the source knows the provider or credential but some
	// of its facts differ from the record (each difference is a Finding).
	VerifyMismatch VerificationResult = "mismatch"
	// VerifyNotFound: the source has no such provider or credential.
	VerifyNotFound VerificationResult = "not_found"
	// VerifyExcluded: the source lists the provider as excluded,
	// deactivated or disciplined so that they may not practise.
	VerifyExcluded VerificationResult = "excluded"
	// VerifyError: the source could not answer (network, 5xx, 429 after
	// retries, an error body); nothing is known.
	VerifyError VerificationResult = "error"
)

// VerificationResults lists every result in display order.
var VerificationResults = []VerificationResult{VerifyVerified, VerifyMismatch, VerifyNotFound, VerifyExcluded, VerifyError}

// Label names a result for people.
func (r VerificationResult) Label() string {
	switch r {
	case VerifyVerified:
		return "Verified"
	case VerifyMismatch:
		return "Mismatch"
	case VerifyNotFound:
		return "Not found"
	case VerifyExcluded:
		return "Excluded"
	case VerifyError:
		return "Error"
	}
	return string(r)
}

// The names of the verification sources. A source name is stored with
// every verification and names the source's health row.
const (
	SourceNPPES       = "nppes"        // NPPES NPI Registry API v2.1
	SourceNursys      = "nursys"       // NCSBN Nursys e-Notify nurse lookup
	SourceLicenseFile = "license_file" // a state board's bulk license file
	SourceManual      = "manual"       // a coordinator checked the source by hand
)

// SourceLabel names a source for people.
func SourceLabel(s string) string {
	switch s {
	case SourceNPPES:
		return "NPPES NPI Registry"
	case SourceNursys:
		return "Nursys e-Notify"
	case SourceLicenseFile:
		return "State board license file"
	case SourceManual:
		return "Manual verification"
	}
	return s
}

// Finding is one fact compared between the source and the record. Values
// that are sensitive identifiers (license numbers) are masked to their last
// four characters before they are put here: findings are stored in clear
// and shown on the history page.
type Finding struct {
	Field    string `json:"field"`    // "last_name", "taxonomy", "license", "deactivation"…
	Record   string `json:"record"`   // what the provider record says
	Source   string `json:"source"`   // what the source says
	Match    bool   `json:"match"`    // whether they agree
	Severity string `json:"severity"` // "info" or "mismatch"
	Note     string `json:"note,omitempty"`
}

// Evidence is what a source call returned, kept so that a verification can
// be shown to a surveyor: the HTTP status, how long the call took, the
// SHA-256 of the raw response, and the raw response itself, which the
// store keeps encrypted under the organization's key.
type Evidence struct {
	HTTPStatus     int
	Latency        time.Duration
	ResponseSHA256 []byte
	Response       []byte // raw bytes; sealed at rest, opened only on the evidence view
	ContentType    string
}

// VerificationRequest asks a source about one provider, and optionally one
// of their credentials. Provider and Credential carry the full values the
// source needs (NPI, license number); they are never stored as given:
// Query holds the masked description of what was asked.
type VerificationRequest struct {
	Provider   *Provider
	Credential *Credential // nil for a provider-level check (NPPES by NPI)
	// Query describes what was asked, with identifiers masked to their
	// last four characters: it is stored with the verification and put in
	// the audit event.
	Query map[string]string
}

// SourceResult is a source's normalized answer.
type SourceResult struct {
	Result   VerificationResult
	Findings []Finding
	Evidence Evidence
	// Error is the safe description of a failed call (no identifiers).
	Error string
	// Query adds what the source actually asked (masked), e.g. the
	// lookup kind, to the request's Query.
	Query map[string]string
}

// Source is one primary source: a registry API, a board file, a
// verification service. Verify never returns a Go error for a source
// problem: an unreachable or failing source is a SourceResult with
// VerifyError, so that every call leaves a Verification behind. The error
// return is for a request the source cannot take at all (EINVALID: the
// provider has no NPI, the credential is not of a kind the source knows).
type Source interface {
	// Name is the stored source name (SourceNPPES…).
	Name() string
	// Verify asks the source about req.
	Verify(ctx context.Context, req *VerificationRequest) (*SourceResult, error)
}

// Verification is the stored record of one verification: which source,
// what was asked, when, by whom or which job, the result, the normalized
// findings and the evidence.
type Verification struct {
	ID           string
	OrgID        string
	ProviderID   string
	CredentialID string // "" for a provider-level check
	CheckID      string // the queued check this answers, "" when none
	Source       string
	Query        map[string]string
	Result       VerificationResult
	Findings     []Finding
	Error        string
	// Evidence: HTTPStatus 0 and no response for a manual verification.
	HTTPStatus     int
	Latency        time.Duration
	ResponseSHA256 []byte
	HasResponse    bool
	// ActorKind and ActorID ran the verification (a user, or the job
	// "psv.check"); RequestedBy is the user who asked for it, if any.
	ActorKind   ActorKind
	ActorID     string
	RequestedBy string
	// VerifiedOn is the date a coordinator checked the source (manual);
	// DocumentID the screenshot or document they attached.
	VerifiedOn Date
	DocumentID string
	CreatedAt  time.Time
}

// Check states.
const (
	CheckPending = "pending" // waiting for the job that calls the source
	CheckDone    = "done"    // answered by a verification
	CheckManual  = "manual"  // a coordinator must verify by hand (a task)
	CheckClosed  = "closed"  // a manual task answered by a manual verification
)

// VerificationCheck is a requested verification: queued for a source,
// answered, or turned into a manual verification task for coordinators
// when its source keeps failing.
type VerificationCheck struct {
	ID             string
	OrgID          string
	ProviderID     string
	CredentialID   string
	Source         string
	State          string
	Reason         string // why it became manual
	RequestedBy    string
	VerificationID string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// ProviderName is filled by the task list for display.
	ProviderName string
}

// SourceCall is one call to a source as the health page counts it. It
// holds no tenant data.
type SourceCall struct {
	Source     string
	At         time.Time
	OK         bool
	HTTPStatus int
	Latency    time.Duration
	Error      string
}

// SourceHealth summarizes the recent calls to one source.
type SourceHealth struct {
	Source      string
	LastSuccess time.Time
	LastFailure time.Time
	LastError   string
	Calls       int // in the window
	Errors      int
	ErrorRate   float64 // Errors / Calls, 0 when there were no calls
	AvgLatency  time.Duration
	MaxLatency  time.Duration
	// ConsecutiveFailures counts the failures since the last success.
	ConsecutiveFailures int
	// Failing: the source keeps failing (FailingAfter consecutive
	// failures); its pending checks become manual tasks.
	Failing bool
}

// FailingAfter is how many consecutive failed calls mark a source as
// failing.
const FailingAfter = 3

// DefaultVerificationMaxAgeDays is how old a verification may be before
// the credential counts as stale (NCQA 2025: 120 days before the
// credentialing decision).
const DefaultVerificationMaxAgeDays = 120

// Stale reports whether the credential's last verification is missing or
// older than maxAgeDays on the given day.
func (c *Credential) Stale(now time.Time, maxAgeDays int) bool {
	if c.VerifiedAt.IsZero() {
		return true
	}
	if maxAgeDays <= 0 {
		maxAgeDays = DefaultVerificationMaxAgeDays
	}
	return now.Sub(c.VerifiedAt) > time.Duration(maxAgeDays)*24*time.Hour
}
