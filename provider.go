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
// default credential types required for its profession.
func (p *Provider) Status(today Date, windowDays int) ProviderStatus {
	return p.StatusWith(today, windowDays, nil)
}

// StatusWith derives the provider's overall status with an organization's
// required-credential set (nil means the defaults).
func (p *Provider) StatusWith(today Date, windowDays int, req RequiredCredentialSet) ProviderStatus {
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
	if len(p.MissingFrom(req)) > 0 && rank[StatusMissing] > rank[worst] {
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

// MissingTypes lists the default required credential types (for the
// provider's profession) that the provider holds no credential of.
func (p *Provider) MissingTypes() []CredentialType { return p.MissingFrom(nil) }

// MissingFrom lists the credential types an organization's set requires
// for the provider's profession that the provider holds none of.
func (p *Provider) MissingFrom(req RequiredCredentialSet) []CredentialType {
	var missing []CredentialType
	for _, t := range req.For(p.Profession) {
		if !slices.ContainsFunc(p.Credentials, func(c *Credential) bool { return c.Type == t }) {
			missing = append(missing, t)
		}
	}
	return missing
}

// RequiredCredentials returns the default required-credential set for a
// profession. Organizations override it per profession
// (RequiredCredentialSet, on the organization settings page).
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

// RequiredCredentialSet is an organization's override of the required
// credential types per profession. A profession that is not a key uses
// the defaults of RequiredCredentials; a key with an empty list requires
// nothing.
type RequiredCredentialSet map[Profession][]CredentialType

// For returns the credential types required for a profession.
func (s RequiredCredentialSet) For(p Profession) []CredentialType {
	if ts, ok := s[p]; ok {
		return ts
	}
	return RequiredCredentials(p)
}

// Validate checks that every key is a profession and every value a
// credential type, and sorts each list in display order without repeats.
// Entries equal to the defaults are dropped, so that an organization
// follows future changes of the defaults for professions it never changed.
func (s RequiredCredentialSet) Validate() error {
	for prof, ts := range s {
		if !slices.Contains(Professions, prof) {
			return Errorf(EINVALID, "unknown profession %q", prof)
		}
		var clean []CredentialType
		for _, t := range CredentialTypes {
			if slices.Contains(ts, t) {
				clean = append(clean, t)
			}
		}
		for _, t := range ts {
			if !slices.Contains(CredentialTypes, t) {
				return Errorf(EINVALID, "unknown credential type %q", t)
			}
		}
		if slices.Equal(clean, RequiredCredentials(prof)) {
			delete(s, prof)
			continue
		}
		if clean == nil {
			clean = []CredentialType{}
		}
		s[prof] = clean
	}
	return nil
}

// ProviderFilter selects providers for a list page or export.
type ProviderFilter struct {
	Query string // matches names (case-insensitive substring)
	// QueryOrLicense widens Query: a provider also matches when they hold
	// a state license whose number is exactly Query (through the blind
	// index). The web search box sets it for input that contains a digit.
	QueryOrLicense bool
	// Exact-match lookups through the keyed blind indexes (the numbers
	// are never stored or compared in plaintext). Input is normalized the
	// way the index was computed when the value was written, so spaces,
	// dashes in an NPI and lower case still match. Several set together
	// must all match.
	NPI          string // the provider's NPI, or an NPI credential's number
	DEA          string // a DEA registration's number (an institutional "-suffix" is dropped)
	License      string // a state license's number
	LicenseState string // with License: only a license issued by this state
	Profession   Profession
	Status       ProviderStatus
	// CredentialType keeps providers holding at least one credential of this type.
	CredentialType CredentialType
	// ExpiringWithinDays, when > 0, keeps providers with a credential
	// expiring between today and today plus this many days.
	ExpiringWithinDays int
	Sort               ProviderSort
	Limit              int // default 50, at most 500
	Offset             int
}

// ProviderSort orders a provider list.
type ProviderSort string

// The orders of a provider list; the zero value is SortName.
const (
	SortName       ProviderSort = "name"
	SortNameDesc   ProviderSort = "-name"
	SortNextExpiry ProviderSort = "expiry"  // soonest credential expiry first; none last
	SortWorstFirst ProviderSort = "status"  // overall status, worst first, then name
	SortUpdated    ProviderSort = "updated" // most recently changed first
)

// ProviderSorts lists the orders in display order.
var ProviderSorts = []ProviderSort{SortName, SortNameDesc, SortNextExpiry, SortWorstFirst, SortUpdated}

// ProviderStatuses lists the overall statuses, worst first.
var ProviderStatuses = []ProviderStatus{ProviderExpired, ProviderMissing, ProviderExpiring, ProviderPending,
	ProviderCompliant, ProviderInactive}

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
	// UpdateProvider replaces the stored fields of provider p.ID with p's
	// (provider.write). NPI is replaced as given (it is opened by
	// FindProviderByID); SSN and DOB, which reads never open, are kept when
	// p leaves them empty. Audited as "provider.updated" with the names of
	// the changed fields.
	UpdateProvider(ctx context.Context, p *Provider) error
	// DeleteProvider deletes a provider with its credentials, verification
	// records and document records (provider.write). Audited as
	// "provider.deleted". Another organization's ID gives ENOTFOUND.
	DeleteProvider(ctx context.Context, id string) error
}
