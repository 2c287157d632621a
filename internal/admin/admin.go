// Package admin is the service behind the organization administration
// pages: members and roles, invitations, organization settings, API tokens
// and switching the organization a session acts in. The store does the
// work, scoped to the actor's organization and audited; this package adds
// what is not storage, such as emailing an invitation link.
package admin

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"credtrack"
	"credtrack/internal/mail"
)

// Store is the storage the service needs; *sqlstore.DB implements it.
type Store interface {
	ListMembers(ctx context.Context) ([]*credtrack.Member, error)
	ChangeMemberRole(ctx context.Context, userID string, role credtrack.Role) error
	RemoveMember(ctx context.Context, userID string) error
	UnlockUser(ctx context.Context, userID string) error
	CreateInvitation(ctx context.Context, email string, role credtrack.Role) (*credtrack.Invitation, string, error)
	ListInvitations(ctx context.Context) ([]*credtrack.Invitation, error)
	RevokeInvitation(ctx context.Context, id string) error
	GetOrgSettings(ctx context.Context) (*credtrack.OrgSettings, error)
	UpdateOrgSettings(ctx context.Context, s credtrack.OrgSettings) error
	ListAPITokens(ctx context.Context) ([]*credtrack.APIToken, error)
	CreateAPIToken(ctx context.Context, t *credtrack.APIToken) (string, error)
	RevokeAPIToken(ctx context.Context, id string) error
	SwitchSessionOrg(ctx context.Context, token, orgID string) (string, error)
	FindUserByID(ctx context.Context, id string) (*credtrack.User, error)
}

// Service implements web.Admin. The Store methods it does not wrap are
// passed through unchanged.
type Service struct {
	Store
	// Mail sends invitation emails. Without it an invitation is stored but
	// Invite reports that no email could be sent.
	Mail mail.Sender
	// BaseURL is the public URL that emailed links start with.
	BaseURL string
	// Log receives delivery failures (never addresses or tokens).
	Log *slog.Logger
}

// Invite creates an invitation and emails its link,
// BaseURL/invitations/accept?token=…, to the address. The link token is
// the only copy of the secret: it is neither returned nor logged. When the
// email cannot be sent the invitation stays stored (it can be revoked or
// sent again, which replaces it) and EUNAVAILABLE says so.
func (s *Service) Invite(ctx context.Context, email string, role credtrack.Role) error {
	inv, secret, err := s.Store.CreateInvitation(ctx, email, role)
	if err != nil {
		return err
	}
	a := credtrack.ActorFromContext(ctx)
	data := mail.InvitationData{OrgName: s.orgName(ctx), Role: string(inv.Role),
		Link: s.BaseURL + "/invitations/accept?token=" + url.QueryEscape(secret), Days: int(credtrack.InvitationTTL / (24 * time.Hour))}
	if a.Kind == credtrack.ActorUser {
		if u, err := s.Store.FindUserByID(ctx, a.ID); err == nil {
			data.InviterName = u.Name
		}
	}
	unsent := credtrack.Errorf(credtrack.EUNAVAILABLE,
		"the invitation was saved but its email could not be sent; try again later (inviting again replaces it)")
	if s.Mail == nil {
		return unsent
	}
	m, err := mail.Render(mail.TemplateInvitation, data)
	if err != nil {
		s.log().ErrorContext(ctx, "invitation email not rendered", "invitation_id", inv.ID, "err", err)
		return unsent
	}
	m.To = inv.Email
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.Mail.Send(sendCtx, m); err != nil {
		s.log().ErrorContext(ctx, "invitation email not sent", "invitation_id", inv.ID, "err", err)
		return unsent
	}
	return nil
}

// SwitchOrg makes the session of token act in orgID and returns the
// session's new token.
func (s *Service) SwitchOrg(ctx context.Context, token, orgID string) (string, error) {
	return s.Store.SwitchSessionOrg(ctx, token, orgID)
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// orgName is the display name of the actor's organization for the
// invitation email. Everyone who may invite (member.manage) may also read
// the settings (org.manage), which carry the name.
func (s *Service) orgName(ctx context.Context) string {
	if o, err := s.Store.GetOrgSettings(ctx); err == nil && o.Name != "" {
		return o.Name
	}
	return "your organization"
}
