// Package reminders warns before credentials expire. A daily background
// job (JobKind, run once per UTC day whatever the number of server
// processes: the job table keeps one job per kind and day) goes through
// every organization and, for each credential of an active provider that
// expires within the organization's expiring window, issues a reminder at
// fixed thresholds (Thresholds: 90, 60, 30 and 7 days before, and on
// expiry), limited to the window. A reminder is an in-app alert for the
// coordinators, emailed to them (internal/alerts), and an email to the
// provider's linked account, if any. Each (credential, expiry date,
// threshold) is recorded in the database before anything is sent, so a
// reminder goes out at most once, even with a rerun or several processes;
// a renewed credential (new expiry date) is reminded of afresh. Each is
// audited "reminder.sent". Nothing names a credential's number.
package reminders

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/jobs"
	"credtrack/internal/mail"
)

// JobKind is the daily reminder pass.
const JobKind = "reminders.daily"

// Every is how often the pass runs.
const Every = 24 * time.Hour

// Thresholds are the days before expiry at which a reminder goes out (0:
// on the day of expiry), most distant first.
var Thresholds = []int{90, 60, 30, 7, 0}

// ExpiredGrace is how many days after expiry an "on expiry" reminder may
// still go out when the pass missed the day itself (servers down, a
// credential entered late); older expiries are shown on the pages but not
// emailed about.
const ExpiredGrace = 30

// AlertKind is the kind of the coordinators' alert.
const AlertKind = "credential.expiring"

// Store is the persistence the pass needs (*sqlstore.DB).
type Store interface {
	ReminderOrgs(ctx context.Context) ([]credtrack.ReminderOrg, error)
	ExpiringCredentials(ctx context.Context, from, to credtrack.Date) ([]*credtrack.ExpiringCredential, error)
	RecordReminder(ctx context.Context, r *credtrack.ExpiryReminder) (bool, error)
}

// Alerter raises an alert for the coordinators of the organization in ctx
// and emails them (*alerts.Service).
type Alerter interface {
	Raise(ctx context.Context, a *credtrack.Alert) (bool, error)
}

