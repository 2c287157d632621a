package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Main is the program: its streams and environment are fields so that
// end-to-end tests run the real commands in-process.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Ready, when set, receives the address the server listens on once it
	// serves (tests use it with --listen 127.0.0.1:0).
	Ready func(addr string)
	// RedirectReady, when set, receives the address of the plain-HTTP
	// redirect listener (--http-listen) once it serves.
	RedirectReady func(addr string)
	// MetricsReady, when set, receives the address of the metrics
	// listener (--metrics-listen) once it serves.
	MetricsReady func(addr string)
	// TerminalPassword reads a password without echo; nil when stdin is not
	// a terminal.
	TerminalPassword func(prompt string) (string, error)
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
}

// commands lists every subcommand; `credtrack help` prints them in this order.
var commands []command

func init() {
	commands = []command{
		{"serve", "run the web server (applies pending migrations unless --migrate=false)", (*Main).runServe},
		{"demo", "run the server with a demo organization, one login per role and ~200 providers", (*Main).runDemo},
		{"migrate", "apply pending database migrations (`migrate status` shows the version)", (*Main).runMigrate},
		{"org", "operator commands for organizations: `org create --name NAME`", (*Main).runOrg},
		{"user", "operator commands for users: `user create --email E --org ORG --role ROLE`, `user disable|enable --email E`", (*Main).runUser},
		{"token", "operator commands for API tokens: `token create --org ORG --role ROLE --name NAME`", (*Main).runToken},
		{"verify", "primary-source verification: `verify npi --org ORG --provider ID` looks the provider's NPI up in NPPES now", (*Main).runVerify},
		{"roster", "roster CSV: `roster import [--dry-run|--skip-invalid] --org ORG FILE`, `roster export --org ORG > FILE`", (*Main).runRoster},
		{"lists", "exclusion lists: `lists import leie|sam FILE-or-URL` (LEIE UPDATED.csv or monthly EXCL/REIN, SAM extract), `lists versions`", (*Main).runLists},
		{"audit", "audit log tools: `audit verify [--org ORG]` recomputes the hash chains", (*Main).runAudit},
		{"keys", "data keys: `keys rotate [--org ORG]` re-encrypts under a new key; `keys status`", (*Main).runKeys},
		{"backup", "write an encrypted, signed backup: `backup --out FILE` or to --backup-dir / --backup-s3-bucket", (*Main).runBackup},
		{"restore", "check a backup and restore it into an empty installation, then verify the audit chains", (*Main).runRestore},
		{"version", "print the version", (*Main).runVersion},
		{"help", "show this help, or `help COMMAND` for a command's flags", (*Main).runHelp},
	}
}

// errUsage marks an error already explained on stderr (exit status 2).
var errUsage = errors.New("usage")

// Run runs the subcommand named by args[0] and returns the exit status:
// 0 on success, 1 on failure, 2 on a usage error.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		m.usage()
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "-h" || name == "--help" || name == "-help" {
		m.usage()
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(m, ctx, rest)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(m.Stderr, "credtrack %s: %s\n", name, oneLine(err))
		return 1
	}
	fmt.Fprintf(m.Stderr, "credtrack: unknown command %q; run `credtrack help` for the list\n", name)
	return 2
}

// oneLine joins a multi-problem error (from config validation) into lines
// that each say one thing.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  ")
}

func (m *Main) usage() {
	fmt.Fprintln(m.Stderr, "credtrack tracks and verifies healthcare providers' credentials.")
	fmt.Fprintln(m.Stderr, "\nUsage: credtrack COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(m.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(m.Stderr, "\nRun `credtrack COMMAND -h` for a command's flags. Every flag also reads a CREDTRACK_* environment\nvariable (shown in the flag help); secrets accept a _FILE variant naming a file that holds the value.")
}

func (m *Main) runHelp(_ context.Context, args []string) error {
	if len(args) == 0 {
		m.usage()
		return nil
	}
	return errors.Join(m.runCommandHelp(args[0]))
}

func (m *Main) runCommandHelp(name string) error {
	for _, c := range commands {
		if c.name == name && name != "help" {
			_ = c.run(m, context.Background(), []string{"-h"})
			return nil
		}
	}
	names := make([]string, 0, len(commands))
	for _, c := range commands {
		names = append(names, c.name)
	}
	sort.Strings(names)
	return fmt.Errorf("unknown command %q (commands: %s)", name, strings.Join(names, ", "))
}

// newFlagSet returns a FlagSet that reports errors itself on stderr.
func (m *Main) newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("credtrack "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "Usage: credtrack %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseErr turns a flag parse error into errUsage (the flag package has
// already printed the problem) or passes flag.ErrHelp through.
func parseErr(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	if strings.Contains(err.Error(), "flag provided but not defined") || strings.Contains(err.Error(), "invalid value") ||
		strings.Contains(err.Error(), "bad flag syntax") || strings.Contains(err.Error(), "needs an argument") {
		return errUsage
	}
	return err
}
