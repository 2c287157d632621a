package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/httperr"
)

// Admin is the organization administration service behind the /org pages:
// members and roles, invitations, settings, API tokens and switching
// organizations. Every method acts in the organization of the actor in
// ctx, checks the actor's permission and audits what it does; an ID of
// another organization gives ENOTFOUND. It is implemented outside web
// (internal/admin over the store).
type Admin interface {
	// ListMembers lists the organization's members.
	ListMembers(ctx context.Context) ([]*credtrack.Member, error)
	// ChangeMemberRole gives a member a new role and ends the member's
	// sessions in the organization; demoting the last owner is ECONFLICT,
	// and only owners grant or change the owner role.
	ChangeMemberRole(ctx context.Context, userID string, role credtrack.Role) error
	// RemoveMember takes a member out of the organization (never the last
	// owner) and ends the member's sessions in it.
	RemoveMember(ctx context.Context, userID string) error
	// UnlockUser ends a member's sign-in lock.
	UnlockUser(ctx context.Context, userID string) error
	// Invite creates an invitation for an address and a role and emails
	// its one-time link; inviting the same address again replaces it.
	Invite(ctx context.Context, email string, role credtrack.Role) error
	// ListInvitations lists the pending invitations.
	ListInvitations(ctx context.Context) ([]*credtrack.Invitation, error)
	// RevokeInvitation makes a pending invitation unusable.
	RevokeInvitation(ctx context.Context, id string) error
	// GetOrgSettings returns the organization's settings.
	GetOrgSettings(ctx context.Context) (*credtrack.OrgSettings, error)
	// UpdateOrgSettings changes them.
	UpdateOrgSettings(ctx context.Context, s credtrack.OrgSettings) error
	// ListAPITokens lists the organization's API tokens (never secrets).
	ListAPITokens(ctx context.Context) ([]*credtrack.APIToken, error)
	// CreateAPIToken creates a token and returns its secret, shown once.
	CreateAPIToken(ctx context.Context, t *credtrack.APIToken) (string, error)
	// RevokeAPIToken revokes a token.
	RevokeAPIToken(ctx context.Context, id string) error
	// SwitchOrg makes the session of token act in another organization of
	// its user and returns the session's new token; the old one stops
	// working.
	SwitchOrg(ctx context.Context, token, orgID string) (newToken string, err error)
}

func init() {
	pageNames = append(pageNames, "org_members", "org_invitations", "org_settings", "org_tokens")
	flashes["member-role-changed"] = Flash{Kind: "info", Text: "The role was changed. That member's sessions in this organization were signed out."}
	flashes["member-removed"] = Flash{Kind: "info", Text: "The member was removed from the organization."}
	flashes["member-unlocked"] = Flash{Kind: "info", Text: "The account was unlocked."}
	flashes["invitation-sent"] = Flash{Kind: "info", Text: "The invitation was sent. The link works once, for 7 days."}
	flashes["invitation-revoked"] = Flash{Kind: "info", Text: "The invitation was revoked; its link no longer works."}
	flashes["settings-saved"] = Flash{Kind: "info", Text: "The settings were saved."}
	flashes["token-revoked"] = Flash{Kind: "info", Text: "The API token was revoked; it no longer works."}
	flashes["org-switched"] = Flash{Kind: "info", Text: "You switched organization."}
}

// orgNav is the sub-navigation of the organization pages.
type orgNav struct {
	Href, Label string
	Current     bool
}

// orgPage is the part shared by the organization pages.
type orgPage struct {
	Page
	Tabs []orgNav
}

func (h *Handler) newOrgPage(w http.ResponseWriter, r *http.Request, title, tab string) orgPage {
	p := orgPage{Page: h.newPage(w, r, title, "org")}
	a := p.Actor
	for _, t := range []struct {
		href, label string
		perm        credtrack.Permission
	}{
		{"/org/members", "Members", credtrack.PermMemberRead},
		{"/org/invitations", "Invitations", credtrack.PermMemberRead},
		{"/org/tokens", "API tokens", credtrack.PermTokenManage},
		{"/org/settings", "Settings", credtrack.PermOrgManage},
	} {
		if a.Can(t.perm) {
			p.Tabs = append(p.Tabs, orgNav{Href: t.href, Label: t.label, Current: t.href == tab})
		}
	}
	return p
}

