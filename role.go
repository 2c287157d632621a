package credtrack

import "slices"

// Role is a member's role in one organization.
type Role string

// The roles of DESIGN.md, from most to least privileged.
const (
	RoleOwner       Role = "owner"
	RoleAdmin       Role = "admin"
	RoleCoordinator Role = "coordinator"
	RoleProvider    Role = "provider"
	RoleAuditor     Role = "auditor"
)

// Roles lists every role in display order.
var Roles = []Role{RoleOwner, RoleAdmin, RoleCoordinator, RoleProvider, RoleAuditor}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// ParseRole returns the Role named s, or an EINVALID error.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", Errorf(EINVALID, "unknown role %q: use one of owner, admin, coordinator, provider, auditor", s)
	}
	return r, nil
}

// MFARequired reports whether members with this role must enrol TOTP before
// doing anything else. Owners and admins always must; coordinators do by
// default because they see SSNs (an organization setting may relax that).
func (r Role) MFARequired() bool {
	return r == RoleOwner || r == RoleAdmin || r == RoleCoordinator
}

// Permission names one thing a role may do. The web and API route tables
// name the permission each route needs; docs/permissions.md is generated
// from Permissions.
type Permission string

// The permissions. "Own" permissions apply to the provider record linked to
// the signed-in user only.
const (
	PermOrgRead          Permission = "org.read"
	PermOrgManage        Permission = "org.manage"
	PermOrgDelete        Permission = "org.delete"
	PermBillingManage    Permission = "billing.manage"
	PermMemberRead       Permission = "member.read"
	PermMemberManage     Permission = "member.manage"
	PermTokenManage      Permission = "token.manage"
	PermProviderRead     Permission = "provider.read"
	PermProviderWrite    Permission = "provider.write"
	PermCredentialRead   Permission = "credential.read"  // #nosec G101 -- a permission name, not a credential
	PermCredentialWrite  Permission = "credential.write" // #nosec G101 -- a permission name, not a credential
	PermDocumentRead     Permission = "document.read"
	PermDocumentWrite    Permission = "document.write"
	PermVerificationRun  Permission = "verification.run"
	PermAuditRead        Permission = "audit.read"
	PermSensitiveReveal  Permission = "sensitive.reveal"
	PermExportCreate     Permission = "export.create"
	PermOwnRecordRead    Permission = "own.read"
	PermOwnRecordWrite   Permission = "own.write"
	PermOwnAuditRead     Permission = "own.audit.read"
	PermDataRightsManage Permission = "own.data_rights"
)

// PermissionInfo describes a permission for docs/permissions.md.
type PermissionInfo struct {
	Permission  Permission
	Description string
	Roles       []Role
}

// Permissions is the one table of who may do what. Every authorization
// check in web, api, CLI and jobs goes through Can, which reads this table.
var Permissions = []PermissionInfo{
	{PermOrgRead, "See the organization's name, settings and dashboard", []Role{RoleOwner, RoleAdmin, RoleCoordinator, RoleAuditor}},
	{PermOrgManage, "Change organization settings (expiry window, required credentials, MFA policy)", []Role{RoleOwner, RoleAdmin}},
	{PermOrgDelete, "Delete the organization", []Role{RoleOwner}},
	{PermBillingManage, "Manage the subscription and billing", []Role{RoleOwner}},
	{PermMemberRead, "List members and invitations", []Role{RoleOwner, RoleAdmin}},
	{PermMemberManage, "Invite, remove and change the role of members", []Role{RoleOwner, RoleAdmin}},
	{PermTokenManage, "Create and revoke API tokens", []Role{RoleOwner, RoleAdmin}},
	{PermProviderRead, "Read every provider record of the organization", []Role{RoleOwner, RoleAdmin, RoleCoordinator, RoleAuditor}},
	{PermProviderWrite, "Create, update and delete provider records", []Role{RoleOwner, RoleAdmin, RoleCoordinator}},
	{PermCredentialRead, "Read every credential of the organization", []Role{RoleOwner, RoleAdmin, RoleCoordinator, RoleAuditor}},
	{PermCredentialWrite, "Create, update and delete credentials", []Role{RoleOwner, RoleAdmin, RoleCoordinator}},
	{PermDocumentRead, "Download documents", []Role{RoleOwner, RoleAdmin, RoleCoordinator, RoleAuditor}},
	{PermDocumentWrite, "Upload and delete documents", []Role{RoleOwner, RoleAdmin, RoleCoordinator}},
	{PermVerificationRun, "Run primary-source verifications and decide screening matches", []Role{RoleOwner, RoleAdmin, RoleCoordinator}},
	{PermAuditRead, "Browse and export the organization's audit log", []Role{RoleOwner, RoleAdmin, RoleAuditor}},
	{PermSensitiveReveal, "Reveal full SSN, DEA and license numbers (audited)", []Role{RoleOwner, RoleAdmin, RoleCoordinator}},
	{PermExportCreate, "Export rosters and reports", []Role{RoleOwner, RoleAdmin, RoleCoordinator, RoleAuditor}},
	{PermOwnRecordRead, "Read one's own provider record, credentials and documents; reveal one's own NPI and credential numbers (audited)", []Role{RoleProvider}},
	{PermOwnRecordWrite, "Maintain one's own email and phone, credentials and CE (kept pending verification until staff verify them) and documents", []Role{RoleProvider}},
	{PermOwnAuditRead, "See who read one's own record", []Role{RoleProvider}},
	{PermDataRightsManage, "Make data-rights requests and manage sharing consents", []Role{RoleProvider}},
}

// Can reports whether role r holds permission p.
func (r Role) Can(p Permission) bool {
	for _, info := range Permissions {
		if info.Permission == p {
			return slices.Contains(info.Roles, r)
		}
	}
	return false
}