// Service runs the reminder pass.
type Service struct {
	Store  Store
	Alerts Alerter
	// Mail sends the providers' emails; nil sends none.
	Mail mail.Sender
	// BaseURL is the public URL of the app, for the links in emails.
	BaseURL string
	Log     *slog.Logger
	// Now is the clock (default credtrack.Now).
	Now func() time.Time
	// TimePass, when set, times each pass (server.Metrics.TimePass: the
	// "reminders" series of credtrack_pass_duration_seconds).
	TimePass func(pass string) func(err error)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return credtrack.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// JobKinds returns the daily job for the server's job runner.
func (s *Service) JobKinds() map[string]jobs.Kind {
	return map[string]jobs.Kind{JobKind: {Every: Every, Handler: func(ctx context.Context, _ *credtrack.Job) error {
		_, err := s.Pass(ctx)
		return err
	}}}
}

// ThresholdsFor returns the thresholds that apply with an expiring window
// of window days: the window itself (the first warning comes when a
// credential enters it) and every standard threshold below it.
func ThresholdsFor(window int) []int {
	out := []int{window}
	for _, t := range Thresholds {
		if t < window {
			out = append(out, t)
		}
	}
	return out
}

// Due returns the threshold a credential with daysLeft days to expiry is
// due a reminder for, among thresholds (most distant first): the nearest
// one it has reached, so a pass that missed days, or a credential entered
// late, sends one reminder and not a burst of stale ones. ok is false
// outside the window or more than ExpiredGrace days after expiry.
func Due(daysLeft int, thresholds []int) (threshold int, ok bool) {
	if daysLeft < -ExpiredGrace || len(thresholds) == 0 || daysLeft > thresholds[0] {
		return 0, false
	}
	due := thresholds[0]
	for _, t := range thresholds {
		if daysLeft <= t {
			due = t
		}
	}
	return due, true
}

// Pass issues the reminders due today in every organization and returns
// how many it issued. An organization that fails is logged and the pass
// goes on with the next; the error of the first is returned (the job is
// retried, and the reminders already recorded are not sent again).
func (s *Service) Pass(ctx context.Context) (sent int, err error) {
	if s.TimePass != nil {
		done := s.TimePass("reminders")
		defer func() { done(err) }()
	}
	today := credtrack.DateOf(s.now())
	orgs, err := s.Store.ReminderOrgs(credtrack.NewContextWithActor(ctx, credtrack.SystemActor(JobKind, "")))
	if err != nil {
		return 0, err
	}
	var first error
	for _, o := range orgs {
		n, err := s.org(credtrack.NewContextWithActor(ctx, credtrack.SystemActor(JobKind, o.ID)), o, today)
		sent += n
		if err != nil {
			s.log().Error("reminders: organization failed", "org", o.ID, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return sent, first
}

func (s *Service) org(ctx context.Context, o credtrack.ReminderOrg, today credtrack.Date) (int, error) {
	window := o.WindowDays
	if window <= 0 {
		window = 90
	}
	ths := ThresholdsFor(window)
	from := credtrack.Date{Time: today.AddDate(0, 0, -ExpiredGrace)}
	to := credtrack.Date{Time: today.AddDate(0, 0, ths[0])}
	list, err := s.Store.ExpiringCredentials(ctx, from, to)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, c := range list {
		days := c.ExpiresOn.DaysUntil(today)
		t, ok := Due(days, ths)
		// A reminder at this threshold, or a nearer one, went out already.
		if !ok || slices.ContainsFunc(c.Sent, func(x int) bool { return x <= t }) {
			continue
		}
		added, err := s.Store.RecordReminder(ctx, &credtrack.ExpiryReminder{CredentialID: c.CredentialID, ProviderID: c.ProviderID,
			ExpiresOn: c.ExpiresOn, Threshold: t, DaysLeft: days})
		if err != nil {
			return sent, err
		}
		if !added {
			continue // another process got there first
		}
		sent++
		s.alert(ctx, c, t, days)
		s.emailProvider(ctx, o, c, days)
	}
	return sent, nil
}

// credentialName names a credential without its number.
func credentialName(c *credtrack.ExpiringCredential) string {
	n := c.Type.Label()
	if c.Jurisdiction != "" {
		n += " (" + c.Jurisdiction + ")"
	}
	return n
}

func when(days int, on credtrack.Date) string {
	switch {
	case days > 0:
		return fmt.Sprintf("expires in %d day(s), on %s", days, on)
	case days == 0:
		return "expires today"
	default:
		return "expired on " + on.String()
	}
}

func (s *Service) alert(ctx context.Context, c *credtrack.ExpiringCredential, threshold, days int) {
	if s.Alerts == nil {
		return
	}
	sev := credtrack.AlertInfo
	switch {
	case days <= 0:
		sev = credtrack.AlertCritical
	case days <= 7:
		sev = credtrack.AlertWarning
	}
	a := &credtrack.Alert{Kind: AlertKind, Severity: sev,
		Key:   fmt.Sprintf("%s:%s:%s:%d", AlertKind, c.CredentialID, c.ExpiresOn, threshold),
		Title: fmt.Sprintf("%s: %s %s", c.ProviderName, credentialName(c), when(days, c.ExpiresOn)),
		Body:  "Ask the provider for the renewed credential and record it.",
		Link:  "/providers/" + c.ProviderID}
	if _, err := s.Alerts.Raise(ctx, a); err != nil {
		s.log().Error("reminders: the alert was not raised", "credential", c.CredentialID, "err", err)
	}
}

func (s *Service) emailProvider(ctx context.Context, o credtrack.ReminderOrg, c *credtrack.ExpiringCredential, days int) {
	if s.Mail == nil || c.ProviderEmail == "" {
		return
	}
	msg, err := mail.Render(mail.TemplateExpiryReminder, mail.ExpiryReminderData{Name: c.ProviderUserName, OrgName: o.Name,
		Credential: credentialName(c), ExpiresOn: c.ExpiresOn.String(), DaysLeft: days,
		Link: strings.TrimRight(s.BaseURL, "/") + "/providers/" + c.ProviderID})
	if err != nil {
		s.log().Error("reminders: cannot render the email", "credential", c.CredentialID, "err", err)
		return
	}
	msg.To = c.ProviderEmail
	if err := s.Mail.Send(ctx, msg); err != nil {
		// Logged without the address: the reminder stays in the app.
		s.log().Error("reminders: email to the provider not sent", "credential", c.CredentialID, "err", err)
	}
}
