// Package totp enrols and checks time-based one-time passwords (RFC 6238)
// and issues the recovery codes that stand in for a lost authenticator.
//
// The parameters follow the security reference (§1.3) and what Authelia,
// Keycloak and Vault use by default: HMAC-SHA1, 6 digits, a 30-second
// period, a 20-byte seed from crypto/rand, and a window of one step either
// side of the server clock. These are the settings every authenticator app
// understands.
//
// pquerna/otp has no replay protection, so Validate returns the time step
// that matched and the caller persists it per user (last_used_step). A code
// whose step is not after the persisted one is refused with ErrReplayed
// (ASVS 5.0 6.5.1: a TOTP code is usable once), which also covers the
// previous step's code still being inside the window.
//
// The package keeps no state and reads no clock: the caller passes now, so
// tests and the lockout logic share one injectable clock.
package totp

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Fixed TOTP parameters. Changing any of them invalidates every enrolled
// authenticator, so they are constants rather than options.
const (
	// Period is the length of one time step in seconds (RFC 6238 X).
	Period = 30
	// Digits is the number of digits in a code.
	Digits = 6
	// Skew is how many steps either side of the current one are accepted,
	// to absorb clock drift and the time it takes to type the code.
	Skew = 1
	// SecretSize is the size of a new seed in bytes (160 bits, the size
	// RFC 4226 recommends and pquerna's default).
	SecretSize = 20
	// minSecretSize is the smallest seed Validate accepts (RFC 4226 §4 R6:
	// at least 128 bits). It refuses an empty or truncated seed, with which
	// anyone could compute the codes.
	minSecretSize = 16
)

// QR image size bounds for Enrollment.QRPNG, in pixels.
const (
	MinQRSize = 128
	MaxQRSize = 1024
)

var (
	// ErrInvalid means the code is malformed (not exactly Digits ASCII
	// digits once spaces are removed) or wrong for every step in the window.
	// Count it as a failed authentication attempt.
	ErrInvalid = errors.New("totp: invalid code")

	// ErrReplayed means the code is correct but its time step is not after
	// the last step this user has already used: the same code (or an older
	// one) is being submitted again. The caller audits "auth.mfa.replayed"
	// and should show the user the same message as for ErrInvalid.
	ErrReplayed = errors.New("totp: code already used")

	// ErrBadSecret means the stored seed is not valid base32 or is shorter
	// than 128 bits. It indicates corrupted or mis-decrypted data, not a
	// user error.
	ErrBadSecret = errors.New("totp: invalid secret")
)

// Enrollment is a freshly generated TOTP seed, shown to the user once during
// enrolment and stored (encrypted) only after the user has confirmed it with
// a valid code.
type Enrollment struct {
	// Secret is the seed in unpadded upper-case base32 (32 characters), the
	// form Validate takes and authenticator apps accept for manual entry.
	// It is a secret: encrypt it at rest and never log it.
	Secret string
	// URL is the otpauth://totp/... key URI carrying the seed, issuer,
	// account, algorithm, digits and period; it is what the QR code encodes.
	// It contains the secret.
	URL string
}

// NewSecret generates a new seed (SecretSize bytes from crypto/rand) for
// account at issuer, with SHA1, Digits digits and a Period-second period.
// issuer and account are shown in the authenticator app; they must be
// non-empty and must not contain a colon, which separates them in the key
// URI.
func NewSecret(issuer, account string) (*Enrollment, error) {
	if strings.TrimSpace(issuer) == "" || strings.TrimSpace(account) == "" {
		return nil, errors.New("totp: issuer and account must not be empty")
	}
	if strings.Contains(issuer, ":") || strings.Contains(account, ":") {
		return nil, errors.New("totp: issuer and account must not contain ':'")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      Period,
		SecretSize:  SecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
		Rand:        rand.Reader,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: generate: %w", err)
	}
	return &Enrollment{Secret: key.Secret(), URL: key.URL()}, nil
}

