package credtrack

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Profession is a provider's licensed profession.
type Profession string

// The professions credtrack knows. Required credentials default by profession.
const (
	ProfRN         Profession = "RN"
	ProfLPN        Profession = "LPN"
	ProfAPRN       Profession = "APRN"
	ProfCRNA       Profession = "CRNA"
	ProfCNM        Profession = "CNM"
	ProfMD         Profession = "MD"
	ProfDO         Profession = "DO"
	ProfPA         Profession = "PA"
	ProfPT         Profession = "PT"
	ProfOT         Profession = "OT"
	ProfPharmacist Profession = "PharmD"
	ProfOther      Profession = "other"
)

// Professions lists every profession in display order.
var Professions = []Profession{ProfRN, ProfLPN, ProfAPRN, ProfCRNA, ProfCNM, ProfMD, ProfDO,
	ProfPA, ProfPT, ProfOT, ProfPharmacist, ProfOther}

// Provider is a person whose credentials an organization tracks: a nurse,
// physician, therapist or pharmacist. NPI, SSN and date of birth are
// sensitive: the store encrypts them field by field and finds providers by
// NPI through a keyed blind index.
type Provider struct {
	ID         string
	OrgID      string
	UserID     string // the linked account, "" when none
	FirstName  string
	MiddleName string
	LastName   string
	Suffix     string
	Email      string
	Phone      string
	Profession Profession
	Specialty  string
	Employer   string
	State      string // primary practice state, two letters
	NPI        string // opened only where the full value is needed
	SSN        string // never opened by the list or detail reads
	DOB        Date
	// NPILast4 and SSNLast4 are kept in clear beside the sealed values so
	// that masked displays ("••••6789") need no decryption.
	NPILast4 string
	SSNLast4 string
	// HasDOB reports that a date of birth is on file even when DOB itself
	// was not opened.
	HasDOB    bool
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time

	// Credentials is filled by FindProviderByID and, summarized, by
	// FindProviders (without numbers).
	Credentials []*Credential
}

// FullName returns "First Middle Last, Suffix".
func (p *Provider) FullName() string {
	parts := []string{p.FirstName}
	if p.MiddleName != "" {
		parts = append(parts, p.MiddleName)
	}
	parts = append(parts, p.LastName)
	n := strings.Join(parts, " ")
	if p.Suffix != "" {
		n += ", " + p.Suffix
	}
	return n
}

// Validate checks a provider before it is stored.
func (p *Provider) Validate() error {
	p.FirstName = strings.TrimSpace(p.FirstName)
	p.LastName = strings.TrimSpace(p.LastName)
	if p.FirstName == "" || p.LastName == "" {
		return Errorf(EINVALID, "first and last name are required")
	}
	if len(p.FirstName) > 100 || len(p.LastName) > 100 || len(p.MiddleName) > 100 {
		return Errorf(EINVALID, "names are limited to 100 characters")
	}
	if p.Profession == "" {
		p.Profession = ProfOther
	}
	if !slices.Contains(Professions, p.Profession) {
		return Errorf(EINVALID, "unknown profession %q", p.Profession)
	}
	if p.NPI != "" && !ValidNPI(p.NPI) {
		return Errorf(EINVALID, "NPI must be 10 digits with a valid check digit")
	}
	if p.SSN != "" {
		p.SSN = strings.ReplaceAll(p.SSN, "-", "")
		if len(p.SSN) != 9 || strings.Trim(p.SSN, "0123456789") != "" {
			return Errorf(EINVALID, "SSN must be 9 digits")
		}
	}
	if p.Email != "" {
		e, err := NormalizeEmail(p.Email)
		if err != nil {
			return err
		}
		p.Email = e
	}
	if p.State != "" && (len(p.State) != 2 || strings.ToUpper(p.State) != p.State) {
		return Errorf(EINVALID, "state must be a two-letter code")
	}
	return nil
}

// ProviderStatus is the overall state of a provider's file.
type ProviderStatus string

// Provider statuses, worst first: the worst state among the provider's
// credentials and required-but-missing credentials.
const (
	ProviderExpired    ProviderStatus = "expired"
	ProviderMissing    ProviderStatus = "missing"
	ProviderExpiring   ProviderStatus = "expiring"
	ProviderPending    ProviderStatus = "pending"
	ProviderCompliant  ProviderStatus = "compliant"
	ProviderInactive   ProviderStatus = "inactive"
	providerStatusNone ProviderStatus = ""
)

// Status derives the provider's overall status from its credentials and the
// credential types required for its profession.
func (p *Provider) Status(today Date, windowDays int) ProviderStatus {
	if !p.Active {
		return ProviderInactive
	}
	rank := map[CredentialStatus]int{StatusExpired: 5, StatusMissing: 4, StatusExpiring: 3, StatusPending: 2, StatusActive: 1}
	worst := StatusActive
	for _, c := range p.Credentials {
		if s := c.Status(today, windowDays); rank[s] > rank[worst] {
			worst = s
		}
	}
	if len(p.MissingTypes()) > 0 && rank[StatusMissing] > rank[worst] {
		worst = StatusMissing
	}
	switch worst {
	case StatusExpired:
		return ProviderExpired
	case StatusMissing:
		return ProviderMissing
	case StatusExpiring:
		return ProviderExpiring
	case StatusPending:
		return ProviderPending
	}
	return ProviderCompliant
}

// MissingTypes lists the required credential types (for the provider's
// profession) that the provider holds no credential of.
func (p *Provider) MissingTypes() []CredentialType {
	var missing []CredentialType
	for _, t := range RequiredCredentials(p.Profession) {
		if !slices.ContainsFunc(p.Credentials, func(c *Credential) bool { return c.Type == t }) {
			missing = append(missing, t)
		}
	}
	return missing
}

// RequiredCredentials returns the default required-credential set for a
// profession. Organizations will be able to override it (issue 5).
func RequiredCredentials(p Profession) []CredentialType {
	switch p {
	case ProfRN, ProfLPN:
		return []CredentialType{CredStateLicense, CredCertification}
	case ProfAPRN, ProfCRNA, ProfCNM, ProfPA:
		return []CredentialType{CredStateLicense, CredNPI, CredBoardCertification, CredCertification}
	case ProfMD, ProfDO:
		return []CredentialType{CredStateLicense, CredNPI, CredDEA, CredBoardCertification, CredMalpractice}
	case ProfPT, ProfOT, ProfPharmacist:
		return []CredentialType{CredStateLicense, CredNPI}
	}
	return nil
}

// ProviderFilter selects providers for a list page or export.
type ProviderFilter struct {
	Query      string // matches names (case-insensitive substring)
	NPI        string // exact match through the blind index
	Profession Profession
	Status     ProviderStatus
	Limit      int // default 50, at most 500
	Offset     int
}

// ProviderService manages the providers of the organization in ctx.
type ProviderService interface {
	// CreateProvider stores p in the actor's organization and sets p.ID.
	CreateProvider(ctx context.Context, p *Provider) error
	// FindProviderByID returns a provider with its credentials. Reading it
	// is audited. Another organization's ID gives ENOTFOUND.
	FindProviderByID(ctx context.Context, id string) (*Provider, error)
	// FindProviders returns one page of providers (with credential
	// summaries, no sensitive numbers) and the total that match.
	FindProviders(ctx context.Context, f ProviderFilter) ([]*Provider, int, error)
}
