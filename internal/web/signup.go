package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/httperr"

	"golang.org/x/time/rate"
)

// Signup creates accounts (three ways), confirms email addresses and
// accepts invitations. *auth.Service implements it.
type Signup interface {
	// SignUp creates an account with a personal workspace or a new
	// organization and returns a session token for it. For an address
	// that already has an account it returns "" and nil: the same answer.
	SignUp(ctx context.Context, req auth.SignUpRequest) error
	// VerifyEmail consumes an email confirmation link token.
	VerifyEmail(ctx context.Context, token string) error
	// ResendVerification emails a new confirmation link to the user
	// (ERATELIMIT beyond the hourly cap).
	ResendVerification(ctx context.Context, userID string) error
	// LookupInvitation shows what an invitation token offers without
	// using it.
	LookupInvitation(ctx context.Context, token string) (*auth.Invitation, error)
	// AcceptInvitation accepts an invitation for a signed-in user.
	AcceptInvitation(ctx context.Context, token, userID string) (*credtrack.Membership, error)
	// SignInAndAccept signs an existing account in and accepts the
	// invitation; it returns the new session token.
	SignInAndAccept(ctx context.Context, token, email, password string) (string, error)
	// SignUpByInvitation creates the invited account and accepts the
	// invitation; it returns the new session token.
	SignUpByInvitation(ctx context.Context, token string, req auth.SignUpRequest) (string, error)
}

// The per-address throttle of POST /signup: five at once, then one a
// minute. Creating accounts needs no more, and it keeps one network from
// filling the database or sending floods of mail.
const (
	signupRate  = rate.Limit(1.0 / 60)
	signupBurst = 5
)

func newSignupLimiter() *ipLimiter { return newIPLimiter(signupRate, signupBurst) }

func init() {
	pageNames = append(pageNames, "signup", "verify_email", "invitation_accept")
	flashes["verify-sent"] = Flash{Kind: "info", Text: "We sent you a new confirmation email."}
	flashes["email-verified"] = Flash{Kind: "info", Text: "Your email address is confirmed."}
	flashes["invitation-accepted"] = Flash{Kind: "info", Text: "You accepted the invitation and joined the organization."}
}

// signupPage is the data of templates/pages/signup.html. It never holds
// the password.
type signupPage struct {
	Page
	Kind        string
	Email       string
	FirstName   string
	LastName    string
	OrgName     string
	Profession  string
	DateOfBirth string
	Adult       bool
	Professions []credtrack.Profession
}

// verifyEmailPage is the data of templates/pages/verify_email.html.
type verifyEmailPage struct {
	Page
	// Token is set on the confirmation page (the link from the email).
	Token string
	// CanResend: a signed-in, unverified user sees the resend button.
	CanResend bool
}

// invitationPage is the data of templates/pages/invitation_accept.html.
type invitationPage struct {
	Page
	Token      string
	Invitation *auth.Invitation
	FirstName  string
	LastName   string
	Adult      bool
}

// noSignup answers when the server has no Signup service.
func (h *Handler) noSignup(w http.ResponseWriter, r *http.Request) bool {
	if h.signup != nil {
		return false
	}
	h.renderError(w, r, credtrack.Errorf(credtrack.ENOTFOUND, "There is no page at this address."))
	return true
}

