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
	if isLoopback(cfg.Listen) {
		cfg.DevInsecureCookies = true
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
	res, err := demo.Seed(ctx, a.db, credtrack.DateOf(time.Now()), a.hasher.Hash)
	if err != nil {
		return fmt.Errorf("seeding the demo data failed: %w", err)
	}
	if res.Created {
		a.log.Info("demo data created", "providers", res.Providers)
	} else {
		a.log.Info("demo data already present; reusing it")
	}
	return m.serve(ctx, a, func(addr string) {
		fmt.Fprintf(m.Stdout, "\ncredtrack demo is running at http://%s/ (plain HTTP on this machine only)\n\n", addr)
		fmt.Fprintln(m.Stdout, "Sign in as any of these demo users:")
		for _, l := range res.Logins {
			fmt.Fprintf(m.Stdout, "  %-12s %-28s password: %s\n", l.Role, l.Email, l.Password)
		}
		fmt.Fprintf(m.Stdout, "\nData directory: %s (delete it to start over). Stop with Ctrl-C.\n\n", cfg.DataDir)
	})
}
