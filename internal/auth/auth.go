// Package auth signs people in and out: password checks, server-side
// sessions with idle and absolute timeouts, and one-time set-password
// links. It depends only on the root package's types and a small Store
// interface that *sqlstore.DB implements.
package auth

import (
	"context"
	"log/slog"
	"time"

	"credtrack"
	"credtrack/internal/mail"
	"credtrack/internal/password"
)

// Store is the persistence auth needs.
type Store interface {
	FindUserByEmail(ctx context.Context, email string) (*credtrack.User, error)
	FindUserByID(ctx context.Context, id string) (*credtrack.User, error)
	FindMemberships(ctx context.Context, userID string) ([]*credtrack.Membership, error)
	CreateSession(ctx context.Context, s *credtrack.Session, lifetime time.Duration) (string, error)
	FindSessionByToken(ctx context.Context, secret string) (*credtrack.Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, s *credtrack.Session, action string) error
	SetPasswordWithToken(ctx context.Context, secret, purpose, hash string) error
	UpdatePasswordHash(ctx context.Context, userID, hash string) error
	RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error
}

// Service implements sign-in for the web UI.
type Service struct {
	Store    Store
	Hasher   *password.Hasher
	Now      func() time.Time
	Idle     time.Duration // idle timeout (default 30 min)
	Lifetime time.Duration // absolute lifetime (default 12 h)
	Log      *slog.Logger
	// Mail sends account emails (reset links, lockout and change
	// notices); nil sends none.
	Mail mail.Sender
	// BaseURL is the public URL that emailed links start with.
	BaseURL string
}

// errLogin is the one answer for an unknown address, a wrong password and
// a disabled account, so that the response does not reveal which it was.
var errLogin = credtrack.Errorf(credtrack.EUNAUTHORIZED, "Email or password is wrong, or the account is locked.")

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return credtrack.Now()
}

// Login checks an email and password and starts a session in the user's
// first organization. Failures are audited ("auth.login.failed") and all
// look the same to the caller; an unknown address still costs one hash so
// that timing does not tell it apart.
func (s *Service) Login(ctx context.Context, email, pw string) (string, error) {
	u, err := s.Store.FindUserByEmail(ctx, email)
	if err != nil {
		if credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			return "", err
		}
		s.Hasher.Dummy(pw)
		s.failed(ctx, "", "unknown_account")
		return "", errLogin
	}
	if !s.Hasher.Verify(u.PasswordHash, pw) {
		s.failed(ctx, u.ID, "wrong_password")
		return "", errLogin
	}
	if !u.DisabledAt.IsZero() {
		s.failed(ctx, u.ID, "disabled")
		return "", errLogin
	}
	if s.Hasher.NeedsRehash(u.PasswordHash) {
		if h, err := s.Hasher.Hash(pw); err == nil {
			if err := s.Store.UpdatePasswordHash(ctx, u.ID, h); err != nil {
				s.Log.Warn("password rehash failed", "err", err)
			}
		}
	}
	ms, err := s.Store.FindMemberships(ctx, u.ID)
	if err != nil {
		return "", err
	}
	a := credtrack.ActorFromContext(ctx)
	sess := &credtrack.Session{UserID: u.ID, IP: a.IP, UserAgent: a.UserAgent}
	if len(ms) > 0 {
		sess.OrgID = ms[0].OrgID
	}
	return s.Store.CreateSession(ctx, sess, s.lifetime())
}

func (s *Service) failed(ctx context.Context, userID, reason string) {
	a := credtrack.ActorFromContext(ctx)
	ev := &credtrack.AuditEvent{ActorKind: credtrack.ActorAnonymous, ActorID: userID, Action: "auth.login.failed",
		TargetType: "user", TargetID: userID, Outcome: credtrack.OutcomeFailure, IP: a.IP, UserAgent: a.UserAgent,
		RequestID: a.RequestID, Details: map[string]string{"reason": reason}}
	if err := s.Store.RecordEvent(ctx, ev); err != nil {
		s.Log.Error("audit of a failed login could not be written", "err", err)
	}
}

func (s *Service) lifetime() time.Duration {
	if s.Lifetime > 0 {
		return s.Lifetime
	}
	return 12 * time.Hour
}

func (s *Service) idle() time.Duration {
	if s.Idle > 0 {
		return s.Idle
	}
	return 30 * time.Minute
}

// Session resolves a session token into the actor it acts as. Both
// timeouts are enforced here, on the server: a session idle for longer
// than Idle, or older than Lifetime, is deleted and refused.
func (s *Service) Session(ctx context.Context, token string) (credtrack.Actor, *credtrack.User, []*credtrack.Membership, error) {
	none := credtrack.Actor{Kind: credtrack.ActorAnonymous}
	unauth := credtrack.Errorf(credtrack.EUNAUTHORIZED, "sign in first")
	if token == "" {
		return none, nil, nil, unauth
	}
	sess, err := s.Store.FindSessionByToken(ctx, token)
	if err != nil {
		return none, nil, nil, unauth
	}
	now := s.now()
	if now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > s.idle() {
		if err := s.Store.DeleteSession(ctx, sess, "session.expired"); err != nil {
			s.Log.Warn("expired session not deleted", "err", err)
		}
		return none, nil, nil, unauth
	}
	u, err := s.Store.FindUserByID(ctx, sess.UserID)
	if err != nil || !u.DisabledAt.IsZero() {
		return none, nil, nil, unauth
	}
	ms, err := s.Store.FindMemberships(ctx, u.ID)
	if err != nil {
		return none, nil, nil, err
	}
	// Writing last_seen on every request would make each page view a
	// write; a minute's resolution is plenty for a 30-minute timeout.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.Store.TouchSession(ctx, sess.ID, now); err != nil {
			return none, nil, nil, err
		}
	}
	base := credtrack.ActorFromContext(ctx)
	a := credtrack.Actor{Kind: credtrack.ActorUser, ID: u.ID, IP: base.IP, UserAgent: base.UserAgent, RequestID: base.RequestID}
	for _, m := range ms {
		if m.OrgID == sess.OrgID {
			a.OrgID, a.Role = m.OrgID, m.Role
		}
	}
	return a, u, ms, nil
}

// Logout deletes the session server-side, so replaying its cookie fails.
func (s *Service) Logout(ctx context.Context, token string) error {
	sess, err := s.Store.FindSessionByToken(ctx, token)
	if err != nil {
		return nil // already gone
	}
	return s.Store.DeleteSession(ctx, sess, "auth.logout")
}

// SetPassword consumes a one-time set-password link and sets the password.
func (s *Service) SetPassword(ctx context.Context, linkToken, pw string) error {
	if err := password.CheckLength(pw); err != nil {
		return err
	}
	h, err := s.Hasher.Hash(pw)
	if err != nil {
		return err
	}
	return s.Store.SetPasswordWithToken(ctx, linkToken, "set_password", h)
}
