package auth

import (
	"context"
	"net/url"
	"time"

	"credtrack"
	"credtrack/internal/mail"
	"credtrack/internal/totp"
)

// TrustedDeviceLifetime is how long "trust this device" skips the TOTP
// prompt (Bitwarden's "remember me" lasts as long). For owners and admins
// it is capped at the absolute session lifetime (SECURITY.md §1.2), so a
// stolen laptop of an administrator does not skip TOTP for a month.
const TrustedDeviceLifetime = 30 * 24 * time.Hour

// Issuer names credtrack in authenticator apps.
const Issuer = "credtrack"

// qrSize is the size of the enrolment QR code in pixels.
const qrSize = 256

// MFAStore is the persistence of TOTP, recovery codes and trusted devices
// (sqlstore/mfa.go). Like AccountStore it is found by asserting Store.
type MFAStore interface {
	BeginTOTP(ctx context.Context, userID, secret string) error
	PendingTOTP(ctx context.Context, userID string) (string, error)
	ConfirmTOTP(ctx context.Context, sessionToken, code string) (string, []string, error)
	VerifyTOTP(ctx context.Context, sessionToken, code string) (credtrack.MFAResult, error)
	CheckTOTP(ctx context.Context, userID, code string) (credtrack.MFAResult, error)
	UseRecoveryCode(ctx context.Context, sessionToken, code string) (credtrack.MFAResult, error)
	MFAStatus(ctx context.Context, userID string) (*credtrack.MFAStatus, error)
	DisableTOTP(ctx context.Context, userID, keepSessionID string, reenrol bool) error
	RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error)
	CreateTrustedDevice(ctx context.Context, userID, name, ip string, ttl time.Duration) (string, error)
	UseTrustedDevice(ctx context.Context, userID, token, ip string, maxAge time.Duration) (bool, error)
	ListTrustedDevices(ctx context.Context, userID string) ([]*credtrack.TrustedDevice, error)
	RevokeTrustedDevice(ctx context.Context, userID, id string) error
	RevokeTrustedDevices(ctx context.Context, userID, reason string) (int, error)
}

func (s *Service) mfaStore() (MFAStore, error) {
	st, ok := s.Store.(MFAStore)
	if !ok {
		return nil, credtrack.Errorf(credtrack.EINTERNAL, "auth: the store does not support TOTP")
	}
	return st, nil
}

// Enrolment is a pending TOTP seed to show on the enrolment page.
type Enrolment struct {
	// Secret is the seed in base32, for typing into an app by hand.
	Secret string
	// URL is the otpauth:// key URI the QR code carries.
	URL string
}

// MFAOutcome is the result of passing the sign-in prompt.
type MFAOutcome struct {
	// Token is the session's new token; the old one no longer works.
	Token string
	// DeviceToken is set when the user asked to trust this device: the
	// value of the device cookie.
	DeviceToken string
	// DeviceTTL is how long the device is trusted.
	DeviceTTL time.Duration
}

