package credtrack

import (
	"context"
	"strings"
	"time"
)

// OrgKind distinguishes a credentialing organization from the personal
// workspace of a provider who signed up alone.
type OrgKind string

// The kinds of organization.
const (
	OrgKindTeam     OrgKind = "team"
	OrgKindPersonal OrgKind = "personal"
)

// Organization is a tenant: a hospital, medical group, staffing agency, or a
// provider's personal workspace. Every tenant-owned row carries its ID.
type Organization struct {
	ID        string
	Name      string
	Kind      OrgKind
	CreatedAt time.Time
	// ExpiringWindowDays is how many days before expiry a credential counts
	// as "expiring". Default 90.
	ExpiringWindowDays int
	// RequiredCredentials overrides the default required credential types
	// per profession; nil means the defaults for every profession.
	RequiredCredentials RequiredCredentialSet
}

// Validate checks an organization before it is stored.
func (o *Organization) Validate() error {
	o.Name = strings.TrimSpace(o.Name)
	if o.Name == "" {
		return Errorf(EINVALID, "organization name is required")
	}
	if len(o.Name) > 200 {
		return Errorf(EINVALID, "organization name is longer than 200 characters")
	}
	if o.Kind == "" {
		o.Kind = OrgKindTeam
	}
	if o.Kind != OrgKindTeam && o.Kind != OrgKindPersonal {
		return Errorf(EINVALID, "unknown organization kind %q", o.Kind)
	}
	if o.ExpiringWindowDays == 0 {
		o.ExpiringWindowDays = 90
	}
	if o.ExpiringWindowDays < 1 || o.ExpiringWindowDays > 365 {
		return Errorf(EINVALID, "expiring window must be between 1 and 365 days")
	}
	return nil
}

// OrgService manages organizations. Operator commands call it with a
// system actor; creating an organization is audited in that organization.
type OrgService interface {
	// CreateOrg stores a new organization and sets o.ID.
	CreateOrg(ctx context.Context, o *Organization) error
	// FindOrgByID returns the organization, ENOTFOUND if there is none.
	FindOrgByID(ctx context.Context, id string) (*Organization, error)
	// FindOrgByName returns the first organization with this exact name.
	FindOrgByName(ctx context.Context, name string) (*Organization, error)
}
