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
	CredBoardCertification CredentialType = "board_certification" // #nosec G101 -- a credential type name, not a credential
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

// Validate checks a credential before it is stored: the common fields the
// type requires (CredentialSpec), the check digits of NPI and DEA numbers,
// the dates and the type-specific Details (ValidateDetails).
func (c *Credential) Validate() error {
	if !slices.Contains(CredentialTypes, c.Type) {
		return Errorf(EINVALID, "unknown credential type %q", c.Type)
	}
	if c.ProviderID == "" {
		return Errorf(EINVALID, "a credential belongs to a provider")
	}
	spec := c.Type.Spec()
	c.Number = strings.TrimSpace(c.Number)
	c.Issuer = strings.TrimSpace(c.Issuer)
	c.Jurisdiction = strings.ToUpper(strings.TrimSpace(c.Jurisdiction))
	c.Notes = strings.TrimSpace(c.Notes)
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
	label := func(l string) string { return strings.ToLower(l) }
	switch {
	case spec.RequireNumber && c.Number == "":
		return Errorf(EINVALID, "%s: %s is required", c.Type.Label(), label(spec.NumberLabel))
	case spec.RequireIssuer && c.Issuer == "":
		return Errorf(EINVALID, "%s: %s is required", c.Type.Label(), label(spec.IssuerLabel))
	case spec.RequireJurisdiction && c.Jurisdiction == "":
		return Errorf(EINVALID, "%s: %s is required", c.Type.Label(), label(spec.JurisdictionLabel))
	case spec.RequireIssued && c.IssuedOn.IsZero():
		return Errorf(EINVALID, "%s: %s date is required", c.Type.Label(), label(spec.IssuedLabel))
	case spec.RequireExpires && c.ExpiresOn.IsZero():
		return Errorf(EINVALID, "%s: %s date is required", c.Type.Label(), label(spec.ExpiresLabel))
	}
	if spec.JurisdictionState && c.Jurisdiction != "" && !validState(c.Jurisdiction) {
		return Errorf(EINVALID, "%s must be a two-letter code", label(cmpOr(spec.JurisdictionLabel, "jurisdiction")))
	}
	if len(c.Number) > 50 {
		return Errorf(EINVALID, "credential number is longer than 50 characters")
	}
	if len(c.Issuer) > 200 || len(c.Jurisdiction) > 50 || len(c.Notes) > 4000 || len(c.VerifiedBy) > 200 {
		return Errorf(EINVALID, "a credential field is too long")
	}
	if !c.IssuedOn.IsZero() && !c.ExpiresOn.IsZero() && c.ExpiresOn.Before(c.IssuedOn.Time) {
		return Errorf(EINVALID, "expiry date is before the issue date")
	}
	if err := c.ValidateDetails(); err != nil {
		return err
	}
	c.NumberLast4 = Last4(c.Number)
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// CredentialService manages credentials in the organization in ctx.
type CredentialService interface {
	// CreateCredential stores c and sets c.ID; the provider must belong to
	// the actor's organization.
	CreateCredential(ctx context.Context, c *Credential) error
	// FindCredentialByID returns one credential with its number; the read is audited.
	FindCredentialByID(ctx context.Context, id string) (*Credential, error)
	// UpdateCredential replaces the stored fields of credential c.ID with
	// c's (credential.write); the provider cannot change. An empty Number
	// keeps the stored number. Audited as "credential.updated" with the
	// names of the changed fields.
	UpdateCredential(ctx context.Context, c *Credential) error
	// DeleteCredential deletes a credential (credential.write); documents
	// attached to it stay on the provider. Audited as "credential.deleted".
	DeleteCredential(ctx context.Context, id string) error
}
