package auth

import (
	"context"
	"net/url"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/mail"
	"credtrack/internal/password"
)

// Email verification settings. A verification link lives a day; resends
// are capped like reset emails so the button cannot flood an inbox.
const (
	verifyPurpose = "verify_email"
	// VerifyLifetime is how long an email verification link works.
	VerifyLifetime = 24 * time.Hour
	// VerificationsPerHour is how many verification emails one account
	// gets per hour, the one sent at sign-up included.
	VerificationsPerHour = 3
	// AdultAge is the minimum age: the service is not for children (the
	// privacy policy).
	AdultAge = 18
)

// SignUpKind is the path a person signs up by.
type SignUpKind string

// The ways to sign up without an invitation.
const (
	// SignUpProvider: an individual provider, who gets a personal
	// workspace (an organization of kind "personal") with themselves as
	// its only member, role provider, and their own provider record.
	SignUpProvider SignUpKind = "provider"
	// SignUpOrganization: the founder of a new organization, its owner.
	SignUpOrganization SignUpKind = "organization"
)

// SignUpRequest is the sign-up form.
type SignUpRequest struct {
	Kind      SignUpKind
	Email     string
	FirstName string
	LastName  string
	Password  string
	// OrgName names the new organization (SignUpOrganization only).
	OrgName string
	// Profession is the provider's profession (SignUpProvider only;
	// optional).
	Profession credtrack.Profession
	// DateOfBirth (YYYY-MM-DD) or Adult must show the person is 18 or
	// older. The date is not stored on the account; for an individual
	// provider it goes, sealed, on their provider record.
	DateOfBirth string
	Adult       bool
}

// Invitation is what an invitation link offers, shown before accepting.
type Invitation struct {
	OrgName string
	Role    credtrack.Role
	Email   string // the invited address, which the new account will use
}

// SignupStore is the persistence of sign-up, email verification and
// accepting invitations; *sqlstore.DB implements it and Service finds it
// by asserting its Store, as for AccountStore.
type SignupStore interface {
	SignUp(ctx context.Context, u *credtrack.User, o *credtrack.Organization, role credtrack.Role, p *credtrack.Provider, verifyTTL time.Duration) (string, error)
	VerifyEmailWithToken(ctx context.Context, secret string) (userID string, err error)
	CreateUserToken(ctx context.Context, userID, purpose string, ttl time.Duration) (string, error)
	CountRecentUserTokens(ctx context.Context, userID, purpose string, window time.Duration) (int, error)
	PeekInvitation(ctx context.Context, secret string) (*credtrack.Membership, string, error)
	AcceptInvitation(ctx context.Context, secret, userID string) (*credtrack.Membership, error)
	SignUpWithInvitation(ctx context.Context, secret string, u *credtrack.User) (*credtrack.Membership, error)
}

// event records an account event like audit; ev names the action (a
// literal Action, which the audit catalogue test reads), outcome and
// details.
func (s *Service) event(ctx context.Context, userID string, ev credtrack.AuditEvent) {
	s.audit(ctx, userID, ev.Action, ev.Outcome, ev.Details)
}

func (s *Service) signupStore() (SignupStore, error) {
	st, ok := s.Store.(SignupStore)
	if !ok {
		return nil, credtrack.Errorf(credtrack.EINTERNAL, "auth: the store does not support sign-up")
	}
	return st, nil
}

// errVerifyLink is the one answer for an unknown, used or expired
// verification link.
var errVerifyLink = credtrack.Errorf(credtrack.EINVALID, "This confirmation link is invalid, already used or expired. Sign in and ask for a new one.")

// checkAdult applies the 18+ rule: a date of birth at least AdultAge
// years before today, or, without a date, the explicit attestation. It
// returns the parsed date (zero when none was given).
func (s *Service) checkAdult(dob string, adult bool) (credtrack.Date, error) {
	dob = strings.TrimSpace(dob)
	if dob == "" {
		if !adult {
			return credtrack.Date{}, credtrack.Errorf(credtrack.EINVALID, "Confirm that you are 18 or older, or give your date of birth.")
		}
		return credtrack.Date{}, nil
	}
	d, err := credtrack.ParseDate(dob)
	if err != nil {
		return credtrack.Date{}, credtrack.Errorf(credtrack.EINVALID, "Give the date of birth as YYYY-MM-DD.")
	}
	today := credtrack.DateOf(s.now())
	if d.Year() < 1900 || d.After(today.Time) {
		return credtrack.Date{}, credtrack.Errorf(credtrack.EINVALID, "That date of birth is not possible.")
	}
	// Born on 29 February: AddDate normalizes to 1 March, the usual rule.
	if d.AddDate(AdultAge, 0, 0).After(today.Time) {
		return credtrack.Date{}, credtrack.Errorf(credtrack.EINVALID, "credtrack is only for people aged 18 or older.")
	}
	return d, nil
}