// QRPNG renders e.URL as a black-on-white QR code in a size×size PNG, with a
// white border of at least the four modules scanners expect. The bytes are
// meant to be served from a session-bound, no-store route (the page's CSP
// forbids data: images); they contain the secret, so never cache or log
// them. size must be between MinQRSize and MaxQRSize.
func (e *Enrollment) QRPNG(size int) ([]byte, error) {
	if size < MinQRSize || size > MaxQRSize {
		return nil, fmt.Errorf("totp: QR size %d outside [%d, %d]", size, MinQRSize, MaxQRSize)
	}
	key, err := otp.NewKeyFromURL(e.URL)
	if err != nil {
		return nil, fmt.Errorf("totp: parse key URL: %w", err)
	}
	// The code takes the middle three quarters, leaving size/8 of white on
	// each side. For any QR code of 24 modules or more (a key URI needs far
	// more) that is at least four modules.
	inner := size * 3 / 4
	qr, err := key.Image(inner, inner)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	off := (size - inner) / 2
	draw.Draw(img, image.Rect(off, off, off+inner, off+inner), qr, qr.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// Step returns the RFC 6238 time step containing t: floor(unix(t) / Period).
// Validate returns steps on this scale, and per-step rate limits can key on
// it.
func Step(t time.Time) int64 {
	u := t.Unix()
	s := u / Period
	if u%Period < 0 {
		s-- // floor, not truncation, before 1970
	}
	return s
}

// Validate checks code against secret (base32, as in Enrollment.Secret) for
// the steps Step(now)-Skew through Step(now)+Skew and returns the step that
// matched. The caller must persist that step as the user's lastUsedStep
// (atomically, e.g. UPDATE ... WHERE last_used_step < step) and pass it on
// the next call; pass 0 for a user who has never used a code.
//
// Spaces are removed from code, which must then be exactly Digits ASCII
// digits. A malformed or wrong code gives ErrInvalid. A correct code whose
// step is ≤ lastUsedStep gives ErrReplayed; it is reported only for correct
// codes, so it reveals nothing to someone guessing. If a code happens to
// match several steps in the window, the latest step after lastUsedStep is
// returned. A seed that is not base32 or is shorter than 128 bits gives an
// error wrapping ErrBadSecret.
//
// All candidate codes are computed and compared in constant time, whatever
// the input.
func Validate(secret, code string, now time.Time, lastUsedStep int64) (step int64, err error) {
	secret, err = normalizeSecret(secret)
	if err != nil {
		return 0, err
	}
	code = stripSpace(code)
	if !isDigits(code, Digits) {
		return 0, ErrInvalid
	}

	opts := totp.ValidateOpts{
		Period:    Period,
		Digits:    otp.DigitsSix,
		Algorithm: otp.AlgorithmSHA1,
	}
	cur := Step(now)
	var fresh, used int64 = -1, -1 // latest matching step after / not after lastUsedStep
	for s := cur - Skew; s <= cur+Skew; s++ {
		if s < 0 {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*Period, 0), opts)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrBadSecret, err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			if s > lastUsedStep {
				fresh = s
			} else {
				used = s
			}
		}
	}
	switch {
	case fresh >= 0:
		return fresh, nil
	case used >= 0:
		return 0, ErrReplayed
	default:
		return 0, ErrInvalid
	}
}

// normalizeSecret returns secret as unpadded upper-case base32 without
// spaces (pquerna re-adds the padding), after checking that it decodes to at
// least minSecretSize bytes.
func normalizeSecret(secret string) (string, error) {
	s := strings.ToUpper(strings.TrimRight(stripSpace(secret), "="))
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%w: not base32", ErrBadSecret)
	}
	if len(b) < minSecretSize {
		return "", fmt.Errorf("%w: %d bytes, want at least %d", ErrBadSecret, len(b), minSecretSize)
	}
	return s, nil
}

// stripSpace removes all white space from s.
func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