// throttleSignup applies the per-address limit to POST /signup, like
// throttleLogin: 429 with Retry-After and an "auth.throttled" event.
func (h *Handler) throttleSignup(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := h.signupLimit.allowRequest(r.Context(), limiterKey(clientIP(r)))
	if ok {
		return true
	}
	secs := max(int((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if h.audit != nil {
		if err := h.audit.RecordEvent(r.Context(), &credtrack.AuditEvent{Action: "auth.throttled", TargetType: "route",
			TargetID: "POST /signup", Outcome: credtrack.OutcomeDenied,
			Details: map[string]string{"retry_after": strconv.Itoa(secs)}}); err != nil {
			h.logger.Error("audit of a throttled sign-up failed", "err", err)
		}
	}
	h.renderError(w, r, credtrack.Errorf(credtrack.ERATELIMIT, "Too many sign-ups from your network. Wait a few minutes and try again."))
	return false
}

// startSession ends a session the browser already held (against session
// fixation) and sets the cookie of the new one.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, token string) {
	if old := sessionFromContext(r.Context()); old != nil {
		if err := h.auth.Logout(r.Context(), old.token); err != nil {
			h.logger.WarnContext(r.Context(), "web: end previous session", "err", err, "request_id", w.Header().Get("X-Request-ID"))
		}
	}
	h.setSessionCookie(w, token)
}

// handleSignupForm shows the sign-up form; a signed-in user goes home.
func (h *Handler) handleSignupForm(w http.ResponseWriter, r *http.Request) {
	if h.noSignup(w, r) {
		return
	}
	if sessionFromContext(r.Context()) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	kind := r.URL.Query().Get("kind")
	if kind != string(auth.SignUpOrganization) {
		kind = string(auth.SignUpProvider)
	}
	h.render(w, r, http.StatusOK, "signup", signupPage{Page: h.newPage(w, r, "Create an account", ""), Kind: kind,
		Professions: credtrack.Professions})
}

// handleSignup creates the account and sends the browser to the page that
// asks for the emailed confirmation, without signing in: an address that
// already has an account gets the very same answer, so neither the page
// nor a cookie tells whether it had one.
func (h *Handler) handleSignup(w http.ResponseWriter, r *http.Request) {
	if h.noSignup(w, r) {
		return
	}
	if !h.throttleSignup(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	f := r.PostForm
	req := auth.SignUpRequest{Kind: auth.SignUpKind(f.Get("kind")), Email: f.Get("email"), FirstName: f.Get("first_name"),
		LastName: f.Get("last_name"), Password: f.Get("password"), OrgName: f.Get("org_name"),
		Profession: credtrack.Profession(f.Get("profession")), DateOfBirth: f.Get("dob"), Adult: f.Get("adult") == "yes"}
	retry := func(status int, msg string) {
		p := signupPage{Page: h.newPage(w, r, "Create an account", ""), Kind: string(req.Kind), Email: req.Email,
			FirstName: req.FirstName, LastName: req.LastName, OrgName: req.OrgName, Profession: string(req.Profession),
			DateOfBirth: req.DateOfBirth, Adult: req.Adult, Professions: credtrack.Professions}
		if p.Kind != string(auth.SignUpOrganization) {
			p.Kind = string(auth.SignUpProvider)
		}
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: msg})
		h.render(w, r, status, "signup", p)
	}
	if req.Password != f.Get("confirm") {
		retry(http.StatusBadRequest, "The two passwords do not match.")
		return
	}
	if err := h.signup.SignUp(r.Context(), req); err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			retry(http.StatusBadRequest, credtrack.ErrorMessage(err))
			return
		}
		h.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/verify-email", http.StatusSeeOther)
}

// handleVerifyEmail is the "check your inbox" page. It is public because
// a sign-up does not sign in; a signed-in, unverified user (who signed in
// before confirming) also gets the resend button, and a verified one goes
// home.
func (h *Handler) handleVerifyEmail(w http.ResponseWriter, r *http.Request) {
	if h.noSignup(w, r) {
		return
	}
	p := verifyEmailPage{}
	if s := sessionFromContext(r.Context()); s != nil && s.user != nil {
		if !s.user.EmailVerifiedAt.IsZero() {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		p.CanResend = true
	}
	p.Page = h.newPage(w, r, "Confirm your email address", "")
	h.render(w, r, http.StatusOK, "verify_email", p)
}

// handleResendVerification sends another confirmation email to the
// signed-in user.
func (h *Handler) handleResendVerification(w http.ResponseWriter, r *http.Request) {
	if h.noSignup(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	a := credtrack.ActorFromContext(r.Context())
	if err := h.signup.ResendVerification(r.Context(), a.ID); err != nil {
		if credtrack.ErrorCode(err) == credtrack.ERATELIMIT {
			p := verifyEmailPage{Page: h.newPage(w, r, "Confirm your email address", ""), CanResend: true}
			p.Flash = append(p.Flash, Flash{Kind: "error", Text: credtrack.ErrorMessage(err)})
			h.render(w, r, http.StatusTooManyRequests, "verify_email", p)
			return
		}
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "verify-sent")
	http.Redirect(w, r, "/verify-email", http.StatusSeeOther)
}

// handleConfirmForm shows the button behind the emailed confirmation
// link. GET changes nothing (mail scanners prefetch links); the token
// moves from the query string into the form.
func (h *Handler) handleConfirmForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if h.noSignup(w, r) {
		return
	}
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 200 {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "This link is incomplete. Open the link from your email again."))
		return
	}
	h.render(w, r, http.StatusOK, "verify_email", verifyEmailPage{Page: h.newPage(w, r, "Confirm your email address", ""), Token: token})
}