// orgManager is the first /org page the actor may open, "" for none; the
// "Organization" navigation link goes there.
func orgManager(a credtrack.Actor) string {
	switch {
	case a.Can(credtrack.PermMemberRead):
		return "/org/members"
	case a.Can(credtrack.PermTokenManage):
		return "/org/tokens"
	case a.Can(credtrack.PermOrgManage):
		return "/org/settings"
	}
	return ""
}

// memberRow is one line of the members table.
type memberRow struct {
	UserID, Email, Name string
	Role                credtrack.Role
	MFA                 bool
	Locked              bool
	LockedUntil         string
	Self                bool
	// Manageable: the actor may change this member's role or remove them
	// (admins do not manage owners).
	Manageable bool
}

// membersPage is the data of templates/pages/org_members.html.
type membersPage struct {
	orgPage
	Rows      []memberRow
	Roles     []credtrack.Role // the roles the actor may grant
	CanManage bool
}

// grantable lists the roles a may give: owners every role, others every
// role below owner.
func grantable(a credtrack.Actor) []credtrack.Role {
	if a.Role == credtrack.RoleOwner {
		return credtrack.Roles
	}
	return credtrack.Roles[1:]
}

// requireAdmin answers 503 when no Admin service is configured.
func (h *Handler) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	if h.admin == nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EUNAVAILABLE, "Organization administration is not available."))
		return false
	}
	return true
}

// handleMembers lists the organization's members.
func (h *Handler) handleMembers(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	list, err := h.admin.ListMembers(r.Context())
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := membersPage{orgPage: h.newOrgPage(w, r, "Members", "/org/members")}
	a := p.Actor
	p.CanManage, p.Roles = a.Can(credtrack.PermMemberManage), grantable(a)
	for _, m := range list {
		p.Rows = append(p.Rows, memberRow{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role,
			MFA: m.MFAEnrolled, Locked: !m.LockedUntil.IsZero(), LockedUntil: stamp(m.LockedUntil), Self: m.UserID == a.ID,
			Manageable: p.CanManage && (m.Role != credtrack.RoleOwner || a.Role == credtrack.RoleOwner)})
	}
	h.render(w, r, http.StatusOK, "org_members", p)
}

// handleMemberRole changes a member's role.
func (h *Handler) handleMemberRole(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	// The role is validated by the service, after the member: another
	// organization's member ID is a 404 whatever the form holds.
	err := h.admin.ChangeMemberRole(r.Context(), r.PathValue("id"), credtrack.Role(r.PostForm.Get("role")))
	h.afterOrgPost(w, r, err, "member-role-changed", "/org/members")
}

// handleMemberRemove removes a member from the organization.
func (h *Handler) handleMemberRemove(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.afterOrgPost(w, r, h.admin.RemoveMember(r.Context(), r.PathValue("id")), "member-removed", "/org/members")
}

// handleMemberUnlock ends a member's sign-in lock.
func (h *Handler) handleMemberUnlock(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.afterOrgPost(w, r, h.admin.UnlockUser(r.Context(), r.PathValue("id")), "member-unlocked", "/org/members")
}

// afterOrgPost redirects to next with a flash after a successful change,
// or shows the error (a 4xx with the service's message, such as the last
// owner's ECONFLICT).
func (h *Handler) afterOrgPost(w http.ResponseWriter, r *http.Request, err error, flash, next string) {
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, flash)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// invitationRow is one line of the pending invitations table.
type invitationRow struct {
	ID, Email string
	Role      credtrack.Role
	Sent      string
	Expires   string
}

// invitationsPage is the data of templates/pages/org_invitations.html.
type invitationsPage struct {
	orgPage
	Rows      []invitationRow
	Roles     []credtrack.Role
	CanManage bool
	// Email and Role refill the form after a refused invitation.
	Email string
	Role  credtrack.Role
}

