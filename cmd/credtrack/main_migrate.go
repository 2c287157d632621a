package main

import (
	"context"
	"fmt"

	"credtrack"
	"credtrack/internal/config"
)

// runMigrate implements `credtrack migrate [status]`.
func (m *Main) runMigrate(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("migrate", "migrate [status] [flags]")
	if err := parseErr(cfg.Load(fs, args, m.Getenv, "data-dir", "database-url", "master-key", "sqlite-synchronous", "log-level", "log-format")); err != nil {
		return err
	}
	if fs.NArg() > 1 || (fs.NArg() == 1 && fs.Arg(0) != "status" && fs.Arg(0) != "up") {
		fmt.Fprintln(m.Stderr, "credtrack migrate: unknown argument; use `migrate`, `migrate up` or `migrate status`")
		return errUsage
	}
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if fs.Arg(0) == "status" {
		cur, latest, err := a.db.SchemaStatus(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "schema version %d, this credtrack knows %d (%s)\n", cur, latest, a.db.Backend())
		return nil
	}
	n, err := a.db.Migrate(ctx)
	if err != nil {
		return err
	}
	cur, _, _ := a.db.SchemaStatus(ctx)
	fmt.Fprintf(m.Stdout, "applied %d migration(s); schema version %d (%s)\n", n, cur, a.db.Backend())
	return nil
}

// runVersion implements `credtrack version`.
func (m *Main) runVersion(_ context.Context, args []string) error {
	fs := m.newFlagSet("version", "version")
	if err := parseErr(fs.Parse(args)); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "credtrack %s\n", credtrack.Version)
	return nil
}
