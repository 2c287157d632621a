package credtrack

import "time"

// TrustedDevice is a browser a user chose to trust after passing the TOTP
// prompt ("trust this device for 30 days"). The browser holds a random
// token in its own cookie; only the token's SHA-256 is stored. While the
// device is unexpired and not revoked, signing in from that browser skips
// the TOTP prompt.
type TrustedDevice struct {
	ID         string
	UserID     string
	Name       string // the browser and system, from the user agent
	IP         string // the address it was last seen from
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// MFAStatus is what the account page shows about a user's TOTP.
type MFAStatus struct {
	// EnabledAt is when TOTP was confirmed; zero when not enrolled.
	EnabledAt time.Time
	// RecoveryCodesLeft is how many unused recovery codes remain.
	RecoveryCodesLeft int
	// Required reports whether a role or an organization of the user
	// requires TOTP, in which case it cannot be turned off.
	Required bool
}

// MFAResult is the outcome of a TOTP or recovery code check by the store.
type MFAResult struct {
	// Token is the session's new token after a successful step-up ("" for
	// checks that do not rotate the session).
	Token string
	// UserID is the user whose code was checked.
	UserID string
	// Locked reports that this failure locked the account (so the caller
	// emails the user once); Until is the lock's end.
	Locked bool
	Until  time.Time
}