// handleConfirm consumes the confirmation link. It works signed in or
// not, since people open email on another device.
func (h *Handler) handleConfirm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if h.noSignup(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	if err := h.signup.VerifyEmail(r.Context(), r.PostForm.Get("token")); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "email-verified")
	if sessionFromContext(r.Context()) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// handleInvitationForm shows what an invitation offers and the ways to
// accept it: with the current session, by signing in, or by creating the
// account.
func (h *Handler) handleInvitationForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if h.noSignup(w, r) {
		return
	}
	token := r.URL.Query().Get("token")
	inv, err := h.signup.LookupInvitation(r.Context(), token)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "invitation_accept", invitationPage{Page: h.newPage(w, r, "Accept the invitation", ""),
		Token: token, Invitation: inv})
}

// handleInvitation accepts an invitation. The form's "action" says how:
// "accept" with the current session, "signin" with the existing account's
// password, "signup" creating the account.
func (h *Handler) handleInvitation(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if h.noSignup(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	f := r.PostForm
	token := f.Get("token")
	retry := func(status int, err error) {
		inv, lerr := h.signup.LookupInvitation(r.Context(), token)
		if lerr != nil {
			h.renderError(w, r, err)
			return
		}
		p := invitationPage{Page: h.newPage(w, r, "Accept the invitation", ""), Token: token, Invitation: inv,
			FirstName: f.Get("first_name"), LastName: f.Get("last_name"), Adult: f.Get("adult") == "yes"}
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: credtrack.ErrorMessage(err)})
		h.render(w, r, status, "invitation_accept", p)
	}
	var sessionToken string
	var err error
	switch f.Get("action") {
	case "accept":
		a := credtrack.ActorFromContext(r.Context())
		if a.Kind != credtrack.ActorUser {
			h.renderError(w, r, credtrack.Errorf(credtrack.EUNAUTHORIZED, "Your session ended. Open the invitation link again and sign in."))
			return
		}
		if a.Stage == credtrack.StageMFA {
			// The password alone has not finished signing in.
			http.Redirect(w, r, stageHome[a.Stage], http.StatusSeeOther)
			return
		}
		_, err = h.signup.AcceptInvitation(r.Context(), token, a.ID)
	case "signin":
		if !h.throttleLogin(w, r) {
			return
		}
		sessionToken, err = h.signup.SignInAndAccept(r.Context(), token, f.Get("email"), f.Get("password"))
		if credtrack.ErrorCode(err) == credtrack.EUNAUTHORIZED {
			err = credtrack.Errorf(credtrack.EUNAUTHORIZED, loginFailed)
		}
	case "signup":
		if f.Get("password") != f.Get("confirm") {
			retry(http.StatusBadRequest, credtrack.Errorf(credtrack.EINVALID, "The two passwords do not match."))
			return
		}
		sessionToken, err = h.signup.SignUpByInvitation(r.Context(), token, auth.SignUpRequest{FirstName: f.Get("first_name"),
			LastName: f.Get("last_name"), Password: f.Get("password"), DateOfBirth: f.Get("dob"), Adult: f.Get("adult") == "yes"})
	default:
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The form could not be read."))
		return
	}
	if sessionToken != "" {
		// A sign-in that worked stays, even if accepting then failed.
		h.startSession(w, r, sessionToken)
	}
	if err != nil {
		switch credtrack.ErrorCode(err) {
		case credtrack.EINVALID, credtrack.EUNAUTHORIZED, credtrack.ECONFLICT, credtrack.EFORBIDDEN:
			retry(httperr.Status(credtrack.ErrorCode(err)), err)
		default:
			h.renderError(w, r, err)
		}
		return
	}
	h.setFlash(w, "invitation-accepted")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