// BeginEnrol starts a TOTP enrolment of the session's user: a new seed,
// kept sealed and pending (replacing an earlier pending one) until
// ConfirmEnrol. A user who already has TOTP gets ECONFLICT. It changes
// state, so the web calls it from a POST only.
func (s *Service) BeginEnrol(ctx context.Context, sessionToken string) (*Enrolment, error) {
	st, err := s.mfaStore()
	if err != nil {
		return nil, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	if !u.TOTPEnabledAt.IsZero() {
		return nil, credtrack.Errorf(credtrack.ECONFLICT, "TOTP is already set up for this account.")
	}
	e, err := totp.NewSecret(Issuer, u.Email)
	if err != nil {
		return nil, err
	}
	if err := st.BeginTOTP(ctx, u.ID, e.Secret); err != nil {
		return nil, err
	}
	return &Enrolment{Secret: e.Secret, URL: e.URL}, nil
}

// PendingEnrol returns the pending enrolment of the session's user, to
// show (again) without changing anything: ENOTFOUND when none is pending,
// ECONFLICT when TOTP is already in force.
func (s *Service) PendingEnrol(ctx context.Context, sessionToken string) (*Enrolment, error) {
	st, err := s.mfaStore()
	if err != nil {
		return nil, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	secret, err := st.PendingTOTP(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &Enrolment{Secret: secret, URL: keyURL(secret, u.Email)}, nil
}

// keyURL rebuilds the otpauth:// key URI of a pending seed, with the
// parameters totp.NewSecret writes.
func keyURL(secret, account string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", Issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	return (&url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + Issuer + ":" + account, RawQuery: v.Encode()}).String()
}

// EnrolQR returns the PNG QR code of the pending enrolment of the
// session's user. It holds the seed: serve it no-store only.
func (s *Service) EnrolQR(ctx context.Context, sessionToken string) ([]byte, error) {
	e, err := s.PendingEnrol(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	return (&totp.Enrollment{Secret: e.Secret, URL: e.URL}).QRPNG(qrSize)
}

// ConfirmEnrol puts TOTP in force with a code from the new authenticator
// and returns the session's new token and ten recovery codes to show once.
// The user's other sessions end; the user is emailed.
func (s *Service) ConfirmEnrol(ctx context.Context, sessionToken, code string) (string, []string, error) {
	st, err := s.mfaStore()
	if err != nil {
		return "", nil, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return "", nil, err
	}
	token, codes, err := st.ConfirmTOTP(ctx, sessionToken, code)
	if err != nil {
		return "", nil, err
	}
	s.mfaChanged(ctx, u, mail.MFAEnabled)
	return token, codes, nil
}

// VerifyMFA passes the sign-in prompt with a TOTP code, or with a
// recovery code when recovery is set. It returns the session's new token
// (the old one stops working) and, when trustDevice is set, a trusted
// device token for the device cookie, named deviceName. A wrong code
// gives EINVALID and counts towards the account's lockout; the failure
// that locks the account emails its owner.
func (s *Service) VerifyMFA(ctx context.Context, sessionToken, code string, recovery, trustDevice bool, deviceName string) (*MFAOutcome, error) {
	st, err := s.mfaStore()
	if err != nil {
		return nil, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	var res credtrack.MFAResult
	if recovery {
		res, err = st.UseRecoveryCode(ctx, sessionToken, code)
	} else {
		res, err = st.VerifyTOTP(ctx, sessionToken, code)
	}
	if err != nil {
		if res.Locked {
			s.notifyLocked(ctx, u, res.Until)
		}
		return nil, err
	}
	out := &MFAOutcome{Token: res.Token}
	if trustDevice {
		ttl := s.deviceTTL(ctx, u.ID)
		a := credtrack.ActorFromContext(ctx)
		dt, err := st.CreateTrustedDevice(ctx, u.ID, deviceName, a.IP, ttl)
		if err != nil {
			return nil, err
		}
		out.DeviceToken, out.DeviceTTL = dt, ttl
	}
	return out, nil
}

// deviceTTL is how long a device of this user may be trusted: 30 days, or
// the absolute session lifetime for someone who is an owner or admin in
// any organization.
func (s *Service) deviceTTL(ctx context.Context, userID string) time.Duration {
	if s.privileged(ctx, userID) {
		return min(TrustedDeviceLifetime, s.lifetime())
	}
	return TrustedDeviceLifetime
}

// privileged reports whether the user is an owner or admin anywhere. When
// the memberships cannot be read it answers true, the stricter choice.
func (s *Service) privileged(ctx context.Context, userID string) bool {
	ms, err := s.Store.FindMemberships(ctx, userID)
	if err != nil {
		return true
	}
	for _, m := range ms {
		if m.Role == credtrack.RoleOwner || m.Role == credtrack.RoleAdmin {
			return true
		}
	}
	return false
}

// MFAStatus returns the TOTP state of the session's user.
func (s *Service) MFAStatus(ctx context.Context, sessionToken string) (*credtrack.MFAStatus, error) {
	st, err := s.mfaStore()
	if err != nil {
		return nil, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	return st.MFAStatus(ctx, u.ID)
}

// reauth checks the password and a fresh TOTP code of the session's user
// before an MFA change (ASVS 7.5.1). A wrong password is EINVALID and, as
// for a password change, does not count towards lockout; a wrong code
// does, like at the sign-in prompt.
func (s *Service) reauth(ctx context.Context, st MFAStore, u *credtrack.User, pw, code string) error {
	if !s.Hasher.Verify(u.PasswordHash, pw) {
		s.audit(ctx, u.ID, "mfa.disabled", credtrack.OutcomeFailure, map[string]string{"reason": "wrong_password"})
		return credtrack.Errorf(credtrack.EINVALID, "The password is wrong.")
	}
	res, err := st.CheckTOTP(ctx, u.ID, code)
	if err != nil && res.Locked {
		s.notifyLocked(ctx, u, res.Until)
	}
	return err
}

// DisableMFA turns TOTP off for the session's user, given the password
// and a current code. While a role or organization requires TOTP it is
// refused (EFORBIDDEN) unless replace is set: then TOTP is reset so the
// user enrols a new authenticator before anything else. Recovery codes
// and trusted devices go, and the other sessions end. The user is emailed.
func (s *Service) DisableMFA(ctx context.Context, sessionToken, pw, code string, replace bool) error {
	st, err := s.mfaStore()
	if err != nil {
		return err
	}
	sess, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return err
	}
	if err := s.reauth(ctx, st, u, pw, code); err != nil {
		return err
	}
	if err := st.DisableTOTP(ctx, u.ID, sess.ID, replace); err != nil {
		return err
	}
	s.mfaChanged(ctx, u, mail.MFADisabled)
	return nil
}

// RegenerateRecoveryCodes replaces the recovery codes of the session's
// user, given a current TOTP code, and returns the new ones to show once.
// The user is emailed.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, sessionToken, code string) ([]string, error) {
	st, err := s.mfaStore()
	if err != nil {
		return nil, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	res, err := st.CheckTOTP(ctx, u.ID, code)
	if err != nil {
		if res.Locked {
			s.notifyLocked(ctx, u, res.Until)
		}
		return nil, err
	}
	codes, err := st.RegenerateRecoveryCodes(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	s.mfaChanged(ctx, u, mail.MFARecoveryCodesRegenerated)
	return codes, nil
}

// TrustedDevices lists the trusted devices of the session's user.
func (s *Service) TrustedDevices(ctx context.Context, sessionToken string) ([]*credtrack.TrustedDevice, error) {
	st, err := s.mfaStore()
	if err != nil {
		return nil, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	return st.ListTrustedDevices(ctx, u.ID)
}

// RevokeTrustedDevice ends one trusted device of the session's user;
// another user's device gives ENOTFOUND.
func (s *Service) RevokeTrustedDevice(ctx context.Context, sessionToken, id string) error {
	st, err := s.mfaStore()
	if err != nil {
		return err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return err
	}
	return st.RevokeTrustedDevice(ctx, u.ID, id)
}

// RevokeTrustedDevices ends every trusted device of the session's user.
func (s *Service) RevokeTrustedDevices(ctx context.Context, sessionToken string) (int, error) {
	st, err := s.mfaStore()
	if err != nil {
		return 0, err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return 0, err
	}
	return st.RevokeTrustedDevices(ctx, u.ID, "user")
}

// endTrustedDevices ends every trusted device of a user after a password
// reset (SECURITY.md §1.4). Failure is logged: the reset has happened.
func (s *Service) endTrustedDevices(ctx context.Context, userID string) {
	st, err := s.mfaStore()
	if err != nil {
		return
	}
	if _, err := st.RevokeTrustedDevices(ctx, userID, "password_reset"); err != nil {
		s.Log.Error("trusted devices not ended after a password reset", "err", err)
	}
}

// trustedDevice reports whether deviceToken lets user u skip the TOTP
// prompt at sign-in.
func (s *Service) trustedDevice(ctx context.Context, u *credtrack.User, deviceToken string) bool {
	if deviceToken == "" || u.TOTPEnabledAt.IsZero() {
		return false
	}
	st, err := s.mfaStore()
	if err != nil {
		return false
	}
	var maxAge time.Duration
	if s.privileged(ctx, u.ID) {
		maxAge = s.lifetime()
	}
	ok, err := st.UseTrustedDevice(ctx, u.ID, deviceToken, credtrack.ActorFromContext(ctx).IP, maxAge)
	if err != nil {
		s.Log.Warn("trusted device not checked", "err", err)
		return false
	}
	return ok
}

// mfaChanged emails the user that TOTP changed (ASVS 4.0 2.5.5).
func (s *Service) mfaChanged(ctx context.Context, u *credtrack.User, what string) {
	s.send(ctx, u.Email, mail.TemplateMFAChanged, mail.MFAChangedData{Name: u.Name, What: what, When: s.now(),
		IP: credtrack.ActorFromContext(ctx).IP})
}