func (h *Handler) invitationsPage(w http.ResponseWriter, r *http.Request) (invitationsPage, error) {
	list, err := h.admin.ListInvitations(r.Context())
	if err != nil {
		return invitationsPage{}, err
	}
	p := invitationsPage{orgPage: h.newOrgPage(w, r, "Invitations", "/org/invitations"), Role: credtrack.RoleProvider}
	p.CanManage, p.Roles = p.Actor.Can(credtrack.PermMemberManage), grantable(p.Actor)
	for _, inv := range list {
		p.Rows = append(p.Rows, invitationRow{ID: inv.ID, Email: inv.Email, Role: inv.Role,
			Sent: stamp(inv.CreatedAt), Expires: stamp(inv.ExpiresAt)})
	}
	return p, nil
}

// handleInvitations shows the invitation form and the pending invitations.
func (h *Handler) handleInvitations(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	p, err := h.invitationsPage(w, r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "org_invitations", p)
}

// handleInvite creates and emails an invitation. A refused address or role
// shows the form again with the message and the values entered.
func (h *Handler) handleInvite(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	role, err := credtrack.ParseRole(r.PostForm.Get("role"))
	if err == nil {
		err = h.admin.Invite(r.Context(), email, role)
	}
	switch credtrack.ErrorCode(err) {
	case "":
		h.afterOrgPost(w, r, nil, "invitation-sent", "/org/invitations")
	case credtrack.EINVALID, credtrack.ECONFLICT, credtrack.EUNAVAILABLE:
		p, lerr := h.invitationsPage(w, r)
		if lerr != nil {
			h.renderError(w, r, lerr)
			return
		}
		p.Email, p.Role = email, role
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: credtrack.ErrorMessage(err)})
		h.render(w, r, httperr.Status(credtrack.ErrorCode(err)), "org_invitations", p)
	default:
		h.renderError(w, r, err)
	}
}

// handleInvitationRevoke revokes a pending invitation.
func (h *Handler) handleInvitationRevoke(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.afterOrgPost(w, r, h.admin.RevokeInvitation(r.Context(), r.PathValue("id")), "invitation-revoked", "/org/invitations")
}

// settingsPage is the data of templates/pages/org_settings.html.
type settingsPage struct {
	orgPage
	Settings credtrack.OrgSettings
	// Types heads the required-credentials table; Required has one row
	// per profession.
	Types    []option
	Required []requiredRow
}

// requiredRow is one profession's required credential types.
type requiredRow struct {
	Profession string
	Changed    bool // differs from the defaults
	Cells      []requiredCell
}

// requiredCell is one checkbox of the required-credentials table.
type requiredCell struct {
	Name, Value, Label string
	Checked, Default   bool
}

func requiredTable(set credtrack.RequiredCredentialSet) ([]option, []requiredRow) {
	var types []option
	for _, t := range credtrack.CredentialTypes {
		types = append(types, option{Value: string(t), Label: t.Label()})
	}
	var rows []requiredRow
	for _, p := range credtrack.Professions {
		_, changed := set[p]
		row := requiredRow{Profession: string(p), Changed: changed}
		have, def := set.For(p), credtrack.RequiredCredentials(p)
		for _, t := range credtrack.CredentialTypes {
			row.Cells = append(row.Cells, requiredCell{Name: "req_" + string(p), Value: string(t),
				Label: string(p) + " requires " + t.Label(), Checked: slices.Contains(have, t), Default: slices.Contains(def, t)})
		}
		rows = append(rows, row)
	}
	return types, rows
}

// handleSettings shows the organization settings form.
func (h *Handler) handleSettings(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	s, err := h.admin.GetOrgSettings(r.Context())
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	types, rows := requiredTable(s.RequiredCredentials)
	h.render(w, r, http.StatusOK, "org_settings", settingsPage{orgPage: h.newOrgPage(w, r, "Organization settings", "/org/settings"),
		Settings: *s, Types: types, Required: rows})
}

// handleSettingsSave saves the organization settings.
func (h *Handler) handleSettingsSave(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("expiring_window_days")))
	if err != nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The expiring window must be a whole number of days between 1 and 365."))
		return
	}
	s := credtrack.OrgSettings{RequireMFA: r.PostForm.Get("require_mfa") == "on", ExpiringWindowDays: days}
	// The required-credentials table is on the form: every profession's
	// ticked types replace the stored set (the store keeps only the rows
	// that differ from the defaults).
	if r.PostForm.Get("required_present") == "1" {
		s.RequiredCredentials = credtrack.RequiredCredentialSet{}
		for _, p := range credtrack.Professions {
			ts := []credtrack.CredentialType{}
			for _, v := range r.PostForm["req_"+string(p)] {
				ts = append(ts, credtrack.CredentialType(v))
			}
			s.RequiredCredentials[p] = ts
		}
	}
	h.afterOrgPost(w, r, h.admin.UpdateOrgSettings(r.Context(), s), "settings-saved", "/org/settings")
}

