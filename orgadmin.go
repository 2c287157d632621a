package credtrack

import "time"

// Member is one person's membership of an organization as the member
// administration page shows it.
type Member struct {
	UserID string
	Email  string
	Name   string
	Role   Role
	// MFAEnrolled reports whether the person has confirmed TOTP.
	MFAEnrolled bool
	// LockedUntil is the end of a sign-in lock in force; zero when the
	// account is not locked.
	LockedUntil time.Time
	CreatedAt   time.Time
}

// Invitation is an emailed offer to join an organization with a role. Only
// the SHA-256 of its token is stored; the token travels in the email only.
type Invitation struct {
	ID        string
	OrgID     string
	Email     string
	Role      Role
	InvitedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// InvitationTTL is how long an invitation link works (issue 3: 7 days).
const InvitationTTL = 7 * 24 * time.Hour

// OrgSettings are the settings an owner or admin changes on the
// organization settings page.
type OrgSettings struct {
	// Name is shown for reference only; it is not changed here.
	Name string
	// RequireMFA makes TOTP compulsory for every member, whatever the role.
	RequireMFA bool
	// ExpiringWindowDays is how many days before expiry a credential counts
	// as expiring (1–365).
	ExpiringWindowDays int
	// RequiredCredentials overrides the required credential types per
	// profession. When saving, nil leaves the stored set unchanged; an
	// empty, non-nil set restores the defaults.
	RequiredCredentials RequiredCredentialSet
}
