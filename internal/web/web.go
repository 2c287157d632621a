// Package web serves credtrack's server-rendered HTML pages: signing in and
// out, setting a password from an emailed link, the dashboard, the
// provider pages and the audit log viewer with its exports.
//
// It uses only html/template and embedded static files. Every route is
// listed once, in Handler.routes, together with the permission it needs, so
// the route-matrix tests can read the table instead of guessing. Pages never
// carry inline script or style, because the Content-Security-Policy set by
// the server forbids both; all styling lives in static/app.css.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"

	"credtrack"
	"credtrack/internal/reqaudit"
	"credtrack/internal/roster"

	"golang.org/x/time/rate"
)

// Auth signs people in and out and turns a session cookie into an actor.
// It is implemented outside web (sessions live in the database).
type Auth interface {
	// Login checks email and password and returns a new session token, or
	// an error such as EUNAUTHORIZED when they do not match or the account
	// is locked.
	Login(ctx context.Context, email, password string) (token string, err error)
	// Session returns the actor (with the OrgID and Role of the session's
	// current organization), the user and the user's memberships for a
	// session token; EUNAUTHORIZED when the token is unknown or expired.
	Session(ctx context.Context, token string) (credtrack.Actor, *credtrack.User, []*credtrack.Membership, error)
	// Logout ends the session of token on the server.
	Logout(ctx context.Context, token string) error
	// SetPassword consumes a one-time set-password token (from an emailed
	// or printed link) and sets the password, which it validates.
	SetPassword(ctx context.Context, linkToken, password string) error

	// RequestPasswordReset emails a one-time reset link to the account
	// with this address. It returns nil whether or not the account exists
	// (and when the request is rate limited), so every answer is the same.
	RequestPasswordReset(ctx context.Context, email string) error
	// ResetPassword sets a new password through a reset link token and ends
	// every session of the account. A weak password or a dead link gives
	// EINVALID; a weak password leaves the link usable.
	ResetPassword(ctx context.Context, linkToken, password string) error
	// ChangePassword changes the password of the session's user, given the
	// current one (EINVALID when it is wrong), ends the user's other
	// sessions and returns a new token for the current session; the old
	// token stops working.
	ChangePassword(ctx context.Context, token, current, password string) (newToken string, err error)
	// Sessions lists the active sessions of the token's user and the ID of
	// the token's own session.
	Sessions(ctx context.Context, token string) ([]*credtrack.Session, string, error)
	// RevokeSession ends one session of the token's user; a session of
	// anyone else gives ENOTFOUND.
	RevokeSession(ctx context.Context, token, sessionID string) error
	// RevokeOtherSessions ends every session of the token's user except
	// the token's own and returns how many ended.
	RevokeOtherSessions(ctx context.Context, token string) (int, error)
}

