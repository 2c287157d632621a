package reminders_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/alerts"
	"credtrack/internal/jobs"
	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/reminders"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

func TestThresholdsAndDue(t *testing.T) {
	if got := reminders.ThresholdsFor(90); !slices.Equal(got, []int{90, 60, 30, 7, 0}) {
		t.Errorf("ThresholdsFor(90) = %v", got)
	}
	if got := reminders.ThresholdsFor(45); !slices.Equal(got, []int{45, 30, 7, 0}) {
		t.Errorf("ThresholdsFor(45) = %v", got)
	}
	if got := reminders.ThresholdsFor(120); !slices.Equal(got, []int{120, 90, 60, 30, 7, 0}) {
		t.Errorf("ThresholdsFor(120) = %v", got)
	}
	ths := reminders.ThresholdsFor(90)
	for _, c := range []struct {
		days, want int
		ok         bool
	}{{91, 0, false}, {90, 90, true}, {61, 90, true}, {60, 60, true}, {20, 30, true}, {7, 7, true}, {1, 7, true},
		{0, 0, true}, {-30, 0, true}, {-31, 0, false}} {
		if got, ok := reminders.Due(c.days, ths); got != c.want || ok != c.ok {
			t.Errorf("Due(%d) = %d, %v; want %d, %v", c.days, got, ok, c.want, c.ok)
		}
	}
}

type org struct {
	ctx context.Context
	o   *credtrack.Organization
}

func newOrg(t *testing.T, db *sqlstore.DB, name string, window int, coord string) org {
	t.Helper()
	sys := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", ""))
	o := &credtrack.Organization{Name: name, ExpiringWindowDays: window}
	if err := db.CreateOrg(sys, o); err != nil {
		t.Fatal(err)
	}
	ctx := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", o.ID))
	addUser(t, db, ctx, coord, "Coordinator of "+name, credtrack.RoleCoordinator)
	return org{ctx, o}
}

func addUser(t *testing.T, db *sqlstore.DB, ctx context.Context, email, name string, role credtrack.Role) *credtrack.User {
	t.Helper()
	u := &credtrack.User{Email: email, Name: name}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMembership(ctx, u.ID, role); err != nil {
		t.Fatal(err)
	}
	return u
}

