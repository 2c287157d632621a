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
	// The per-account lockout (see sqlstore/lockout.go). The TOTP step
	// will count its failures through RecordLoginFailure too.
	LockState(ctx context.Context, userID string) (until time.Time, err error)
	RecordLoginFailure(ctx context.Context, userID string) (locked bool, until time.Time, err error)
	ClearLoginFailures(ctx context.Context, userID string) error
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
//
// A wrong password counts towards the account's lockout (5 failures in 15
// minutes lock it for 15 minutes, SECURITY.md §1.1). A locked account is
// refused even with the right password, with the same error, after the
// same hash, so a lock reveals neither that the account exists nor that
// the guess was right. The failure that locks the account emails its
// owner; a successful sign-in clears the counter.
func (s *Service) Login(ctx context.Context, email, pw string) (string, error) {
	return s.LoginWithDevice(ctx, email, pw, "")
}

// LoginWithDevice is Login for a browser that may present a trusted
// device token (the device cookie). When the user has TOTP and the token
// is one of the user's unexpired trusted devices, the session starts with
// the TOTP prompt passed; otherwise, for a user with TOTP, the session
// starts at credtrack.StageMFA. The device is checked only after the
// password, so the token alone is worth nothing.
func (s *Service) LoginWithDevice(ctx context.Context, email, pw, deviceToken string) (string, error) {
	u, err := s.Store.FindUserByEmail(ctx, email)
	if err != nil {
		if credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			return "", err
		}
		s.Hasher.Dummy(pw)
		s.failed(ctx, "", "unknown_account")
		return "", errLogin
	}
	lockedUntil, err := s.Store.LockState(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if !lockedUntil.IsZero() {
		// Burn the hash a real check costs; its result does not matter.
		s.Hasher.Verify(u.PasswordHash, pw)
		s.failed(ctx, u.ID, "locked")
		return "", errLogin
	}
	if !s.Hasher.Verify(u.PasswordHash, pw) {
		s.failed(ctx, u.ID, "wrong_password")
		locked, until, err := s.Store.RecordLoginFailure(ctx, u.ID)
		if err != nil {
			// The sign-in fails either way; a counter that could not be
			// written must not turn into a different answer.
			s.Log.Error("failed login not counted towards lockout", "err", err)
		} else if locked {
			s.notifyLocked(ctx, u, until)
		}
		return "", errLogin
	}
	if !u.DisabledAt.IsZero() {
		s.failed(ctx, u.ID, "disabled")
		return "", errLogin
	}
	if err := s.Store.ClearLoginFailures(ctx, u.ID); err != nil {
		return "", err
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
	if s.trustedDevice(ctx, u, deviceToken) {
		sess.MFAAt = s.now()
	}
	return s.Store.CreateSession(ctx, sess, s.lifetime())
}

// notifyLocked emails the owner of an account that has just been locked,
// so a lock caused by someone else's guessing does not go unnoticed. It
// sends in the background: waiting for the mail server would make the
// locking attempt slower than other failures, and that difference would
// tell an attacker the address has an account. Send errors are logged;
// the lock itself is already in place and audited.
func (s *Service) notifyLocked(ctx context.Context, u *credtrack.User, until time.Time) {
	if s.Mail == nil {
		return
	}
	m, err := mail.Render(mail.TemplateAccountLocked, mail.AccountLockedData{Name: u.Name, Until: until,
		IP: credtrack.ActorFromContext(ctx).IP})
	if err != nil {
		s.Log.Error("account-locked email not rendered", "err", err)
		return
	}
	m.To = u.Email
	// The request ends before the mail is sent: keep its values, drop
	// its cancellation.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	go func() {
		defer cancel()
		if err := s.Mail.Send(ctx, m); err != nil {
			s.Log.Error("account-locked email not sent", "user_id", u.ID, "err", err)
		}
	}()
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
	var cur *credtrack.Membership
	for _, m := range ms {
		if m.OrgID == sess.OrgID {
			cur = m
		}
	}
	// Until the sign-in is complete the actor holds no organization and no
	// role, so nothing it reaches can read or change tenant data.
	a.Stage = credtrack.NextStage(u, !sess.MFAAt.IsZero(), cur)
	if a.Stage == credtrack.StageReady && cur != nil {
		a.OrgID, a.Role = cur.OrgID, cur.Role
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