// tokenRow is one line of the API tokens table.
type tokenRow struct {
	ID, Name  string
	Role      credtrack.Role
	Created   string
	Expires   string
	LastUsed  string
	Status    string // "active", "expired" or "revoked"
	Revocable bool
}

// tokensPage is the data of templates/pages/org_tokens.html.
type tokensPage struct {
	orgPage
	Rows  []tokenRow
	Roles []credtrack.Role
	// Secret is the token just created, shown on this one response only.
	Secret    string
	NewName   string
	NewExpiry string
}

func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request) (tokensPage, error) {
	list, err := h.admin.ListAPITokens(r.Context())
	if err != nil {
		return tokensPage{}, err
	}
	p := tokensPage{orgPage: h.newOrgPage(w, r, "API tokens", "/org/tokens")}
	p.Roles = grantable(p.Actor)
	now := credtrack.Now()
	for _, t := range list {
		row := tokenRow{ID: t.ID, Name: t.Name, Role: t.Role, Created: stamp(t.CreatedAt), Expires: stamp(t.ExpiresAt),
			LastUsed: stamp(t.LastUsedAt), Status: "active"}
		switch {
		case !t.RevokedAt.IsZero():
			row.Status = "revoked"
		case !t.ExpiresAt.IsZero() && now.After(t.ExpiresAt):
			row.Status = "expired"
		}
		if t.ExpiresAt.IsZero() {
			row.Expires = "never"
		}
		if t.LastUsedAt.IsZero() {
			row.LastUsed = "never"
		}
		row.Revocable = row.Status == "active"
		p.Rows = append(p.Rows, row)
	}
	return p, nil
}

// handleTokens lists the API tokens with the form to create one.
func (h *Handler) handleTokens(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	p, err := h.tokensPage(w, r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "org_tokens", p)
}

// maxTokenDays caps an API token's expiry; "" or 0 means no expiry.
const maxTokenDays = 3650

// handleTokenCreate creates an API token and shows its secret on this
// response only (no redirect: the secret must not travel in a URL or a
// cookie, and the page is no-store).
func (h *Handler) handleTokenCreate(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	role, err := credtrack.ParseRole(r.PostForm.Get("role"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	t := &credtrack.APIToken{Name: strings.TrimSpace(r.PostForm.Get("name")), Role: role}
	if d := strings.TrimSpace(r.PostForm.Get("expires_days")); d != "" && d != "0" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > maxTokenDays {
			h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The expiry must be a whole number of days between 1 and 3650, or empty for none."))
			return
		}
		t.ExpiresAt = credtrack.Now().Add(time.Duration(n) * 24 * time.Hour)
	}
	if role == credtrack.RoleOwner && credtrack.ActorFromContext(r.Context()).Role != credtrack.RoleOwner {
		h.renderError(w, r, credtrack.Errorf(credtrack.EFORBIDDEN, "Only an owner may create a token with the owner role."))
		return
	}
	secret, err := h.admin.CreateAPIToken(r.Context(), t)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p, err := h.tokensPage(w, r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p.Secret, p.NewName = secret, t.Name
	h.render(w, r, http.StatusOK, "org_tokens", p)
}

// handleTokenRevoke revokes an API token.
func (h *Handler) handleTokenRevoke(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.afterOrgPost(w, r, h.admin.RevokeAPIToken(r.Context(), r.PathValue("id")), "token-revoked", "/org/tokens")
}

// handleSwitchOrg moves the session to another of the user's
// organizations. The session gets a new token (set here), so the old
// cookie stops working.
func (h *Handler) handleSwitchOrg(w http.ResponseWriter, r *http.Request) {
	if !h.requireAdmin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	token, err := h.admin.SwitchOrg(r.Context(), s.token, r.PostForm.Get("org"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setSessionCookie(w, token)
	h.setFlash(w, "org-switched")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
