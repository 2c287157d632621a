package main

import (
	"context"
	"fmt"
	"strings"

	"credtrack"
	"credtrack/internal/config"
)

// runVerify implements `credtrack verify npi --org ORG --provider ID`: an
// NPPES lookup run at once (no queue) as the system actor "cli", stored
// and audited like a check run by the job.
func (m *Main) runVerify(ctx context.Context, args []string) error {
	_, args, err := m.subcommand("verify", args, "npi")
	if err != nil {
		return err
	}
	cfg := config.Default()
	fs := m.newFlagSet("verify npi", "verify npi --org ORG --provider ID [flags]")
	org := fs.String("org", "", "the organization's ID or exact name (required)")
	provider := fs.String("provider", "", "the provider's ID (required)")
	if err = parseErr(cfg.Load(fs, args, m.Getenv, append(storeFlags, "nppes-url")...)); err != nil {
		return err
	}
	if *org == "" || *provider == "" {
		fmt.Fprintln(m.Stderr, "credtrack verify npi: --org and --provider are required")
		return errUsage
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	o, err := a.resolveOrg(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", "")), *org)
	if err != nil {
		return err
	}
	octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", o.ID))
	v, err := a.verification().Verify(octx, *provider, "", credtrack.SourceNPPES)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: %s (verification %s", credtrack.SourceLabel(v.Source), v.Result.Label(), v.ID)
	if v.HTTPStatus != 0 {
		fmt.Fprintf(m.Stdout, ", HTTP %d in %d ms", v.HTTPStatus, v.Latency.Milliseconds())
	}
	fmt.Fprintln(m.Stdout, ")")
	if v.Error != "" {
		fmt.Fprintf(m.Stdout, "  error: %s\n", v.Error)
	}
	for _, f := range v.Findings {
		mark := "ok "
		if !f.Match && f.Severity == "mismatch" {
			mark = "MISMATCH"
		}
		line := fmt.Sprintf("  %-8s %-16s record %q, registry %q", mark, strings.ReplaceAll(f.Field, "_", " "), f.Record, f.Source)
		if f.Note != "" {
			line += " (" + f.Note + ")"
		}
		fmt.Fprintln(m.Stdout, line)
	}
	if v.Result == credtrack.VerifyError {
		return fmt.Errorf("the registry did not answer: %s", v.Error)
	}
	return nil
}
