package credtrack

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// User is a person's account. A user may belong to several organizations
// through Memberships, with a role in each.
type User struct {
	ID              string
	Email           string // normalized: see NormalizeEmail
	Name            string
	PasswordHash    string // argon2id PHC string; never shown or logged
	EmailVerifiedAt time.Time
	CreatedAt       time.Time
	DisabledAt      time.Time
	// AdultAttestedAt is when the person confirmed being 18 or older at
	// sign-up; zero for accounts an operator or the demo created.
	AdultAttestedAt time.Time
	// TOTPEnabledAt is when TOTP was confirmed; zero when not enrolled.
	TOTPEnabledAt time.Time
}

// Membership is a user's role in one organization.
type Membership struct {
	OrgID   string
	OrgName string
	OrgKind OrgKind
	// OrgRequireMFA is the organization's setting that every member, in
	// any role, must use TOTP.
	OrgRequireMFA bool
	UserID        string
	Role          Role
	CreatedAt     time.Time
}

// NormalizeEmail trims and lower-cases an address and checks its form.
// Only ASCII addresses are accepted: Unicode look-alikes ("ｅxample",
// Cyrillic "а") could otherwise register a second account that reads the
// same as someone else's.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if r > 0x7e || r < 0x21 {
			return "", Errorf(EINVALID, "email address must use plain ASCII characters")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s, "@") || len(s) > 254 {
		return "", Errorf(EINVALID, "not a valid email address")
	}
	return strings.ToLower(s), nil
}

// Validate checks a user before it is stored.
func (u *User) Validate() error {
	email, err := NormalizeEmail(u.Email)
	if err != nil {
		return err
	}
	u.Email = email
	u.Name = strings.TrimSpace(u.Name)
	if len(u.Name) > 200 {
		return Errorf(EINVALID, "name is longer than 200 characters")
	}
	return nil
}

// UserService manages accounts and memberships.
type UserService interface {
	// CreateUser stores a new user (u.PasswordHash already set by the caller)
	// and sets u.ID. ECONFLICT if the email is taken.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByEmail returns the user with this (normalized) email.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// FindUserByID returns the user.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// AddMembership gives user a role in the organization of the actor in ctx.
	AddMembership(ctx context.Context, userID string, role Role) error
	// FindMemberships lists the organizations a user belongs to.
	FindMemberships(ctx context.Context, userID string) ([]*Membership, error)
}

// APIToken is a bearer token for /api/v1, created for one organization and
// one role. Only its SHA-256 is stored; the secret is shown once.
type APIToken struct {
	ID         string
	OrgID      string
	Name       string
	Role       Role
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: no expiry
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// TokenService manages API tokens.
type TokenService interface {
	// CreateAPIToken stores t in the actor's organization and returns the
	// secret, which is not stored and cannot be shown again.
	CreateAPIToken(ctx context.Context, t *APIToken) (secret string, err error)
}

// MaxSessionsPerUser is the most sessions one account keeps at a time
// (ASVS 7.1.1). A new sign-in beyond it ends the least recently used
// session, so a forgotten browser cannot accumulate live sessions.
// docs/sessions.md documents it with the timeouts.
const MaxSessionsPerUser = 10

// Session is a signed-in browser session. The token itself is never
// stored: only its SHA-256.
type Session struct {
	ID         string
	UserID     string
	OrgID      string // the organization the session acts in
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end, whatever the activity
	MFAAt      time.Time
	IP         string
	UserAgent  string
}

// SessionStage is how far a session has got through signing in. Only a
// StageReady session acts in an organization; the others may reach only
// the pages that finish signing in, and sign out.
type SessionStage string

// The stages, in the order a sign-in passes them.
const (
	// StageVerifyEmail: the address has not been confirmed by its link.
	StageVerifyEmail SessionStage = "verify_email"
	// StageMFA: the password was right; a TOTP or recovery code is due.
	StageMFA SessionStage = "mfa"
	// StageMFAEnrol: the role (or the organization) requires TOTP and the
	// user has none yet.
	StageMFAEnrol SessionStage = "mfa_enrol"
	// StageReady: fully signed in.
	StageReady SessionStage = ""
)

// NextStage works out the stage of a session from the facts that decide
// it: whether the email is verified, whether TOTP is enrolled, whether
// this session has passed a TOTP prompt (or came from a trusted device),
// and whether the membership the session acts in requires MFA.
func NextStage(u *User, sessionMFA bool, m *Membership) SessionStage {
	switch {
	case u.EmailVerifiedAt.IsZero():
		return StageVerifyEmail
	case !u.TOTPEnabledAt.IsZero() && !sessionMFA:
		return StageMFA
	case u.TOTPEnabledAt.IsZero() && m != nil && (m.Role.MFARequired() || m.OrgRequireMFA):
		return StageMFAEnrol
	}
	return StageReady
}
