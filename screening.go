package credtrack

import (
	"context"
	"time"
)

// ListSource names an exclusion list credtrack screens providers against.
type ListSource string

// The exclusion lists. Both are public, global data: they belong to no
// organization.
const (
	// ListLEIE is the HHS-OIG List of Excluded Individuals/Entities.
	ListLEIE ListSource = "leie"
	// ListSAM is the SAM.gov exclusions public extract.
	ListSAM ListSource = "sam"
)

// ListSources lists every exclusion list in display order.
var ListSources = []ListSource{ListLEIE, ListSAM}

// ListMaxAge is how old the version in force of a list may be before it is
// flagged: a monthly import was missed.
const ListMaxAge = 35 * 24 * time.Hour

// ListImportKind says what an imported file does to a list.
type ListImportKind string

// The kinds of list import.
const (
	// ListFull replaces the whole list (LEIE UPDATED.csv, every SAM extract).
	ListFull ListImportKind = "full"
	// ListExclusions adds a monthly LEIE supplement of new exclusions (YYMMEXCL.csv).
	ListExclusions ListImportKind = "exclusions"
	// ListReinstatements applies a monthly LEIE supplement of
	// reinstatements (YYMMREIN.csv): its entries stop matching.
	ListReinstatements ListImportKind = "reinstatements"
)

// ListVersion is one imported version of an exclusion list. Every import,
// full or supplement, makes a new version; the version in force is switched
// in one transaction once the new one is complete, so readers never see a
// half-imported list. A screening result names the version it used.
type ListVersion struct {
	ID         string
	Source     ListSource
	Kind       ListImportKind
	BaseID     string // the version a supplement was applied to, "" for a full import
	Origin     string // file name or URL it came from (never credentials)
	SHA256     string // hex SHA-256 of the imported file
	FileRows   int    // data rows in the file
	Entries    int    // entries in the list after the import
	Added      int
	Removed    int
	ImportedAt time.Time
	ImportedBy string // the operator or job that imported it
	InForce    bool   // the version currently screened against
}

// ListEntry is one record of an exclusion list, normalized from either
// file format. Key identifies the record across versions (a reinstatement
// names the exclusion it ends by the same key); Hash changes whenever any
// field of the record changes.
type ListEntry struct {
	Source     ListSource
	Key        string
	Hash       string
	Individual bool
	LastName   string
	FirstName  string
	MiddleName string
	Suffix     string
	BusName    string // entities
	NPI        string // "" when none (LEIE's 0000000000 is none)
	DOB        Date
	City       string
	State      string
	Zip        string
	Category   string // LEIE GENERAL/SPECIALTY, SAM classification
	ExclType   string // LEIE EXCLTYPE, SAM exclusion type
	Agency     string // SAM excluding agency; "HHS-OIG" for LEIE
	ExclDate   Date
	ReinDate   Date   // LEIE reinstatement date, zero when none
	EndDate    string // SAM termination date ("Indefinite" or a date)
	SAMNumber  string
	CrossRef   string
}

// DisplayName is the entry's name as shown to a reviewer.
func (e *ListEntry) DisplayName() string {
	if !e.Individual {
		return e.BusName
	}
	n := e.FirstName
	if e.MiddleName != "" {
		n += " " + e.MiddleName
	}
	n += " " + e.LastName
	if e.Suffix != "" {
		n += " " + e.Suffix
	}
	return n
}

// Candidate statuses. A candidate stays open until a person decides it;
// nothing closes one automatically.
const (
	CandidateOpen      = "open"
	CandidateCleared   = "cleared"   // not the same person
	CandidateConfirmed = "confirmed" // the provider is excluded
)

// ScreeningCandidate is a possible match of a provider with an exclusion
// list entry, found by the screening engine and kept per organization
// until a coordinator clears or confirms it. A cleared candidate does not
// come back unless the list entry changes (EntryHash).
type ScreeningCandidate struct {
	ID            string
	OrgID         string
	ProviderID    string
	ProviderName  string
	Source        ListSource
	EntryKey      string
	EntryHash     string
	ListVersionID string
	Score         int      // 0–100
	Reasons       []string // why it matched, e.g. "npi", "name+dob", "name+state"
	Entry         ListEntry
	Status        string
	Listed        bool // false once the entry is no longer on the list in force
	Decision      string
	DecidedBy     string
	DecidedAt     time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Alert severities.
const (
	AlertInfo     = "info"
	AlertWarning  = "warning"
	AlertCritical = "critical"
)

// Alert is a notice for an organization's coordinators, shown in the app
// and emailed to them: a new exclusion match, a stale list, a source that
// keeps failing. Key deduplicates: raising an alert whose (org, key) exists
// already does nothing.
type Alert struct {
	ID        string
	OrgID     string
	Kind      string // e.g. "screening.hit", "list.stale"
	Key       string
	Severity  string
	Title     string // one line, no sensitive values
	Body      string // a few sentences, no sensitive values
	Link      string // a path in the app, e.g. "/screening"
	CreatedAt time.Time
	AckedAt   time.Time
	AckedBy   string
}

// AlertService stores and lists the alerts of the organization in ctx.
// Raising is done by jobs and services (internal/alerts also emails
// coordinators); people list and acknowledge.
type AlertService interface {
	// RaiseAlert stores a, unless an alert with the same Key exists in the
	// organization; it reports whether a was new. Audited "alert.raised".
	RaiseAlert(ctx context.Context, a *Alert) (bool, error)
	// FindAlerts lists alerts, newest first; open only when openOnly.
	FindAlerts(ctx context.Context, openOnly bool, limit int) ([]*Alert, error)
	// CountOpenAlerts counts alerts not yet acknowledged.
	CountOpenAlerts(ctx context.Context) (int, error)
	// AcknowledgeAlert marks an alert as seen. Audited "alert.acknowledged".
	AcknowledgeAlert(ctx context.Context, id string) error
}

// MonitoringRun is one re-screening of every active provider of every
// organization, made once per list version (and at least monthly).
type MonitoringRun struct {
	ID         string // the job key, e.g. "version:<id>" or "monthly:2026-12"
	Trigger    string
	LEIE, SAM  string // list versions used
	State      string // running, done, failed
	OrgsTotal  int
	OrgsDone   int
	Providers  int
	NewHits    int
	Cursor     string // last organization finished, for resuming
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
}