// Options are the dependencies and settings of the web handler. Auth and
// Providers are required; the other fields have usable defaults.
type Options struct {
	// Auth signs users in and resolves session cookies.
	Auth Auth
	// Providers reads the provider records shown on the pages.
	Providers credtrack.ProviderService
	// Orgs supplies the organization's expiring window. When nil, the
	// default window of 90 days is used.
	Orgs credtrack.OrgService
	// Logger receives internal errors. When nil, nothing is logged.
	Logger *slog.Logger
	// SecureCookies names the session cookie "__Host-sid" and marks it
	// Secure. Set it to false only for plain-http localhost development,
	// where browsers would drop a Secure cookie.
	SecureCookies bool
	// Today returns the current date for expiry calculations. When nil,
	// the UTC date of credtrack.Now is used.
	Today func() credtrack.Date
	// Audit records access denials and, for routes whose work recorded no
	// event of its own, a generic request event (see reqaudit). The server
	// always sets it; nil only in handler unit tests.
	Audit reqaudit.Recorder
	// AuditLog reads the audit log for the viewer, its exports and the
	// "who has read this record" page. When nil, those pages answer 503
	// and the navigation leaves them out.
	AuditLog AuditLog
	// Admin serves the organization administration pages (/org/…) and
	// the organization switcher. When nil, those pages answer 503 and the
	// navigation leaves them out.
	Admin Admin
	// LoginRate and LoginBurst limit POST /login per client address
	// (SECURITY.md §1.1: 10 a minute, as Bitwarden does for its token
	// endpoint). Zero means those defaults; tests set small numbers.
	LoginRate  rate.Limit
	LoginBurst int
	// SharedLimits, when set, keeps the per-address throttles of sign-in,
	// code checks and sign-up in the database instead of in this process,
	// so that several serve processes enforce one limit per address rather
	// than one each (PostgreSQL deployments; see ipLimiter.shared).
	SharedLimits SharedLimits
	// Signup creates accounts, confirms email addresses and accepts
	// invitations (signup.go). When nil, those pages answer 404.
	Signup Signup
	// MFA serves TOTP: the sign-in prompt, enrolment, recovery codes and
	// trusted devices (mfa.go). When nil, those pages answer 503 and sign-in
	// ignores the device cookie.
	MFA MFA
	// Records adds, edits and deletes providers and credentials, reveals
	// sensitive numbers and lists documents (records.go). When nil, those
	// pages answer 503 and the provider page offers no changes.
	Records Records
	// Documents uploads, downloads and verifies documents (records.go).
	// When nil, the document pages answer 503.
	Documents Documents
	// MaxUploadBytes is the largest document upload; 0 means 25 MB.
	MaxUploadBytes int64
	// DemoTOTPCode, set only by `credtrack demo`, returns the current TOTP
	// code of a demo account (ok false for any other), which the prompt
	// then shows with a "demo only" label.
	DemoTOTPCode func(email string) (code string, ok bool)
	// Verifier runs and shows primary-source verifications
	// (verification.go). When nil, those pages answer 503 and the
	// navigation and the provider page leave them out.
	Verifier Verifier
	// Screening serves the exclusion screening queue, list versions,
	// monitoring runs and alerts (screening.go). When nil, those pages
	// answer 503 and the navigation leaves them out.
	Screening Screening
	// Roster imports and exports roster CSV files (roster.go). When nil,
	// those pages answer 503 and the navigation leaves them out.
	Roster roster.Store
	// RosterTempDir holds uploaded rosters, encrypted under a key kept in
	// memory, while they are checked and imported ("" for the system's
	// temporary directory).
	RosterTempDir string
	// RosterMaxBytes caps a roster upload (default 256 MiB).
	RosterMaxBytes int64
}

// Policy is what a route requires of the actor. A zero Policy means the
// route is public.
type Policy struct {
	// SignedIn sends anonymous visitors to /login.
	SignedIn bool
	// Permission is the permission a signed-in actor needs, "" for none.
	Permission credtrack.Permission
	// Own, when set, also admits actors holding this "own record"
	// permission instead of Permission; the handler then shows only the
	// record linked to the actor.
	Own credtrack.Permission
	// Self marks a signed-in route that acts only on the actor's own
	// account (password, sessions). It needs no permission, so every
	// signed-in user, whatever the role, can secure their account; the
	// handler never takes another user's ID from the request.
	Self bool
	// Stages lists the unfinished sign-in stages (credtrack.StageMFA…)
	// that may use the route. A session in any other unfinished stage is
	// sent to the page that finishes it instead.
	Stages []credtrack.SessionStage
}

// stageHome is the page that finishes each unfinished sign-in stage.
var stageHome = map[credtrack.SessionStage]string{
	credtrack.StageVerifyEmail: "/verify-email",
	credtrack.StageMFA:         "/login/mfa",
	credtrack.StageMFAEnrol:    "/account/mfa/enrol",
}

// admitsStage reports whether a session in stage s may use the route.
func (p Policy) admitsStage(s credtrack.SessionStage) bool {
	return s == credtrack.StageReady || slices.Contains(p.Stages, s)
}

