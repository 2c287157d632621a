package credtrack

import (
	"context"
	"slices"
	"strings"
	"time"
)

// CredentialType is the kind of a credential.
type CredentialType string

// The credential types of DESIGN.md.
const (
	CredStateLicense       CredentialType = "state_license"
	CredNPI                CredentialType = "npi"
	CredDEA                CredentialType = "dea"
	CredBoardCertification CredentialType = "board_certification"
	CredCE                 CredentialType = "ce_credit"
	CredPrivilege          CredentialType = "hospital_privilege"
	CredPayerEnrollment    CredentialType = "payer_enrollment"
	CredMalpractice        CredentialType = "malpractice"
	CredCertification      CredentialType = "certification"
	CredOther              CredentialType = "other"
)

// CredentialTypes lists every type in display order.
var CredentialTypes = []CredentialType{CredStateLicense, CredNPI, CredDEA, CredBoardCertification,
	CredCE, CredPrivilege, CredPayerEnrollment, CredMalpractice, CredCertification, CredOther}

// Label returns the type's name for people.
func (t CredentialType) Label() string {
	switch t {
	case CredStateLicense:
		return "State license"
	case CredNPI:
		return "NPI"
	case CredDEA:
		return "DEA registration"
	case CredBoardCertification:
		return "Board certification"
	case CredCE:
		return "CE credit"
	case CredPrivilege:
		return "Hospital privileges"
	case CredPayerEnrollment:
		return "Payer enrollment"
	case CredMalpractice:
		return "Malpractice coverage"
	case CredCertification:
		return "Certification"
	}
	return "Other"
}

// CredentialStatus is the derived state of one credential.
type CredentialStatus string

// Credential statuses.
const (
	StatusActive   CredentialStatus = "active"
	StatusExpiring CredentialStatus = "expiring"
	StatusExpired  CredentialStatus = "expired"
	StatusMissing  CredentialStatus = "missing"
	StatusPending  CredentialStatus = "pending"
)

// Credential is one license, registration, certification, CE credit,
// privilege, enrollment or coverage of a provider. Number is sensitive:
// the store encrypts it and keeps only a blind index and the last four
// characters in clear.
type Credential struct {
	ID           string
	OrgID        string
	ProviderID   string
	Type         CredentialType
	Issuer       string // board, agency, carrier, payer, facility…
	Jurisdiction string // state code or "US"
	Number       string
	NumberLast4  string
	IssuedOn     Date
	ExpiresOn    Date
	VerifiedAt   time.Time // last primary-source verification, zero if never
	VerifiedBy   string    // the source of that verification
	Notes        string
	// Details holds the type-specific fields (license type, schedules,
	// hours, limits…), validated per type.
	Details   map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Status derives the credential's state on a given day with the
// organization's expiring window.
func (c *Credential) Status(today Date, windowDays int) CredentialStatus {
	if !c.ExpiresOn.IsZero() {
		days := c.ExpiresOn.DaysUntil(today)
		if days < 0 {
			return StatusExpired
		}
		if days <= windowDays {
			return StatusExpiring
		}
	}
	if c.VerifiedAt.IsZero() {
		return StatusPending
	}
	return StatusActive
}

// Validate checks a credential before it is stored, including the check
// digits of NPI and DEA numbers.
func (c *Credential) Validate() error {
	if !slices.Contains(CredentialTypes, c.Type) {
		return Errorf(EINVALID, "unknown credential type %q", c.Type)
	}
	if c.ProviderID == "" {
		return Errorf(EINVALID, "a credential belongs to a provider")
	}
	c.Number = strings.TrimSpace(c.Number)
	switch c.Type {
	case CredNPI:
		if !ValidNPI(c.Number) {
			return Errorf(EINVALID, "NPI must be 10 digits with a valid check digit")
		}
	case CredDEA:
		c.Number = NormalizeDEA(c.Number)
		if !ValidDEA(c.Number) {
			return Errorf(EINVALID, "DEA number must be 2 letters and 7 digits with a valid check digit")
		}
	case CredStateLicense:
		if c.Number == "" || c.Jurisdiction == "" {
			return Errorf(EINVALID, "a state license needs a number and a state")
		}
	}
	if len(c.Number) > 50 {
		return Errorf(EINVALID, "credential number is longer than 50 characters")
	}
	if !c.IssuedOn.IsZero() && !c.ExpiresOn.IsZero() && c.ExpiresOn.Before(c.IssuedOn.Time) {
		return Errorf(EINVALID, "expiry date is before the issue date")
	}
	c.NumberLast4 = Last4(c.Number)
	return nil
}

// CredentialService manages credentials in the organization in ctx.
type CredentialService interface {
	// CreateCredential stores c and sets c.ID; the provider must belong to
	// the actor's organization.
	CreateCredential(ctx context.Context, c *Credential) error
	// FindCredentialByID returns one credential with its number; the read is audited.
	FindCredentialByID(ctx context.Context, id string) (*Credential, error)
}
