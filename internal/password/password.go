// Package password hashes and checks passwords with argon2id (RFC 9106) in
// the PHC string format, with the OWASP ASVS parameters (t=2, m=19 MiB,
// p=1), and knows when a stored hash should be upgraded on the next login.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"credtrack"
)

// Params are argon2id cost parameters.
type Params struct {
	Time    uint32 // iterations
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// Default is the production setting: ASVS 5.0 Appendix C's
// "t=2, m≥19 MiB, p=1", measured at about 56 ms on this 2-core machine.
var Default = Params{Time: 2, Memory: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// Hasher hashes with fixed parameters and caps concurrent hashing so that a
// burst of logins cannot exhaust memory (19 MiB each).
type Hasher struct {
	Params Params
	sem    chan struct{}
}

// NewHasher returns a Hasher running at most concurrency hashes at once.
func NewHasher(p Params, concurrency int) *Hasher {
	return &Hasher{Params: p, sem: make(chan struct{}, max(concurrency, 1))}
}

// Limits of what is accepted as a password. 8 is the security page's
// minimum; anything up to MaxLength is accepted whole, never truncated.
const (
	MinLength = 8
	MaxLength = 1024
)

// CheckLength enforces the length bounds (counted in characters, not bytes).
func CheckLength(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinLength {
		return credtrack.Errorf(credtrack.EINVALID, "the password must have at least %d characters", MinLength)
	}
	if n > MaxLength {
		return credtrack.Errorf(credtrack.EINVALID, "the password must have at most %d characters", MaxLength)
	}
	return nil
}

// Hash returns the PHC string of pw with a fresh random salt.
func (h *Hasher) Hash(pw string) (string, error) {
	salt := make([]byte, h.Params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h.sem <- struct{}{}
	key := argon2.IDKey([]byte(pw), salt, h.Params.Time, h.Params.Memory, h.Params.Threads, h.Params.KeyLen)
	<-h.sem
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.Params.Memory, h.Params.Time,
		h.Params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformed is returned for a stored hash that is not an argon2id PHC string.
var ErrMalformed = errors.New("password: malformed hash")

func parse(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Params{}, nil, nil, ErrMalformed
	}
	var p Params
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || threads == 0 || threads > 255 {
		return Params{}, nil, nil, ErrMalformed
	}
	p.Threads = uint8(threads)
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return Params{}, nil, nil, ErrMalformed
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key)) // #nosec G115 -- salt and key come from a parsed hash string, far below 4 GiB
	return p, salt, key, nil
}

// Verify reports whether pw matches the stored hash, in constant time with
// respect to the key comparison.
func (h *Hasher) Verify(encoded, pw string) bool {
	p, salt, key, err := parse(encoded)
	if err != nil {
		return false
	}
	h.sem <- struct{}{}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	<-h.sem
	return subtle.ConstantTimeCompare(got, key) == 1
}

// NeedsRehash reports whether a stored hash uses other parameters than
// the Hasher's, so the caller re-hashes the password after a successful
// login.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := parse(encoded)
	return err != nil || p.Time != h.Params.Time || p.Memory != h.Params.Memory || p.Threads != h.Params.Threads || p.KeyLen != h.Params.KeyLen
}

// Dummy burns the same time as a Verify, so that an unknown account takes
// as long to refuse as a wrong password.
func (h *Hasher) Dummy(pw string) {
	h.sem <- struct{}{}
	argon2.IDKey([]byte(pw), make([]byte, h.Params.SaltLen), h.Params.Time, h.Params.Memory, h.Params.Threads, h.Params.KeyLen)
	<-h.sem
}
