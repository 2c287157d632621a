package main

import (
	"context"
	"fmt"
	"time"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/demo"
	"credtrack/internal/mail"
)

// runDemo implements `credtrack demo`: the server on the embedded default
// with a demo organization. Seeding is idempotent: a restart on the same
// data directory reuses what is there.
func (m *Main) runDemo(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("demo", "demo [flags]")
	if err := parseErr(cfg.Load(fs, args, m.Getenv)); err != nil {
		return err
	}
	// Browsers drop Secure cookies on plain http, so the demo on localhost
	// sends them without it (and says so); anywhere else it keeps them.
	if isLoopback(cfg.Listen) && cfg.TLSMode() == "" {
		cfg.DevInsecureCookies = true
	}
	// The demo publishes a security.txt with placeholder values unless
	// the operator configured one.
	if cfg.SecurityContact == "" {
		cfg.SecurityContact, cfg.SecurityExpires, cfg.SecurityPolicy = config.DemoSecurityContact, config.DemoSecurityExpires, config.DemoSecurityPolicy
	}
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.migrateOrCheck(ctx, true); err != nil {
		return err
	}
	// Without SMTP the demo prints account emails (reset links) to the
	// terminal, so the reset flow can be tried without a mail server.
	if a.mail, err = newMailer(cfg, mail.DemoSender{Out: m.Stdout}); err != nil {
		return err
	}
	// The seeded credentials expiring soon would print dozens of
	// reminder emails over the logins above: without SMTP, alerts and
	// reminders show on /alerts only.
	a.quietAlerts = cfg.SMTPHost == ""
	res, err := demo.Seed(ctx, a.db, credtrack.DateOf(time.Now()), a.hasher.Hash)
	if err != nil {
		return fmt.Errorf("seeding the demo data failed: %w", err)
	}
	// Owner, admin and coordinator must use TOTP: give the demo accounts
	// seeds (random per installation, printed below) so they can sign in.
	totpKey := a.master.Derive("demo-totp", 32)
	totpLogins, err := demo.EnrolTOTP(ctx, a.db, totpKey)
	if err != nil {
		return fmt.Errorf("setting up TOTP for the demo accounts failed: %w", err)
	}
	// Demo mode only: the prompt shows the current code of these demo
	// accounts, labelled as such, so the demo can be tried without an app.
	a.demoTOTPCode = func(email string) (string, bool) { return demo.CurrentCode(totpKey, email, credtrack.Now()) }
	if res.Created {
		a.log.Info("demo data created", "providers", res.Providers)
	} else {
		a.log.Info("demo data already present; reusing it")
	}
	return m.serve(ctx, a, func(addr string) {
		if cfg.TLSMode() != "" {
			fmt.Fprintf(m.Stdout, "\ncredtrack demo is running at https://%s/\n\n", addr)
		} else {
			fmt.Fprintf(m.Stdout, "\ncredtrack demo is running at http://%s/ (plain HTTP, unencrypted: for trying it on this machine only)\n\n", addr)
		}
		fmt.Fprintln(m.Stdout, "Sign in as any of these demo users:")
		for _, l := range res.Logins {
			fmt.Fprintf(m.Stdout, "  %-12s %-28s password: %s\n", l.Role, l.Email, l.Password)
			for _, t := range totpLogins {
				if t.Email == l.Email {
					fmt.Fprintf(m.Stdout, "  %-12s TOTP key: %s\n  %-12s %s\n", "", t.Secret, "", t.URL)
				}
			}
		}
		fmt.Fprintln(m.Stdout, "\nThe sign-in code of the accounts with a TOTP key is also shown on the demo's code page (demo only).")
		fmt.Fprintf(m.Stdout, "\nData directory: %s (delete it to start over). Stop with Ctrl-C.\n\n", cfg.DataDir)
	})
}
