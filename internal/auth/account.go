package auth

import (
	"context"

	"credtrack"
	"credtrack/internal/mail"
	"credtrack/internal/password"
)

// errWrongCurrent answers a password change whose current password is
// wrong. It is not a sign-in failure and does not count towards lockout:
// the person already holds a valid session.
var errWrongCurrent = credtrack.Errorf(credtrack.EINVALID, "The current password is wrong.")

// current resolves a session token to its session and user.
func (s *Service) current(ctx context.Context, token string) (*credtrack.Session, *credtrack.User, error) {
	unauth := credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
	if token == "" {
		return nil, nil, unauth
	}
	sess, err := s.Store.FindSessionByToken(ctx, token)
	if err != nil {
		return nil, nil, unauth
	}
	u, err := s.Store.FindUserByID(ctx, sess.UserID)
	if err != nil || !u.DisabledAt.IsZero() {
		return nil, nil, unauth
	}
	return sess, u, nil
}

// ChangePassword changes the password of the signed-in user of
// sessionToken. It requires the current password (ASVS 6.2.3), checks
// the new one against the policy, ends every other session of the user
// and gives the current session a new token, which it returns: the caller
// must set it as the cookie, because the old token no longer works. The
// user is told by email. Audited as "auth.password.changed" (a wrong
// current password as a failure).
func (s *Service) ChangePassword(ctx context.Context, sessionToken, currentPassword, newPassword string) (string, error) {
	st, err := s.account()
	if err != nil {
		return "", err
	}
	sess, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return "", err
	}
	if !s.Hasher.Verify(u.PasswordHash, currentPassword) {
		s.audit(ctx, u.ID, "auth.password.changed", credtrack.OutcomeFailure, map[string]string{"reason": "wrong_current_password"})
		return "", errWrongCurrent
	}
	if err := password.NewPolicy().Check(ctx, newPassword, password.ContextWords(u.Email, u.Name)); err != nil {
		return "", err
	}
	h, err := s.Hasher.Hash(newPassword)
	if err != nil {
		return "", err
	}
	if err := st.UpdatePassword(ctx, u.ID, h, sess.ID); err != nil {
		return "", err
	}
	token, err := st.RotateSession(ctx, sessionToken)
	if err != nil {
		return "", err
	}
	s.send(ctx, u.Email, mail.TemplatePasswordChanged, mail.PasswordChangedData{Name: u.Name, When: s.now(),
		IP: credtrack.ActorFromContext(ctx).IP})
	return token, nil
}

// Sessions lists the active sessions of the signed-in user of
// sessionToken, most recently used first, and the ID of the session of
// sessionToken itself.
func (s *Service) Sessions(ctx context.Context, sessionToken string) ([]*credtrack.Session, string, error) {
	st, err := s.account()
	if err != nil {
		return nil, "", err
	}
	sess, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return nil, "", err
	}
	all, err := st.ListSessions(ctx, u.ID)
	if err != nil {
		return nil, "", err
	}
	// Sessions past their timeouts are still rows until the purge job
	// runs; they no longer work, so they are not listed as active.
	now := s.now()
	var active []*credtrack.Session
	for _, x := range all {
		if now.After(x.ExpiresAt) || now.Sub(x.LastSeenAt) > s.idle() {
			continue
		}
		active = append(active, x)
	}
	return active, sess.ID, nil
}

// RevokeSession ends one session of the signed-in user of sessionToken.
// Another user's session gives ENOTFOUND. Revoking the current session
// is allowed; it signs this browser out.
func (s *Service) RevokeSession(ctx context.Context, sessionToken, sessionID string) error {
	st, err := s.account()
	if err != nil {
		return err
	}
	_, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return err
	}
	return st.RevokeSession(ctx, u.ID, sessionID)
}

// RevokeOtherSessions ends every session of the signed-in user except the
// one of sessionToken and returns how many ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, sessionToken string) (int, error) {
	st, err := s.account()
	if err != nil {
		return 0, err
	}
	sess, u, err := s.current(ctx, sessionToken)
	if err != nil {
		return 0, err
	}
	return st.RevokeOtherSessions(ctx, u.ID, sess.ID)
}
