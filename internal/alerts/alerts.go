// Package alerts raises alerts for an organization's coordinators: it
// stores the alert (shown in the app: a badge in the navigation and the
// /alerts page) and emails it to every coordinator of the organization
// (owners and admins too when the organization has no coordinator).
//
// The API is one call, for any part of credtrack that needs a person to
// look at something (the exclusion monitoring job, a source that keeps
// failing):
//
//	svc.Raise(ctx, &credtrack.Alert{Kind: "source.failing", Key: "source.failing:nppes:2026-12-02",
//		Severity: credtrack.AlertWarning, Title: "NPPES has failed for 3 hours",
//		Body: "Checks are queued as manual verification tasks.", Link: "/verifications"})
//
// ctx acts in the organization (a system actor for jobs). Key deduplicates:
// an alert whose key the organization already has is neither stored nor
// emailed again, so a job may raise the same condition on every run.
// Title and Body must not hold sensitive values (NPI, SSN, licence
// numbers): they go into email. Emailing is best effort: a failed send is
// logged and the alert stays in the app.
package alerts

import (
	"context"
	"log/slog"
	"strings"

	"credtrack"
	"credtrack/internal/mail"
)

// Store is what the service needs from the store.
type Store interface {
	RaiseAlert(ctx context.Context, a *credtrack.Alert) (bool, error)
	ListMembers(ctx context.Context) ([]*credtrack.Member, error)
	FindOrgByID(ctx context.Context, id string) (*credtrack.Organization, error)
}

// Service raises alerts.
type Service struct {
	Store Store
	// Mail sends the emails; nil sends none.
	Mail mail.Sender
	// BaseURL is the public URL of the app, to make Link absolute.
	BaseURL string
	Log     *slog.Logger
}

// Raise stores a and, when it is new, emails the organization's
// coordinators. It reports whether a was new.
func (s *Service) Raise(ctx context.Context, a *credtrack.Alert) (bool, error) {
	added, err := s.Store.RaiseAlert(ctx, a)
	if err != nil || !added || s.Mail == nil {
		return added, err
	}
	s.email(ctx, a)
	return true, nil
}

// Recipients returns the addresses an alert of the organization in ctx
// goes to: its coordinators, or its owners and admins when it has none.
func (s *Service) Recipients(ctx context.Context) ([]*credtrack.Member, error) {
	members, err := s.Store.ListMembers(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("alerts", credtrack.ActorFromContext(ctx).OrgID)))
	if err != nil {
		return nil, err
	}
	var coord, admins []*credtrack.Member
	for _, m := range members {
		switch m.Role {
		case credtrack.RoleCoordinator:
			coord = append(coord, m)
		case credtrack.RoleOwner, credtrack.RoleAdmin:
			admins = append(admins, m)
		}
	}
	if len(coord) > 0 {
		return coord, nil
	}
	return admins, nil
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Service) email(ctx context.Context, a *credtrack.Alert) {
	to, err := s.Recipients(ctx)
	if err != nil {
		s.log().Error("alert: cannot list recipients", "alert", a.ID, "err", err)
		return
	}
	orgName := ""
	if o, err := s.Store.FindOrgByID(ctx, a.OrgID); err == nil {
		orgName = o.Name
	}
	link := strings.TrimRight(s.BaseURL, "/") + "/alerts"
	if strings.HasPrefix(a.Link, "/") {
		link = strings.TrimRight(s.BaseURL, "/") + a.Link
	}
	for _, m := range to {
		msg, err := mail.Render(mail.TemplateAlert, mail.AlertData{Name: m.Name, OrgName: orgName, Title: a.Title, Body: a.Body, Link: link})
		if err != nil {
			s.log().Error("alert: cannot render the email", "alert", a.ID, "err", err)
			return
		}
		msg.To = m.Email
		if err := s.Mail.Send(ctx, msg); err != nil {
			s.log().Error("alert: email not sent", "alert", a.ID, "member", m.UserID, "err", err)
		}
	}
}