func provider(t *testing.T, db *sqlstore.DB, o org, first, last, userID string, active bool) *credtrack.Provider {
	t.Helper()
	p := &credtrack.Provider{FirstName: first, LastName: last, Profession: credtrack.ProfRN, Active: active, UserID: userID}
	if err := db.CreateProvider(o.ctx, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func credential(t *testing.T, db *sqlstore.DB, o org, p *credtrack.Provider, typ credtrack.CredentialType, number, state string, expires time.Time) *credtrack.Credential {
	t.Helper()
	c := &credtrack.Credential{ProviderID: p.ID, Type: typ, Number: number, Jurisdiction: state, Issuer: "Issuer",
		ExpiresOn: credtrack.DateOf(expires)}
	if err := db.CreateCredential(o.ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDailyReminderPass runs the daily pass through the job runner on both
// backends with a fake clock and a real SMTP listener: each credential is
// reminded of once per threshold within its organization's window, the
// coordinators get an in-app alert and an email, the linked provider an
// email, nothing holds the licence number, the job runs once per day
// however often it is scheduled, and concurrent passes send nothing twice.
func TestDailyReminderPass(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		smtp := mailtest.NewServer(t)
		host, port := smtp.Addr()
		sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: "credtrack@example.org", TLS: mail.TLSNone})
		if err != nil {
			t.Fatal(err)
		}
		day := 24 * time.Hour
		now := clock.T
		a := newOrg(t, db, "Clinic A", 0, "coord@a.test") // default window: 90 days
		b := newOrg(t, db, "Clinic B", 45, "coord@b.test")
		provUser := addUser(t, db, a.ctx, "rosa@a.test", "Rosa Delgado", credtrack.RoleProvider)

		rosa := provider(t, db, a, "Rosa", "Delgado", provUser.ID, true)
		lic := credential(t, db, a, rosa, credtrack.CredStateLicense, "RN998877", "MO", now.Add(20*day))
		credential(t, db, a, rosa, credtrack.CredMalpractice, "AB1234563", "MO", now.Add(95*day)) // outside the window
		credential(t, db, a, rosa, credtrack.CredMalpractice, "C-1", "MO", now.Add(-40*day))      // expired long ago
		ben := provider(t, db, a, "Ben", "Okafor", "", true)
		credential(t, db, a, ben, credtrack.CredPrivilege, "B-77", "MO", now.Add(90*day))
		gone := provider(t, db, a, "Gone", "Away", "", false)
		credential(t, db, a, gone, credtrack.CredMalpractice, "G-1", "MO", now.Add(10*day)) // inactive provider
		cara := provider(t, db, b, "Cara", "Lind", "", true)
		credential(t, db, b, cara, credtrack.CredMalpractice, "K-1", "MO", now.Add(50*day)) // outside B's 45 days
		credential(t, db, b, cara, credtrack.CredMalpractice, "K-2", "MO", now.Add(45*day))

		var passMu sync.Mutex
		passes := map[string]int{}
		svc := &reminders.Service{Store: db, Mail: sender, BaseURL: "https://credtrack.example", Now: clock.Now,
			Alerts: &alerts.Service{Store: db, Mail: sender, BaseURL: "https://credtrack.example"},
			TimePass: func(pass string) func(error) {
				return func(err error) {
					passMu.Lock()
					defer passMu.Unlock()
					if err == nil {
						passes[pass]++
					}
				}
			}}
		log := slog.New(slog.DiscardHandler)
		runner := jobs.NewRunner(db, log, svc.JobKinds())
		runner.Now = clock.Now
		other := jobs.NewRunner(db, log, svc.JobKinds()) // a second server process
		other.Now = clock.Now
		runDay := func(want int) {
			t.Helper()
			total := 0
			for _, r := range []*jobs.Runner{runner, other, runner} {
				if err := r.Schedule(context.Background()); err != nil {
					t.Fatal(err)
				}
				n, err := r.RunOnce(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				total += n
			}
			if total != want {
				t.Fatalf("reminder jobs run today: %d, want %d", total, want)
			}
		}

		// Day 0: Rosa's licence (20 days: the 30-day reminder), Ben's
		// privileges (90 days) and Cara's K-2 (45 days, B's window).
		runDay(1)
		msgs := smtp.WaitFor(t, 4, 10*time.Second)
		byTo := map[string][]mailtest.Captured{}
		for _, m := range msgs {
			byTo[m.To[0]] = append(byTo[m.To[0]], m)
			for _, secret := range []string{"RN998877", "998877", "8877", "AB1234563", "B-77", "K-2"} {
				if strings.Contains(m.Text, secret) || strings.Contains(m.HTML, secret) || strings.Contains(m.Subject, secret) {
					t.Errorf("an email to %s holds the number %q", m.To[0], secret)
				}
			}
		}
		if len(byTo["coord@a.test"]) != 2 || len(byTo["rosa@a.test"]) != 1 || len(byTo["coord@b.test"]) != 1 {
			t.Fatalf("day 0 emails: %v", keys(byTo))
		}
		if r := byTo["rosa@a.test"][0]; !strings.Contains(r.Text, "Rosa Delgado") || !strings.Contains(r.Text, "State license (MO)") ||
			!strings.Contains(r.Text, "in 20 day(s)") || !strings.Contains(r.Text, "Clinic A") ||
			!strings.Contains(r.Text, "https://credtrack.example/providers/"+rosa.ID) {
			t.Errorf("provider email:\n%s", r.Text)
		}
		if c := byTo["coord@b.test"][0]; !strings.Contains(c.Text, "Cara Lind") || strings.Contains(c.Text, "Rosa") {
			t.Errorf("B's coordinator email:\n%s", c.Text)
		}
		alertsOf := func(o org) []*credtrack.Alert {
			t.Helper()
			list, err := db.FindAlerts(o.ctx, false, 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []*credtrack.Alert
			for _, al := range list {
				if al.Kind == reminders.AlertKind {
					out = append(out, al)
				}
			}
			return out
		}
		if al := alertsOf(a); len(al) != 2 || !slices.ContainsFunc(al, func(x *credtrack.Alert) bool {
			return strings.Contains(x.Title, "Rosa Delgado: State license (MO) expires in 20 day(s)") && x.Link == "/providers/"+rosa.ID
		}) {
			t.Fatalf("A's alerts: %+v", al)
		}
		if al := alertsOf(b); len(al) != 1 {
			t.Fatalf("B's alerts: %+v", al)
		}
		sentEvents := func(o org) int {
			t.Helper()
			ev, _, err := db.FindAuditEvents(o.ctx, credtrack.AuditFilter{Action: "reminder.sent"})
			if err != nil {
				t.Fatal(err)
			}
			return len(ev)
		}
		if sentEvents(a) != 2 || sentEvents(b) != 1 {
			t.Fatalf("reminder.sent events: A %d, B %d", sentEvents(a), sentEvents(b))
		}
		// A rerun the same day sends nothing.
		if n, err := svc.Pass(context.Background()); err != nil || n != 0 {
			t.Fatalf("rerun: %d %v", n, err)
		}

		// Day 14: the licence has 6 days left (the 7-day reminder); Rosa's
		// malpractice cover enters A's window (81 days: the 90-day
		// reminder); Ben's is at 76 days (its 90-day one went out); Cara's
		// K-1 enters B's window (36 days: the 45-day reminder), K-2 is at 31.
		clock.Advance(14 * day)
		runDay(1)
		msgs = smtp.WaitFor(t, 9, 10*time.Second)
		if last := msgs[4:]; !slices.ContainsFunc(last, func(m mailtest.Captured) bool {
			return m.To[0] == "rosa@a.test" && strings.Contains(m.Text, "in 6 day(s)")
		}) {
			t.Fatalf("day 14 emails: %+v", last)
		}

		// Day 20: the licence expires today, Cara's K-2 reaches 25 days and
		// K-1 30 (B's 30-day threshold). Two passes at once, as two
		// processes might after a lost lease: each reminder goes out once.
		clock.Advance(6 * day)
		var wg sync.WaitGroup
		sent := make([]int, 2)
		for i := range sent {
			wg.Go(func() {
				n, err := svc.Pass(context.Background())
				if err != nil {
					t.Error(err)
				}
				sent[i] = n
			})
		}
		wg.Wait()
		if sent[0]+sent[1] != 3 {
			t.Fatalf("concurrent passes sent %v, want 3 in all", sent)
		}
		msgs = smtp.WaitFor(t, 13, 10*time.Second)
		time.Sleep(200 * time.Millisecond) // nothing more arrives
		if got := len(smtp.Messages()); got != 13 {
			t.Fatalf("emails in all: %d, want 13", got)
		}
		if sentEvents(a) != 5 || sentEvents(b) != 4 {
			t.Fatalf("reminder.sent events after day 20: A %d, B %d", sentEvents(a), sentEvents(b))
		}
		if !slices.ContainsFunc(msgs[9:], func(m mailtest.Captured) bool {
			return m.To[0] == "rosa@a.test" && strings.Contains(m.Text, "expires today")
		}) {
			t.Fatal("no on-expiry email to the provider")
		}

		// A renewed licence (new expiry date) is reminded of afresh when
		// its new date comes near, not before.
		lic.ExpiresOn = credtrack.DateOf(clock.T.Add(200 * day))
		if err := db.UpdateCredential(a.ctx, lic); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.Pass(context.Background()); err != nil || n != 0 {
			t.Fatalf("after the renewal: %d %v", n, err)
		}
		clock.Advance(115 * day) // 85 days left: the 90-day reminder
		if n, err := svc.Pass(context.Background()); err != nil || n < 1 {
			t.Fatalf("renewed licence: %d %v", n, err)
		}
		passMu.Lock()
		defer passMu.Unlock()
		if passes["reminders"] != 7 {
			t.Errorf("passes timed: %v, want 7 reminder passes", passes)
		}
	})
}

func keys(m map[string][]mailtest.Captured) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}
