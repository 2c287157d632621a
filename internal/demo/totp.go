package demo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/url"
	"time"

	"credtrack"
	"credtrack/internal/totp"

	pqtotp "github.com/pquerna/otp/totp"
)

// TOTP for the demo accounts whose role requires it (owner, admin,
// coordinator): without it they could not sign in without first setting
// up an authenticator. Each seed is HMAC-SHA256(key, email) cut to 20
// bytes, where key is derived from the installation's random master key:
// random per installation, yet the same on every restart, so the printed
// seeds keep working without storing them anywhere else.

// TOTPStore is what EnrolTOTP needs; *sqlstore.DB implements it.
type TOTPStore interface {
	FindUserByEmail(ctx context.Context, email string) (*credtrack.User, error)
	SetTOTP(ctx context.Context, userID, secret string) error
}

// TOTPLogin is the TOTP seed of one demo account, for the caller to print.
type TOTPLogin struct {
	Email  string
	Role   credtrack.Role
	Secret string // base32, for typing into an authenticator app
	URL    string // the otpauth:// key URI
}

// totpRoles are the demo accounts that get TOTP.
func totpRoles() []credtrack.Role {
	var out []credtrack.Role
	for _, s := range staff {
		if s.role.MFARequired() {
			out = append(out, s.role)
		}
	}
	return out
}

// TOTPSecret returns the demo seed of email under key (base32, 32
// characters).
func TOTPSecret(key []byte, email string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("credtrack-demo-totp\x00" + email))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:totp.SecretSize])
}

// EnrolTOTP puts TOTP in force for the demo accounts whose role requires
// it, with seeds from TOTPSecret, and returns the seeds to print. An
// account that already has TOTP (an earlier start) is left as it is.
func EnrolTOTP(ctx context.Context, s TOTPStore, key []byte) ([]TOTPLogin, error) {
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor(actorName, ""))
	var out []TOTPLogin
	for _, role := range totpRoles() {
		email := loginEmail(role)
		u, err := s.FindUserByEmail(sys, email)
		if err != nil {
			return nil, fmt.Errorf("demo: find %s account: %w", role, err)
		}
		secret := TOTPSecret(key, email)
		if u.TOTPEnabledAt.IsZero() {
			if err := s.SetTOTP(sys, u.ID, secret); err != nil {
				return nil, fmt.Errorf("demo: set up TOTP of the %s account: %w", role, err)
			}
		}
		v := url.Values{"secret": {secret}, "issuer": {"credtrack"}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
		u2 := url.URL{Scheme: "otpauth", Host: "totp", Path: "/credtrack:" + email, RawQuery: v.Encode()}
		out = append(out, TOTPLogin{Email: email, Role: role, Secret: secret, URL: u2.String()})
	}
	return out, nil
}

// CurrentCode returns the TOTP code at now of a demo account with TOTP,
// for the demo's MFA prompt; ok is false for any other address.
func CurrentCode(key []byte, email string, now time.Time) (code string, ok bool) {
	for _, role := range totpRoles() {
		if loginEmail(role) == email {
			c, err := pqtotp.GenerateCode(TOTPSecret(key, email), now)
			return c, err == nil
		}
	}
	return "", false
}
