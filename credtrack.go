// Package credtrack holds the domain of credtrack: the types a credentialing
// team works with (organizations, users, providers, credentials, documents,
// verifications, audit events, jobs), the errors those operations return,
// the role and permission table, and the service interfaces that the store
// and the other internal packages implement.
//
// The package imports only the standard library. Everything under internal/
// depends on it, never the reverse; cmd/credtrack wires the concrete types.
package credtrack

import (
	"crypto/rand"
	"time"
)

// Version is the release version, set at build time with
// -ldflags "-X credtrack.Version=…".
var Version = "dev"

// Now returns the current time. Tests replace it through the Clock fields
// of the services that need a fake clock; this default is the real clock in UTC.
func Now() time.Time { return time.Now().UTC() }

// NewID returns a new random identifier for a stored record. IDs are random
// (130 bits from crypto/rand, base32) rather than sequential so that they
// reveal nothing about how many records another organization holds and
// cannot be guessed.
func NewID() string { return rand.Text() }

// Date is a calendar date without a time of day, as used for issue and
// expiry dates of credentials. The zero Date means "not set".
type Date struct{ time.Time }

// DateLayout is the textual form of a Date in forms, CSV files and JSON.
const DateLayout = "2006-01-02"

// ParseDate parses a YYYY-MM-DD date. An empty string yields the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return Date{}, Errorf(EINVALID, "invalid date %q: use YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// DateOf returns the calendar date of t in UTC.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// String returns the date as YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(DateLayout)
}

// DaysUntil returns the number of whole days from today to d; negative when
// d is in the past.
func (d Date) DaysUntil(today Date) int {
	return int(d.Sub(today.Time).Hours() / 24)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
