package auth

import (
	"context"
	"net/url"
	"time"

	"credtrack"
	"credtrack/internal/mail"
	"credtrack/internal/password"
)

// Reset link settings. The lifetime is the promise made to customers
// (SECURITY.md §1.4); the rate limit stops the form from being used to
// flood someone's inbox.
const (
	resetPurpose  = "reset_password"
	ResetLifetime = 60 * time.Minute
	// ResetsPerHour is how many reset emails one account gets per hour;
	// further requests are accepted (the answer is the same) but send
	// nothing.
	ResetsPerHour = 3
)

// errResetLink is the one answer for an unknown, used or expired reset
// link.
var errResetLink = credtrack.Errorf(credtrack.EINVALID, "This reset link is invalid, already used or expired. Ask for a new one.")

// AccountStore is the persistence of password resets, password changes
// and the session list. It is kept apart from Store so that the sign-in
// code does not depend on it; *sqlstore.DB implements both, and Service
// finds it by asserting its Store.
type AccountStore interface {
	CreateUserToken(ctx context.Context, userID, purpose string, ttl time.Duration) (string, error)
	PeekUserToken(ctx context.Context, secret, purpose string) (userID string, err error)
	CountRecentUserTokens(ctx context.Context, userID, purpose string, window time.Duration) (int, error)
	ListSessions(ctx context.Context, userID string) ([]*credtrack.Session, error)
	RevokeSession(ctx context.Context, userID, sessionID string) error
	RevokeOtherSessions(ctx context.Context, userID, keepSessionID string) (int, error)
	RotateSession(ctx context.Context, oldToken string) (string, error)
	UpdatePassword(ctx context.Context, userID, hash, keepSessionID string) error
}

// account returns the Store as an AccountStore.
func (s *Service) account() (AccountStore, error) {
	st, ok := s.Store.(AccountStore)
	if !ok {
		return nil, credtrack.Errorf(credtrack.EINTERNAL, "auth: the store does not support account management")
	}
	return st, nil
}

// audit records an account event. Only IDs and fixed reasons go in
// details: never an email address, a token or a password.
func (s *Service) audit(ctx context.Context, userID, action string, outcome credtrack.Outcome, details map[string]string) {
	a := credtrack.ActorFromContext(ctx)
	ev := &credtrack.AuditEvent{OrgID: a.OrgID, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role, Action: action,
		TargetType: "user", TargetID: userID, Outcome: outcome, IP: a.IP, UserAgent: a.UserAgent,
		RequestID: a.RequestID, Details: details}
	if ev.ActorKind == "" || ev.ActorKind == credtrack.ActorAnonymous {
		ev.ActorKind, ev.ActorID = credtrack.ActorAnonymous, userID
	}
	if err := s.Store.RecordEvent(ctx, ev); err != nil {
		s.Log.Error("audit of an account event could not be written", "action", action, "err", err)
	}
}

// send renders and sends an account email. Failures are logged, not
// returned: the caller's answer must not depend on the mail server (for a
// reset request it would reveal that the address has an account).
func (s *Service) send(ctx context.Context, to, template string, data any) {
	if s.Mail == nil {
		return
	}
	m, err := mail.Render(template, data)
	if err == nil {
		m.To = to
		err = s.Mail.Send(ctx, m)
	}
	if err != nil {
		s.Log.Error("account email not sent", "template", template, "err", err)
	}
}

// RequestPasswordReset emails a one-time reset link, valid for
// ResetLifetime, to the account with this address. It returns nil for an
// unknown or disabled address and when the account has had ResetsPerHour
// links in the last hour, so the caller always gives the same answer and
// the form cannot tell which addresses have accounts. Audited as
// "auth.password_reset.requested" (the outcome and a reason; never the
// address or the token).
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	st, err := s.account()
	if err != nil {
		return err
	}
	u, err := s.Store.FindUserByEmail(ctx, email)
	if err != nil {
		if credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			return err
		}
		s.audit(ctx, "", "auth.password_reset.requested", credtrack.OutcomeFailure, map[string]string{"reason": "unknown_account"})
		return nil
	}
	if !u.DisabledAt.IsZero() {
		s.audit(ctx, u.ID, "auth.password_reset.requested", credtrack.OutcomeFailure, map[string]string{"reason": "disabled"})
		return nil
	}
	n, err := st.CountRecentUserTokens(ctx, u.ID, resetPurpose, time.Hour)
	if err != nil {
		return err
	}
	if n >= ResetsPerHour {
		s.audit(ctx, u.ID, "auth.password_reset.requested", credtrack.OutcomeDenied, map[string]string{"reason": "rate_limited"})
		return nil
	}
	token, err := st.CreateUserToken(ctx, u.ID, resetPurpose, ResetLifetime)
	if err != nil {
		return err
	}
	s.audit(ctx, u.ID, "auth.password_reset.requested", credtrack.OutcomeSuccess, nil)
	// The token travels in the query string: the accepted exception to "no
	// secrets in URLs", since a link is the only thing an email can carry.
	// The reset page moves it into a form field and sends no Referer.
	link := s.BaseURL + "/password/reset?token=" + url.QueryEscape(token)
	s.send(ctx, u.Email, mail.TemplatePasswordReset, mail.PasswordResetData{Link: link, Minutes: int(ResetLifetime / time.Minute)})
	return nil
}

// ResetPassword sets a new password through a reset link. The password is
// checked against the policy (with the user's email and name as context
// words) before the link is consumed, so a rejected password leaves the
// link usable; the link is then consumed atomically, and every session of
// the user ends. An unknown, used or expired link gives one EINVALID
// message. The user is told by email. Audited as "auth.password.reset"
// (the store also records "auth.password.set").
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	st, err := s.account()
	if err != nil {
		return err
	}
	if token == "" {
		return errResetLink
	}
	userID, err := st.PeekUserToken(ctx, token, resetPurpose)
	if err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID || credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
			s.audit(ctx, "", "auth.password.reset", credtrack.OutcomeFailure, map[string]string{"reason": "invalid_link"})
			return errResetLink
		}
		return err
	}
	u, err := s.Store.FindUserByID(ctx, userID)
	if err != nil || !u.DisabledAt.IsZero() {
		s.audit(ctx, userID, "auth.password.reset", credtrack.OutcomeFailure, map[string]string{"reason": "disabled"})
		return errResetLink
	}
	if err := password.NewPolicy().Check(ctx, newPassword, password.ContextWords(u.Email, u.Name)); err != nil {
		return err
	}
	h, err := s.Hasher.Hash(newPassword)
	if err != nil {
		return err
	}
	// The link may have been used between the peek and here; the
	// conditional UPDATE in SetPasswordWithToken decides, once.
	if err := s.Store.SetPasswordWithToken(ctx, token, resetPurpose, h); err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			s.audit(ctx, userID, "auth.password.reset", credtrack.OutcomeFailure, map[string]string{"reason": "invalid_link"})
			return errResetLink
		}
		return err
	}
	s.audit(ctx, u.ID, "auth.password.reset", credtrack.OutcomeSuccess, nil)
	// A reset ends the trusted devices too, so the next sign-in asks for
	// TOTP again (SECURITY.md §1.4, ASVS 6.4.3).
	s.endTrustedDevices(ctx, u.ID)
	s.send(ctx, u.Email, mail.TemplatePasswordChanged, mail.PasswordChangedData{Name: u.Name, When: s.now(),
		IP: credtrack.ActorFromContext(ctx).IP})
	return nil
}