// allows reports whether a may use a route with this policy. Being signed
// in is checked separately, because it answers with a redirect, not a 403.
func (p Policy) allows(a credtrack.Actor) bool {
	if p.Permission == "" && p.Own == "" {
		return true
	}
	return (p.Permission != "" && a.Can(p.Permission)) || (p.Own != "" && a.Can(p.Own))
}

// route is one entry of the routes table.
type route struct {
	pattern string
	policy  Policy
	handler http.HandlerFunc
	// static routes skip the session lookup: assets are public and
	// identical for everyone, so a database round trip per file would be waste.
	static bool
	// maxBody replaces the 64 KiB form limit for routes that take a file.
	maxBody int64
}

// Handler is the HTML user interface. It implements http.Handler.
type Handler struct {
	auth           Auth
	providers      credtrack.ProviderService
	orgs           credtrack.OrgService
	logger         *slog.Logger
	secureCookies  bool
	today          func() credtrack.Date
	audit          reqaudit.Recorder
	auditLog       AuditLog
	admin          Admin
	loginLimit     *ipLimiter // per-address throttle of POST /login
	signup         Signup
	signupLimit    *ipLimiter // per-address throttle of POST /signup
	mfa            MFA
	mfaLimit       *ipLimiter // per-address throttle of POST /login/mfa
	demoCode       func(email string) (string, bool)
	verifier       Verifier
	screening      Screening
	rosterStore    roster.Store
	rosterJobs     *roster.Jobs // nil when Options.Roster is
	rosterTempDir  string
	rosterMaxBytes int64
	records        Records
	documents      Documents
	maxUpload      int64

	assets   assets
	pages    *renderer
	routes   []route
	mux      *http.ServeMux
	handler  http.Handler // mux behind cross-origin protection
	notFound http.Handler // the HTML 404 page for paths no route has
}

// New returns the web handler. It parses every template and hashes every
// static file; a broken template panics here, at boot, rather than on the
// first request that needs it.
func New(opts Options) *Handler {
	if opts.Auth == nil || opts.Providers == nil {
		panic("web: Options.Auth and Options.Providers are required")
	}
	h := &Handler{
		auth:           opts.Auth,
		providers:      opts.Providers,
		orgs:           opts.Orgs,
		logger:         opts.Logger,
		secureCookies:  opts.SecureCookies,
		today:          opts.Today,
		audit:          opts.Audit,
		auditLog:       opts.AuditLog,
		admin:          opts.Admin,
		loginLimit:     newIPLimiter(opts.LoginRate, opts.LoginBurst),
		signup:         opts.Signup,
		signupLimit:    newSignupLimiter(),
		mfa:            opts.MFA,
		mfaLimit:       newMFALimiter(),
		demoCode:       opts.DemoTOTPCode,
		verifier:       opts.Verifier,
		screening:      opts.Screening,
		rosterStore:    opts.Roster,
		rosterTempDir:  opts.RosterTempDir,
		rosterMaxBytes: opts.RosterMaxBytes,
		records:        opts.Records,
		documents:      opts.Documents,
		maxUpload:      opts.MaxUploadBytes,
	}
	if h.maxUpload <= 0 {
		h.maxUpload = 25 << 20
	}
	if h.rosterMaxBytes <= 0 {
		h.rosterMaxBytes = defaultRosterMaxBytes
	}
	if opts.Roster != nil {
		h.rosterJobs = roster.NewJobs(opts.Roster)
		h.rosterJobs.Today = opts.Today
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if opts.SharedLimits != nil {
		for scope, l := range map[string]*ipLimiter{"login": h.loginLimit, "signup": h.signupLimit, "mfa": h.mfaLimit} {
			l.shared, l.scope, l.log = opts.SharedLimits, scope, h.logger
		}
	}
	if h.today == nil {
		h.today = func() credtrack.Date { return credtrack.DateOf(credtrack.Now()) }
	}
	h.assets = loadAssets()
	h.pages = newRenderer(templateFS, h.funcs())

	h.mux = http.NewServeMux()
	h.routes = h.routeTable()
	for _, rt := range h.routes {
		var g http.Handler = h.guard(rt)
		if !rt.static { // assets are public and identical for everyone: not audited, by name
			g = reqaudit.Ensure(h.audit, h.logger, rt.pattern, g)
		}
		h.mux.Handle(rt.pattern, g)
	}

	// Cross-origin protection sits in front of the mux: it lets safe
	// methods through and refuses state-changing requests that a browser
	// marks as coming from another site, which together with SameSite=Lax
	// cookies replaces CSRF tokens.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, credtrack.Errorf(credtrack.EFORBIDDEN,
			"This form was sent from another site, so it was refused. Open credtrack directly and try again."))
	}))
	h.handler = cop.Handler(h.mux)

	// The 404 page goes through guard like any page, so a signed-in user
	// keeps the navigation.
	h.notFound = reqaudit.Ensure(h.audit, h.logger, "", h.guard(route{handler: func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, credtrack.Errorf(credtrack.ENOTFOUND, "There is no page at this address."))
	}}))
	return h
}

