package main

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/mail/mailtest"
)

// TestServeRunsRemindersAndTimesPasses starts `serve` on a database with a
// licence that expires in 25 days: the daily reminder job runs at start,
// emails the coordinator (the in-app alert) and the linked provider through
// the configured SMTP server, and /metrics reports the reminder and
// screening pass durations.
func TestServeRunsRemindersAndTimesPasses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := config.Default()
	cfg.DataDir = dir
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	ctx := context.Background()
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.migrateOrCheck(ctx, true); err != nil {
		t.Fatal(err)
	}
	o := &credtrack.Organization{Name: "Reminder Clinic"}
	if err := a.db.CreateOrg(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", "")), o); err != nil {
		t.Fatal(err)
	}
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", o.ID))
	users := map[credtrack.Role]*credtrack.User{}
	for _, role := range []credtrack.Role{credtrack.RoleCoordinator, credtrack.RoleProvider} {
		u := &credtrack.User{Email: string(role) + "@remind.test", Name: "The " + string(role)}
		if err := a.db.CreateUser(sys, u); err != nil {
			t.Fatal(err)
		}
		if err := a.db.AddMembership(sys, u.ID, role); err != nil {
			t.Fatal(err)
		}
		users[role] = u
	}
	p := &credtrack.Provider{FirstName: "Nia", LastName: "Brook", Profession: credtrack.ProfRN, Active: true, UserID: users[credtrack.RoleProvider].ID}
	if err := a.db.CreateProvider(sys, p); err != nil {
		t.Fatal(err)
	}
	lic := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredStateLicense, Number: "RN554433", Jurisdiction: "MO",
		ExpiresOn: credtrack.DateOf(time.Now().Add(25 * 24 * time.Hour))}
	if err := a.db.CreateCredential(sys, lic); err != nil {
		t.Fatal(err)
	}
	a.Close()

	smtp := mailtest.NewServer(t)
	host, port := smtp.Addr()
	s := startServer(t, map[string]string{
		"CREDTRACK_DATA_DIR":  dir,
		"CREDTRACK_SMTP_HOST": host,
		"CREDTRACK_SMTP_PORT": strconv.Itoa(port),
		"CREDTRACK_SMTP_TLS":  "none",
		"CREDTRACK_SMTP_FROM": "credtrack@remind.test",
	}, "serve")
	msgs := smtp.WaitFor(t, 2, 20*time.Second)
	to := map[string]string{}
	for _, msg := range msgs {
		to[msg.To[0]] = msg.Text
		if strings.Contains(msg.Text, "554433") || strings.Contains(msg.HTML, "554433") {
			t.Errorf("the email to %s holds the licence number", msg.To[0])
		}
	}
	if !strings.Contains(to["coordinator@remind.test"], "Nia Brook: State license (MO) expires in 25 day(s)") ||
		!strings.Contains(to["provider@remind.test"], "expires on "+lic.ExpiresOn.String()+", in 25 day(s)") {
		t.Fatalf("reminder emails: %v", to)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := get(t, s.URL+"/metrics")
		if strings.Contains(body, `credtrack_pass_duration_seconds_count{outcome="ok",pass="reminders"} 1`) &&
			strings.Contains(body, `credtrack_pass_duration_seconds_count{outcome="ok",pass="screening"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has no reminder and screening pass durations:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