// checkName validates the name fields of a form.
func checkName(first, last string) (string, string, error) {
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" || last == "" {
		return "", "", credtrack.Errorf(credtrack.EINVALID, "Give your first and last name.")
	}
	if len(first) > 99 || len(last) > 99 {
		return "", "", credtrack.Errorf(credtrack.EINVALID, "Names are limited to 99 characters.")
	}
	for _, r := range first + last {
		if r < 0x20 || r == 0x7f {
			return "", "", credtrack.Errorf(credtrack.EINVALID, "Names may not contain control characters.")
		}
	}
	return first, last, nil
}

// SignUp creates an account by one of the two open paths and emails the
// link that confirms its address. It does not sign the account in: the
// person signs in after confirming (or before, to reach only the page
// that resends the link). The checks run first and write nothing when
// they fail: the 18+ rule, the name, the address's form, the password
// policy (with the email, name and organization as context words).
//
// An address that already has an account gets exactly the same answer as
// a new one, a nil error and no session either way, so neither the answer
// nor a cookie tells whether the address has an account; the owner of the
// address is emailed that someone tried to sign up with it, and nothing
// else changes. Audited by the
// store ("user.signed_up" and the rest) and, for a taken address, as
// "user.signup.duplicate".
func (s *Service) SignUp(ctx context.Context, req SignUpRequest) error {
	st, err := s.signupStore()
	if err != nil {
		return err
	}
	if req.Kind != SignUpProvider && req.Kind != SignUpOrganization {
		return credtrack.Errorf(credtrack.EINVALID, "Choose how you will use credtrack.")
	}
	dob, err := s.checkAdult(req.DateOfBirth, req.Adult)
	if err != nil {
		return err
	}
	first, last, err := checkName(req.FirstName, req.LastName)
	if err != nil {
		return err
	}
	email, err := credtrack.NormalizeEmail(req.Email)
	if err != nil {
		return err
	}
	name := first + " " + last
	org := &credtrack.Organization{Name: strings.TrimSpace(req.OrgName), Kind: credtrack.OrgKindTeam}
	role := credtrack.RoleOwner
	var prov *credtrack.Provider
	if req.Kind == SignUpProvider {
		// The workspace is named after the person; it is never shown to
		// anyone else.
		org.Name, org.Kind, role = name, credtrack.OrgKindPersonal, credtrack.RoleProvider
		prov = &credtrack.Provider{FirstName: first, LastName: last, Email: email, Profession: req.Profession, DOB: dob}
		if err := prov.Validate(); err != nil {
			return err
		}
	}
	if err := org.Validate(); err != nil {
		return err
	}
	if err := password.NewPolicy().Check(ctx, req.Password, password.ContextWords(email, name, org.Name, "credtrack")); err != nil {
		return err
	}
	// Hash before knowing whether the address is taken, so both answers
	// cost the same.
	h, err := s.Hasher.Hash(req.Password)
	if err != nil {
		return err
	}
	u := &credtrack.User{Email: email, Name: name, PasswordHash: h, AdultAttestedAt: s.now()}
	secret, err := st.SignUp(ctx, u, org, role, prov, VerifyLifetime)
	if credtrack.ErrorCode(err) == credtrack.ECONFLICT {
		s.duplicateSignUp(ctx, email)
		return nil
	}
	if err != nil {
		return err
	}
	s.sendVerification(ctx, u, secret)
	return nil
}