// routeTable lists every route of the web UI with the policy it needs.
// It is the only place routes are defined.
func (h *Handler) routeTable() []route {
	public := Policy{}
	self := Policy{SignedIn: true, Self: true}
	return []route{
		{pattern: "GET /{$}", handler: h.handleDashboard,
			policy: Policy{SignedIn: true, Permission: credtrack.PermOrgRead, Own: credtrack.PermOwnRecordRead}},
		// A provider's "My record": the provider record linked to them.
		{pattern: "GET /my-record", handler: h.handleMyRecord,
			policy: Policy{SignedIn: true, Permission: credtrack.PermOwnRecordRead}},

		{pattern: "GET /login", policy: public, handler: h.handleLoginForm},
		{pattern: "POST /login", policy: public, handler: h.handleLogin},
		// Logout is public so that someone whose session already expired
		// can still clear the cookie instead of being bounced to /login.
		{pattern: "POST /logout", policy: public, handler: h.handleLogout},
		{pattern: "GET /set-password", policy: public, handler: h.handleSetPasswordForm},
		{pattern: "POST /set-password", policy: public, handler: h.handleSetPassword},
		// Password reset is public: it is for people who cannot sign in.
		{pattern: "GET /password/forgot", policy: public, handler: h.handleForgotForm},
		{pattern: "POST /password/forgot", policy: public, handler: h.handleForgot},
		{pattern: "GET /password/reset", policy: public, handler: h.handleResetForm},
		{pattern: "POST /password/reset", policy: public, handler: h.handleReset},

		// Every signed-in user manages their own account, whatever the role.
		{pattern: "GET /account", policy: self, handler: h.handleAccount},
		{pattern: "GET /account/sessions", policy: self, handler: h.handleSessions},
		{pattern: "POST /account/sessions/{id}/revoke", policy: self, handler: h.handleRevokeSession},
		{pattern: "POST /account/sessions/revoke-others", policy: self, handler: h.handleRevokeOthers},
		{pattern: "GET /account/password", policy: self, handler: h.handlePasswordForm},
		{pattern: "POST /account/password", policy: self, handler: h.handlePassword},

		// Sign-up, email verification and accepting invitations.
		{pattern: "GET /signup", policy: public, handler: h.handleSignupForm},
		{pattern: "POST /signup", policy: public, handler: h.handleSignup},
		// Public: a sign-up with a taken address (no session) lands here
		// too, so both answers look the same; it changes nothing.
		{pattern: "GET /verify-email", policy: public, handler: h.handleVerifyEmail},
		{pattern: "POST /verify-email/resend", handler: h.handleResendVerification,
			policy: Policy{SignedIn: true, Self: true, Stages: []credtrack.SessionStage{credtrack.StageVerifyEmail}}},
		// Public: people open the email on another device.
		{pattern: "GET /verify-email/confirm", policy: public, handler: h.handleConfirmForm},
		{pattern: "POST /verify-email/confirm", policy: public, handler: h.handleConfirm},
		// Public: the invited person may have no account yet; the handler
		// checks the session for "accept as the signed-in user".
		{pattern: "GET /invitations/accept", policy: public, handler: h.handleInvitationForm},
		{pattern: "POST /invitations/accept", policy: public, handler: h.handleInvitation},

		// TOTP: the sign-in prompt, enrolment, recovery codes, trusted devices.
		// The prompt is for a session whose TOTP is due; enrolment also for a
		// session whose role requires TOTP before anything else (and for any
		// signed-in user who chooses it).
		{pattern: "GET /login/mfa", handler: h.handleMFAPrompt,
			policy: Policy{SignedIn: true, Self: true, Stages: []credtrack.SessionStage{credtrack.StageMFA}}},
		{pattern: "POST /login/mfa", handler: h.handleMFAVerify,
			policy: Policy{SignedIn: true, Self: true, Stages: []credtrack.SessionStage{credtrack.StageMFA}}},
		{pattern: "GET /account/mfa/enrol", handler: h.handleMFAEnrolForm,
			policy: Policy{SignedIn: true, Self: true, Stages: []credtrack.SessionStage{credtrack.StageMFAEnrol}}},
		{pattern: "GET /account/mfa/qr.png", handler: h.handleMFAQR,
			policy: Policy{SignedIn: true, Self: true, Stages: []credtrack.SessionStage{credtrack.StageMFAEnrol}}},
		{pattern: "POST /account/mfa/enrol", handler: h.handleMFAEnrol,
			policy: Policy{SignedIn: true, Self: true, Stages: []credtrack.SessionStage{credtrack.StageMFAEnrol}}},
		{pattern: "POST /account/mfa/enrol/start", handler: h.handleMFAEnrolStart,
			policy: Policy{SignedIn: true, Self: true, Stages: []credtrack.SessionStage{credtrack.StageMFAEnrol}}},
		{pattern: "GET /account/mfa", policy: self, handler: h.handleAccountMFA},
		{pattern: "POST /account/mfa/recovery-codes", policy: self, handler: h.handleRecoveryCodes},
		{pattern: "POST /account/mfa/disable", policy: self, handler: h.handleMFADisable},
		{pattern: "GET /account/devices", policy: self, handler: h.handleDevices},
		{pattern: "POST /account/devices/{id}/revoke", policy: self, handler: h.handleRevokeDevice},
		{pattern: "POST /account/devices/revoke-all", policy: self, handler: h.handleRevokeDevices},

		// Organization administration: members, invitations, roles,
		// settings, API tokens, switching organizations.
		{pattern: "GET /org/members", handler: h.handleMembers,
			policy: Policy{SignedIn: true, Permission: credtrack.PermMemberRead}},
		{pattern: "POST /org/members/{id}/role", handler: h.handleMemberRole,
			policy: Policy{SignedIn: true, Permission: credtrack.PermMemberManage}},
		{pattern: "POST /org/members/{id}/remove", handler: h.handleMemberRemove,
			policy: Policy{SignedIn: true, Permission: credtrack.PermMemberManage}},
		{pattern: "POST /org/members/{id}/unlock", handler: h.handleMemberUnlock,
			policy: Policy{SignedIn: true, Permission: credtrack.PermMemberManage}},
		{pattern: "GET /org/invitations", handler: h.handleInvitations,
			policy: Policy{SignedIn: true, Permission: credtrack.PermMemberRead}},
		{pattern: "POST /org/invitations", handler: h.handleInvite,
			policy: Policy{SignedIn: true, Permission: credtrack.PermMemberManage}},
		{pattern: "POST /org/invitations/{id}/revoke", handler: h.handleInvitationRevoke,
			policy: Policy{SignedIn: true, Permission: credtrack.PermMemberManage}},
		{pattern: "GET /org/settings", handler: h.handleSettings,
			policy: Policy{SignedIn: true, Permission: credtrack.PermOrgManage}},
		{pattern: "POST /org/settings", handler: h.handleSettingsSave,
			policy: Policy{SignedIn: true, Permission: credtrack.PermOrgManage}},
		{pattern: "GET /org/tokens", handler: h.handleTokens,
			policy: Policy{SignedIn: true, Permission: credtrack.PermTokenManage}},
		{pattern: "POST /org/tokens", handler: h.handleTokenCreate,
			policy: Policy{SignedIn: true, Permission: credtrack.PermTokenManage}},
		{pattern: "POST /org/tokens/{id}/revoke", handler: h.handleTokenRevoke,
			policy: Policy{SignedIn: true, Permission: credtrack.PermTokenManage}},
		// Switching acts on the actor's own session and memberships only.
		{pattern: "POST /org/switch", policy: self, handler: h.handleSwitchOrg},

		{pattern: "GET /providers", handler: h.handleProviderIndex,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},
		// The search box posts so that a searched NPI, DEA or license
		// number stays out of URLs and logs (handleProviderSearch).
		{pattern: "POST /providers/search", handler: h.handleProviderSearch,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},
		{pattern: "GET /providers/new", handler: h.handleProviderNew,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		{pattern: "POST /providers", handler: h.handleProviderCreate,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		{pattern: "GET /providers/{id}", handler: h.handleProviderShow,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead, Own: credtrack.PermOwnRecordRead}},
		{pattern: "GET /providers/{id}/edit", handler: h.handleProviderEdit,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		{pattern: "POST /providers/{id}/edit", handler: h.handleProviderUpdate,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		// A provider keeps their own email and phone; the store limits
		// own.write to the record linked to the actor.
		{pattern: "GET /providers/{id}/contact", handler: h.handleProviderContactEdit,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite, Own: credtrack.PermOwnRecordWrite}},
		{pattern: "POST /providers/{id}/contact", handler: h.handleProviderContactUpdate,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite, Own: credtrack.PermOwnRecordWrite}},
		// Reveal shows one sensitive value once; the store audits it first.
		// A provider may reveal their own NPI and credential numbers (the
		// store refuses their SSN and date of birth, and others' records).
		{pattern: "POST /providers/{id}/reveal", handler: h.handleProviderReveal,
			policy: Policy{SignedIn: true, Permission: credtrack.PermSensitiveReveal, Own: credtrack.PermOwnRecordRead}},
		// Credential and document writes: staff on every record, a
		// provider on their own (own.write, enforced by the store; what
		// a provider enters stays pending verification).
		{pattern: "GET /providers/{id}/credentials/new", handler: h.handleCredentialNew,
			policy: Policy{SignedIn: true, Permission: credtrack.PermCredentialWrite, Own: credtrack.PermOwnRecordWrite}},
		{pattern: "POST /providers/{id}/credentials", handler: h.handleCredentialCreate,
			policy: Policy{SignedIn: true, Permission: credtrack.PermCredentialWrite, Own: credtrack.PermOwnRecordWrite}},
		{pattern: "GET /credentials/{id}/edit", handler: h.handleCredentialEdit,
			policy: Policy{SignedIn: true, Permission: credtrack.PermCredentialWrite, Own: credtrack.PermOwnRecordWrite}},
		{pattern: "POST /credentials/{id}/edit", handler: h.handleCredentialUpdate,
			policy: Policy{SignedIn: true, Permission: credtrack.PermCredentialWrite, Own: credtrack.PermOwnRecordWrite}},
		{pattern: "POST /credentials/{id}/reveal", handler: h.handleCredentialReveal,
			policy: Policy{SignedIn: true, Permission: credtrack.PermSensitiveReveal, Own: credtrack.PermOwnRecordRead}},
		{pattern: "POST /providers/{id}/documents", handler: h.handleDocumentUpload, maxBody: h.maxUpload + multipartOverhead,
			policy: Policy{SignedIn: true, Permission: credtrack.PermDocumentWrite, Own: credtrack.PermOwnRecordWrite}},
		// The store lets a provider-role member open documents of their own record only.
		{pattern: "GET /documents/{id}", handler: h.handleDocumentDownload,
			policy: Policy{SignedIn: true, Permission: credtrack.PermDocumentRead, Own: credtrack.PermOwnRecordRead}},
		{pattern: "GET /documents/verify", handler: h.handleDocumentVerifyForm,
			policy: Policy{SignedIn: true, Permission: credtrack.PermDocumentRead}},
		{pattern: "POST /documents/verify", handler: h.handleDocumentVerify, maxBody: h.maxUpload + multipartOverhead,
			policy: Policy{SignedIn: true, Permission: credtrack.PermDocumentRead}},
		// Deletions last: they need a ticked confirmation box (documents excepted).
		{pattern: "POST /documents/{id}/delete", handler: h.handleDocumentDelete,
			policy: Policy{SignedIn: true, Permission: credtrack.PermDocumentWrite, Own: credtrack.PermOwnRecordWrite}},
		{pattern: "POST /credentials/{id}/delete", handler: h.handleCredentialDelete,
			policy: Policy{SignedIn: true, Permission: credtrack.PermCredentialWrite, Own: credtrack.PermOwnRecordWrite}},
		{pattern: "POST /providers/{id}/delete", handler: h.handleProviderDelete,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		// The store answers ENOTFOUND unless the record is the actor's
		// own or the actor holds audit.read.
		{pattern: "GET /providers/{id}/reads", handler: h.handleRecordReads,
			policy: Policy{SignedIn: true, Permission: credtrack.PermAuditRead, Own: credtrack.PermOwnAuditRead}},

		// Primary-source verification: history with evidence, Verify
		// actions (queued checks), manual verifications, source health,
		// manual tasks and the freshness limit.
		{pattern: "GET /providers/{id}/verifications", handler: h.handleVerifications,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},
		{pattern: "POST /providers/{id}/verify", handler: h.handleVerify,
			policy: Policy{SignedIn: true, Permission: credtrack.PermVerificationRun}},
		{pattern: "GET /providers/{id}/verify/manual", handler: h.handleManualForm,
			policy: Policy{SignedIn: true, Permission: credtrack.PermVerificationRun}},
		{pattern: "POST /providers/{id}/verify/manual", handler: h.handleManual, maxBody: maxManualUpload,
			policy: Policy{SignedIn: true, Permission: credtrack.PermVerificationRun}},
		// The evidence holds the raw response (full identifiers): the
		// same permission as reading a credential's number.
		{pattern: "GET /verifications/{id}", handler: h.handleEvidence,
			policy: Policy{SignedIn: true, Permission: credtrack.PermCredentialRead}},
		{pattern: "GET /verification/sources", handler: h.handleSources,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},
		{pattern: "POST /verification/freshness", handler: h.handleFreshness,
			policy: Policy{SignedIn: true, Permission: credtrack.PermOrgManage}},
		{pattern: "GET /verification/tasks", handler: h.handleTasks,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},

		// Roster import and export. The import routes need provider.write
		// (the store also checks credential.write); the page and the
		// export need export.create, and the store also checks
		// provider.read and credential.read for the export. An import is
		// visible to everyone in its organization who may import.
		{pattern: "GET /roster", handler: h.handleRoster,
			policy: Policy{SignedIn: true, Permission: credtrack.PermExportCreate}},
		// The upload's body limit is the file's plus the multipart framing.
		{pattern: "POST /roster/import", handler: h.handleRosterUpload, maxBody: h.rosterMaxBytes + 1<<20,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		{pattern: "GET /roster/imports/{id}", handler: h.handleRosterImport,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		{pattern: "GET /roster/imports/{id}/progress", handler: h.handleRosterProgress,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		{pattern: "POST /roster/imports/{id}/commit", handler: h.handleRosterCommit,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderWrite}},
		{pattern: "GET /roster/export.csv", handler: h.handleRosterExport,
			policy: Policy{SignedIn: true, Permission: credtrack.PermExportCreate}},

		{pattern: "GET /audit", handler: h.handleAuditIndex,
			policy: Policy{SignedIn: true, Permission: credtrack.PermAuditRead}},
		// Exports also need export.create, which the store checks (every
		// role with audit.read holds it today).
		{pattern: "GET /audit/export.csv", handler: h.handleAuditExportCSV,
			policy: Policy{SignedIn: true, Permission: credtrack.PermAuditRead}},
		{pattern: "GET /audit/export.jsonl", handler: h.handleAuditExportJSONL,
			policy: Policy{SignedIn: true, Permission: credtrack.PermAuditRead}},

		// Exclusion screening (issue 6): the queue of candidates and their
		// decisions, the lists in force and their history, the monitoring
		// runs; alerts of the organization.
		{pattern: "GET /screening", handler: h.handleScreening,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},
		{pattern: "POST /screening/candidates/{id}/decide", handler: h.handleDecide,
			policy: Policy{SignedIn: true, Permission: credtrack.PermVerificationRun}},
		{pattern: "GET /screening/lists", handler: h.handleScreeningLists,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},
		{pattern: "GET /screening/monitoring", handler: h.handleScreeningMonitoring,
			policy: Policy{SignedIn: true, Permission: credtrack.PermProviderRead}},
		{pattern: "GET /alerts", handler: h.handleAlerts,
			policy: Policy{SignedIn: true, Permission: credtrack.PermOrgRead}},
		{pattern: "POST /alerts/{id}/ack", handler: h.handleAlertAck,
			policy: Policy{SignedIn: true, Permission: credtrack.PermVerificationRun}},

		{pattern: "GET /static/{hash}/{name}", policy: public, handler: h.handleStatic, static: true},
	}
}

// contentSecurityPolicy allows only same-origin style sheets, images and
// scripts and nothing inline, so injected markup cannot run or restyle
// anything; form-action and frame-ancestors stop form hijacking and
// clickjacking.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	// Pages show records of one organization to one person, so no browser
	// or proxy may keep them. Set here, before routing, so that redirects
	// and errors carry it too; the static handler replaces it for the
	// assets it actually serves.
	hd.Set("Cache-Control", "no-store")
	if h.unrouted(r) {
		h.notFound.ServeHTTP(w, r)
		return
	}
	h.handler.ServeHTTP(w, r)
}

// unrouted reports whether no route has r's path under any method, so
// that it gets the HTML 404 page rather than the mux's plain text. A path
// that exists under another method is left to the mux, which answers 405
// with an Allow header.
func (h *Handler) unrouted(r *http.Request) bool {
	if _, pattern := h.mux.Handler(r); pattern != "" {
		return false
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" {
			return false
		}
	}
	return true
}

// Routes returns every registered "METHOD /path" pattern, in table order.
func (h *Handler) Routes() []string {
	out := make([]string, len(h.routes))
	for i, rt := range h.routes {
		out[i] = rt.pattern
	}
	return out
}

// Policies returns the policy of every registered pattern, keyed by pattern.
func (h *Handler) Policies() map[string]Policy {
	out := make(map[string]Policy, len(h.routes))
	for _, rt := range h.routes {
		out[rt.pattern] = rt.policy
	}
	return out
}

// Mux returns the underlying ServeMux, without the security and cache
// headers, the cross-origin protection and the HTML 404 page that
// ServeHTTP adds. It is meant for route inspection; serve through the
// Handler itself.
func (h *Handler) Mux() *http.ServeMux { return h.mux }
