package credtrack

// AuditAction describes one action name of the audit log. The names are
// stable: auditors filter and alert on them.
type AuditAction struct {
	Name        string
	Category    string
	Description string
}

// AuditActions is the catalogue of every action credtrack records.
// docs/audit.md is generated from it, and a test fails when the code
// records an action that is not listed here, or lists one it never records.
var AuditActions = []AuditAction{
	{"auth.login.succeeded", "authentication", "A user signed in; a new session was created."},
	{"auth.login.failed", "authentication", "A sign-in failed (unknown address, wrong password, disabled account); the reason is in details."},
	{"auth.logout", "authentication", "A user signed out; the session was deleted on the server."},
	{"auth.password.set", "authentication", "A password was set through a one-time link; every session of the user ended."},
	{"auth.token.rejected", "authentication", "An API request carried a missing, unknown, expired or revoked token."},
	{"session.expired", "authentication", "A session past its idle or absolute timeout was presented and deleted."},
	{"session.purged", "authentication", "The hourly job deleted expired sessions; the count is in details."},
	{"authz.denied", "access", "A signed-in actor or token was refused a route or record its role does not allow."},
	{"http.request", "access", "A request to a route whose work recorded no more specific event (a form page, a 404); the route and status are recorded."},
	{"org.created", "administration", "An organization was created (the first event of its chain)."},
	{"user.created", "administration", "An account was created."},
	{"member.added", "administration", "An account was given a role in an organization."},
	{"user_token.created", "administration", "A one-time link (set password, reset, verify email) was issued; the token itself is never recorded."},
	{"api_token.created", "administration", "An API token was created for a role; only its ID and name are recorded."},
	{"provider.created", "records", "A provider record was created."},
	{"provider.read", "reads", "A provider record with its credentials was shown."},
	{"provider.listed", "reads", "A list of providers was shown; the number of results is in details, never the search values."},
	{"credential.created", "records", "A credential was added to a provider."},
	{"credential.read", "reads", "A credential with its full number was shown."},
	{"audit.read", "reads", "Someone looked at the audit log (the viewer, or a provider's \"who read my record\" page)."},
	{"export.created", "reads", "An export was made (the audit log as CSV or JSON Lines); what and the filter's shape are in details."},
	{"auth.account.locked", "authentication", "Repeated failed sign-ins (5 in 15 minutes) locked an account for 15 minutes; the lock's end is in details and the user was emailed."},
	{"auth.account.unlocked", "administration", "An administrator ended an account's sign-in lock and cleared its failure counter."},
	{"auth.throttled", "authentication", "Sign-in attempts from one network address exceeded the per-address limit and were refused with 429."},

	// Sign-up, email verification and accepting invitations.

	// TOTP MFA, recovery codes and trusted devices.

	// Organizations: invitations, members, roles, settings, API tokens.

	// Documents.
}