// duplicateSignUp tells the owner of a taken address that someone tried to
// sign up with it, and audits it. The mail is sent like a verification
// email (synchronously, one message), so the two answers take about the
// same time.
func (s *Service) duplicateSignUp(ctx context.Context, email string) {
	u, err := s.Store.FindUserByEmail(ctx, email)
	if err != nil {
		s.Log.Error("sign-up with a taken address: account not found", "err", err)
		return
	}
	s.event(ctx, u.ID, credtrack.AuditEvent{Action: "user.signup.duplicate", Outcome: credtrack.OutcomeDenied})
	if s.Mail == nil {
		return
	}
	// Fixed text only: nothing from the form goes into this message.
	text := "Hello,\n\nSomeone tried to create a credtrack account with this email address, which already has an account. " +
		"No new account was created and nothing about your account changed.\n\n" +
		"If it was you, sign in here:\n\n" + s.BaseURL + "/login\n\n" +
		"If you forgot your password, you can reset it here:\n\n" + s.BaseURL + "/password/forgot\n\n" +
		"If it was not you, you can ignore this email.\n"
	m := mail.Message{To: u.Email, Subject: "Someone tried to sign up to credtrack with your address", Text: text}
	if err := s.Mail.Send(ctx, m); err != nil {
		s.Log.Error("account email not sent", "template", "signup_duplicate", "err", err)
	}
}

// sendVerification emails the verification link of secret to u.
func (s *Service) sendVerification(ctx context.Context, u *credtrack.User, secret string) {
	// The token travels in the query string, the accepted exception for
	// emailed links; the page moves it into a form field.
	link := s.BaseURL + "/verify-email/confirm?token=" + url.QueryEscape(secret)
	s.send(ctx, u.Email, mail.TemplateVerifyEmail, mail.VerifyEmailData{Name: u.Name, Link: link})
}

// VerifyEmail consumes an email verification link and marks the address
// verified. It works without a session (people open emails on another
// device). An unknown, used or expired link gives one EINVALID message
// and is audited as "user.email_verification.failed".
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	st, err := s.signupStore()
	if err != nil {
		return err
	}
	if token == "" || len(token) > 200 {
		s.event(ctx, "", credtrack.AuditEvent{Action: "user.email_verification.failed", Outcome: credtrack.OutcomeFailure, Details: map[string]string{"reason": "invalid_link"}})
		return errVerifyLink
	}
	if _, err := st.VerifyEmailWithToken(ctx, token); err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			s.event(ctx, "", credtrack.AuditEvent{Action: "user.email_verification.failed", Outcome: credtrack.OutcomeFailure, Details: map[string]string{"reason": "invalid_link"}})
			return errVerifyLink
		}
		return err
	}
	return nil
}

// ResendVerification emails a new verification link to the user, at most
// VerificationsPerHour an hour (ERATELIMIT beyond). An address already
// verified gets nothing and no error.
func (s *Service) ResendVerification(ctx context.Context, userID string) error {
	st, err := s.signupStore()
	if err != nil {
		return err
	}
	u, err := s.Store.FindUserByID(ctx, userID)
	if err != nil {
		return err
	}
	if !u.EmailVerifiedAt.IsZero() {
		return nil
	}
	n, err := st.CountRecentUserTokens(ctx, u.ID, verifyPurpose, time.Hour)
	if err != nil {
		return err
	}
	if n >= VerificationsPerHour {
		s.event(ctx, u.ID, credtrack.AuditEvent{Action: "user.email_verification.limited", Outcome: credtrack.OutcomeDenied})
		return credtrack.Errorf(credtrack.ERATELIMIT, "We already sent %d emails this hour. Check your spam folder, or try again later.", n)
	}
	secret, err := st.CreateUserToken(ctx, u.ID, verifyPurpose, VerifyLifetime)
	if err != nil {
		return err
	}
	s.sendVerification(ctx, u, secret)
	return nil
}

// LookupInvitation returns what an invitation link offers, without
// consuming it. A dead link gives EINVALID with one message.
func (s *Service) LookupInvitation(ctx context.Context, token string) (*Invitation, error) {
	st, err := s.signupStore()
	if err != nil {
		return nil, err
	}
	if token == "" || len(token) > 200 {
		return nil, s.badInvitation(ctx)
	}
	m, email, err := st.PeekInvitation(ctx, token)
	if err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			return nil, s.badInvitation(ctx)
		}
		return nil, err
	}
	return &Invitation{OrgName: m.OrgName, Role: m.Role, Email: email}, nil
}

