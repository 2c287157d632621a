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
	{"provider.listed", "reads", "A list of providers was shown, or a search by number answered; details hold the number of results and the kind of lookup (by: npi, dea, license, name_or_license; license_state), never the search values."},
	{"credential.created", "records", "A credential was added to a provider."},
	{"credential.read", "reads", "A credential with its full number was shown."},
	{"provider.updated", "records", "A provider record was changed; the names of the changed fields are in details, never their values."},
	{"provider.deleted", "records", "A provider record was deleted with its credentials, verification records and document records (counts in details)."},
	{"credential.updated", "records", "A credential was changed; the names of the changed fields are in details, never their values."},
	{"credential.deleted", "records", "A credential was deleted; its documents stay on the provider."},
	{"sensitive.revealed", "reads", "Someone allowed to reveal sensitive numbers asked to see one in full (an SSN, NPI, date of birth, license, DEA or policy number); the field is in details, never the value."},
	{"audit.read", "reads", "Someone looked at the audit log (the viewer, or a provider's \"who read my record\" page)."},
	{"export.created", "reads", "An export was made: the audit log as CSV or JSON Lines (the filter's shape in details), or the roster as CSV (whether sensitive values were included or withheld in details); what was exported is in details."},
	{"auth.account.locked", "authentication", "Repeated failed sign-ins (5 in 15 minutes) locked an account for 15 minutes; the lock's end is in details and the user was emailed."},
	{"auth.account.unlocked", "administration", "An administrator ended an account's sign-in lock and cleared its failure counter."},
	{"auth.password.changed", "authentication", "A user changed their password with the current one (or gave a wrong current password: outcome failure); other sessions ended and the user was emailed."},
	{"auth.password_reset.requested", "authentication", "A password reset link was asked for; the outcome and reason (unknown account, disabled, rate limited) are in details, never the address."},
	{"auth.password.reset", "authentication", "A password was reset through an emailed link; every session and trusted device of the user ended."},
	{"session.revoked", "authentication", "A user signed one of their other sessions out from the sessions page."},
	{"session.revoked_others", "authentication", "A user signed out every other session; the count is in details."},
	{"session.rotated", "authentication", "A session's token was replaced (after MFA, a password change or a role change); the old cookie no longer works."},
	{"user.disabled", "administration", "An operator disabled an account: it cannot sign in, and every session and trusted device it had ended (count in details)."},
	{"user.enabled", "administration", "An operator let a disabled account sign in again."},
	{"session.limit_ended", "authentication", "A new sign-in went over the limit of sessions per account; the least recently used ones ended (count in details)."},
	{"auth.throttled", "authentication", "Sign-in attempts from one network address exceeded the per-address limit and were refused with 429."},

	// Sign-up, email verification and accepting invitations.
	{"user.signed_up", "administration", "Someone created an account by signing up (as an individual provider, a founder, or by invitation); the path is in details. Recorded in the organization it joined, attributed to the new user."},
	{"user.signup.duplicate", "authentication", "A sign-up used an address that already has an account; nothing was created, the answer was the same as for a new address, and the owner was emailed."},
	{"user.email_verified", "authentication", "An email address was confirmed through its one-time link."},
	{"user.email_verification.failed", "authentication", "An email confirmation link that is unknown, used or expired was presented."},
	{"user.email_verification.limited", "authentication", "A request for another confirmation email was refused: the account had 3 in the last hour."},
	{"invitation.accepted", "administration", "An invitation was accepted (once); the role is in details and \"member.added\" follows."},
	{"invitation.refused", "access", "An invitation link that is unknown, used, withdrawn or expired, or addressed to another account, was presented; the reason is in details."},

	// TOTP MFA, recovery codes and trusted devices.
	{"mfa.enrolment.started", "authentication", "A user started setting up TOTP; a new seed was generated and stored sealed, pending confirmation."},
	{"mfa.enabled", "authentication", "TOTP was put in force after a confirming code (ten recovery codes issued, other sessions ended, the session got a new token), or by the demo or an operator (via in details); a wrong confirming code is recorded as a failure."},
	{"mfa.verified", "authentication", "The TOTP prompt was passed with a fresh code; the session got a new token."},
	{"mfa.failed", "authentication", "A wrong TOTP code was given (at the sign-in prompt or to confirm a change), or one on a locked account; it counts towards the account lockout."},
	{"auth.mfa.replayed", "authentication", "A TOTP code whose time step was already used was given again and refused; it counts towards the account lockout."},
	{"mfa.recovery_code.used", "authentication", "A recovery code passed the TOTP prompt and was used up (codes left in details), or a wrong or used one was refused (failure)."},
	{"mfa.recovery_codes.regenerated", "authentication", "A user replaced their recovery codes; the old ones stopped working."},
	{"mfa.disabled", "authentication", "A user turned TOTP off or reset it to enrol a new authenticator; recovery codes and trusted devices went and other sessions ended."},
	{"mfa.trusted_device.created", "authentication", "A user chose to trust a browser, which then skips the TOTP prompt until it expires."},
	{"mfa.trusted_device.used", "authentication", "A sign-in from a trusted browser skipped the TOTP prompt."},
	{"mfa.trusted_device.revoked", "authentication", "A trusted device was revoked by its user, or all of them ended (by the user or a password reset; reason and count in details)."},

	// Organizations: invitations, members, roles, settings, API tokens.
	{"invitation.created", "administration", "An invitation to join the organization with a role was created and emailed; the role is in details, never the address or the token."},
	{"invitation.revoked", "administration", "A pending invitation was revoked, by an administrator or because the same address was invited again (reason in details)."},
	{"member.role_changed", "administration", "A member's role changed (from and to in details); the member's sessions in the organization ended."},
	{"member.removed", "administration", "A member was removed from the organization (the account stays); their sessions in it ended."},
	{"org.settings_changed", "administration", "The organization's settings changed (MFA for every member, expiring window, required credentials per profession); the new values are in details, and the professions whose requirements changed."},
	{"api_token.revoked", "administration", "An API token was revoked; it stopped working at once."},
	{"session.org_switched", "authentication", "A session switched to another organization of its user and got a new token; the previous organization is in details."},

	// Documents.
	{"document.uploaded", "records", "A document was uploaded, encrypted and stored; its type, size and provider are in details, and possible_fraud when the same fingerprint is on record for another provider."},
	{"document.downloaded", "reads", "A document was opened for download (recorded before its key is released)."},
	{"document.listed", "reads", "A provider's list of documents was shown; the number of results is in details."},
	{"document.verified", "reads", "A file or fingerprint was checked against the organization's documents; the number of matches and possible_fraud are in details, never the fingerprint."},
	{"document.deleted", "records", "A document's record and wrapped key were deleted (its blob can no longer be decrypted) and the blob removed."},
	{"document.read", "reads", "A document's record (name, type, size, fingerprint; not its content) was shown."},
	{"document.orphan_removed", "records", "The sweep removed an encrypted blob that no document refers to (left by a crash between the blob write and the row insert; undecryptable without its row)."},
	// Primary-source verification (internal/psv): one event per source call
	// with its request and response metadata (never identifiers in clear).
	{"psv.check.requested", "verification", "A verification of a provider or credential against a source was requested and queued (or created as a manual task when the source is failing); source and state in details."},
	{"psv.nppes.requested", "verification", "The NPPES NPI Registry was queried; the masked request (kind, NPI last 4) and the response metadata (HTTP status, latency, response SHA-256 and size, result, error) are in details."},
	{"psv.nursys.requested", "verification", "Nursys e-Notify was asked for a nurse's license; the masked request (jurisdiction, license type, license last 4) and the response metadata are in details."},
	{"psv.license_file.requested", "verification", "A state board's bulk license file was searched for a license; the masked request, the file version (name and SHA-256 prefix) and the result are in details."},
	{"psv.manual.recorded", "verification", "A coordinator recorded a manual verification (what was checked, the date, the result and the attached document's ID)."},
	{"psv.check.manual", "verification", "A queued check became a manual verification task because its source keeps failing or cannot take it; the reason is in details."},
	{"psv.checks.listed", "reads", "The list of manual verification tasks (or checks in another state) was shown; the number of results is in details."},
	{"verification.listed", "reads", "A provider's verification history was shown; the number of results is in details."},
	{"verification.read", "reads", "A verification's evidence with its raw response (decrypted for display) was shown."},

	// Roster import and export.
	{"roster.imported", "records", "A roster file was imported (mode, rows read, invalid rows, providers and credentials written in details); each record written also has its own provider.created or credential.created event with the import ID. Outcome failure when nothing or not everything was written (reason in details)."},
	{"roster.checked", "records", "A roster file was checked without writing anything (a dry run); the numbers of rows and invalid rows are in details, never values from the file."},
	// Data keys (credtrack keys rotate), by the system actor keys-rotation.
	{"keys.rotation.started", "administration", "A new data key became the primary of an organization's keyset (or the instance's); the rotation ID, new key ID and row count are in details."},
	{"keys.rotation.reencrypted", "administration", "A batch of an organization's sealed values was re-encrypted under the new key; table, count and pass are in details, never values."},
	{"keys.rotation.completed", "administration", "Every sealed value of the organization was under the new key, and the old keys were disabled; their IDs are in details."},
	// Backups (credtrack backup, the scheduled backup job and credtrack restore), outside any organization.
	{"backup.created", "administration", "A backup was written (by the backup command or the scheduled backup job, named by the actor); its name, size in bytes, schema version and document blob count are in details. Recorded outside any organization, after the backup, so the backup does not hold its own event."},
	{"backup.restored", "administration", "A backup was restored and every audit chain of the restored data verified; the backup's name, when it was taken and its schema version are in details. Recorded outside any organization."},
	// Exclusion lists, screening, monitoring and alerts (issue 6).
	{"list.imported", "screening", "An exclusion list file (LEIE full or supplement, SAM extract) was validated and its version put in force; source, kind, file SHA-256, rows, entries, added and removed are in details. Recorded outside any organization."},
	{"list.import_failed", "screening", "A list file was refused (wrong header, truncated rows, wrong encoding, too large, already imported); the reason is in details and the version in force is unchanged."},
	{"screening.run", "screening", "The organization's active providers were screened against the lists in force (their NPI and date of birth were opened for it); the run, provider, match and new-candidate counts are in details."},
	{"screening.candidate.created", "screening", "A possible exclusion match was found, or a cleared one reopened because its list entry changed; score, reasons, list and version are in details."},
	{"screening.candidate.cleared", "screening", "A person decided a candidate is not the provider (the reason is kept with the candidate)."},
	{"screening.candidate.confirmed", "screening", "A person confirmed a provider is on an exclusion list."},
	{"screening.listed", "reads", "The screening queue was shown; the status filter and count are in details."},
	{"alert.raised", "screening", "An alert was raised for the organization's coordinators (shown in the app and emailed); kind and severity are in details."},
	{"alert.listed", "reads", "The organization's alerts were shown; the count is in details."},
	{"alert.acknowledged", "screening", "An alert was acknowledged."},
	{"monitoring.finished", "screening", "A monitoring run re-screened every organization; organizations, providers, new hits and list versions are in details. Recorded outside any organization."},
	// Credential expiry reminders (internal/reminders).
	{"reminder.sent", "records", "A credential expiry reminder was issued (an in-app alert and emails to the coordinators and the linked provider); the threshold, days left and expiry date are in details, never the credential's number."},
}