// badInvitation audits a dead invitation link and returns its error.
func (s *Service) badInvitation(ctx context.Context) error {
	s.event(ctx, "", credtrack.AuditEvent{Action: "invitation.refused", Outcome: credtrack.OutcomeFailure, Details: map[string]string{"reason": "invalid_link"}})
	return credtrack.Errorf(credtrack.EINVALID, "This invitation link is invalid, already used, withdrawn or expired. Ask the organization for a new one.")
}

// AcceptInvitation accepts an invitation for a signed-in user (userID),
// who must hold the invited address (EFORBIDDEN otherwise). The new
// membership is added; the session stays in its organization.
func (s *Service) AcceptInvitation(ctx context.Context, token, userID string) (*credtrack.Membership, error) {
	st, err := s.signupStore()
	if err != nil {
		return nil, err
	}
	if token == "" || len(token) > 200 {
		return nil, s.badInvitation(ctx)
	}
	m, err := st.AcceptInvitation(ctx, token, userID)
	switch credtrack.ErrorCode(err) {
	case "":
		return m, nil
	case credtrack.EINVALID:
		return nil, s.badInvitation(ctx)
	case credtrack.EFORBIDDEN:
		s.event(ctx, userID, credtrack.AuditEvent{Action: "invitation.refused", Outcome: credtrack.OutcomeDenied, Details: map[string]string{"reason": "other_address"}})
	}
	return nil, err
}

// SignInAndAccept signs an existing account in with its password (through
// Login: the same throttling, lockout and answers) and accepts the
// invitation for it. It returns the new session's token. An account with
// TOTP is signed in (to the code prompt) but the invitation waits
// (EFORBIDDEN) until the code is given and the link opened again.
func (s *Service) SignInAndAccept(ctx context.Context, token, email, pw string) (string, error) {
	if _, err := s.LookupInvitation(ctx, token); err != nil {
		return "", err
	}
	sess, err := s.Login(ctx, email, pw)
	if err != nil {
		return "", err
	}
	a, _, _, err := s.Session(ctx, sess)
	if err != nil {
		return "", err
	}
	if a.Stage == credtrack.StageMFA {
		// A password alone does not finish signing in to an account with
		// TOTP, so it may not add a membership either. The session is
		// kept: after the code, the person accepts while signed in.
		return sess, credtrack.Errorf(credtrack.EFORBIDDEN, "Finish signing in with your authenticator code, then open the invitation link again.")
	}
	if _, err := s.AcceptInvitation(ctx, token, a.ID); err != nil {
		// Keep the sign-in: the person is who they said; only the
		// invitation failed, and the page says why.
		return sess, err
	}
	return sess, nil
}

// SignUpByInvitation creates an account for the invited address (which
// counts as verified: the link proved it) and accepts the invitation, in
// one transaction, then signs the new account in, acting in the
// organization it joined. req's Email and Kind are ignored. The same
// checks as SignUp apply (18+, names, password policy); an address that
// already has an account gives ECONFLICT, asking to sign in instead.
func (s *Service) SignUpByInvitation(ctx context.Context, token string, req SignUpRequest) (string, error) {
	st, err := s.signupStore()
	if err != nil {
		return "", err
	}
	inv, err := s.LookupInvitation(ctx, token)
	if err != nil {
		return "", err
	}
	if _, err := s.checkAdult(req.DateOfBirth, req.Adult); err != nil {
		return "", err
	}
	first, last, err := checkName(req.FirstName, req.LastName)
	if err != nil {
		return "", err
	}
	name := first + " " + last
	if err := password.NewPolicy().Check(ctx, req.Password, password.ContextWords(inv.Email, name, inv.OrgName, "credtrack")); err != nil {
		return "", err
	}
	h, err := s.Hasher.Hash(req.Password)
	if err != nil {
		return "", err
	}
	u := &credtrack.User{Name: name, PasswordHash: h, AdultAttestedAt: s.now()}
	m, err := st.SignUpWithInvitation(ctx, token, u)
	if err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID && u.ID == "" {
			return "", s.badInvitation(ctx)
		}
		return "", err
	}
	a := credtrack.ActorFromContext(ctx)
	return s.Store.CreateSession(ctx, &credtrack.Session{UserID: u.ID, OrgID: m.OrgID, IP: a.IP, UserAgent: a.UserAgent}, s.lifetime())
}
