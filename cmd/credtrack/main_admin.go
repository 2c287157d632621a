package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/password"
)

// storeFlags are the settings an operator command needs to reach the data.
var storeFlags = []string{"data-dir", "database-url", "master-key", "sqlite-synchronous", "base-url", "listen", "log-level", "log-format"}

// subcommand splits `org create …` into "create" and the rest.
func (m *Main) subcommand(group string, args []string, valid ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(m.Stderr, "Usage: credtrack %s %s [flags]; run `credtrack %s %s -h` for its flags\n", group, strings.Join(valid, "|"), group, valid[0])
			return "", nil, flag.ErrHelp
		}
		fmt.Fprintf(m.Stderr, "credtrack %s: name an action: %s\n", group, strings.Join(valid, ", "))
		return "", nil, errUsage
	}
	for _, v := range valid {
		if args[0] == v {
			return v, args[1:], nil
		}
	}
	fmt.Fprintf(m.Stderr, "credtrack %s: unknown action %q (use %s)\n", group, args[0], strings.Join(valid, ", "))
	return "", nil, errUsage
}

// openCurrent opens the data for an operator command, refusing a schema
// that is not exactly current (operators migrate explicitly).
func (m *Main) openCurrent(ctx context.Context, cfg config.Config) (*app, error) {
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.migrateOrCheck(ctx, false); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// resolveOrg finds an organization by ID or exact name.
func (a *app) resolveOrg(ctx context.Context, ref string) (*credtrack.Organization, error) {
	if ref == "" {
		return nil, credtrack.Errorf(credtrack.EINVALID, "--org is required (an organization ID or exact name)")
	}
	o, err := a.db.FindOrgByID(ctx, ref)
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		o, err = a.db.FindOrgByName(ctx, ref)
	}
	if credtrack.ErrorCode(err) == credtrack.ENOTFOUND {
		return nil, credtrack.Errorf(credtrack.ENOTFOUND, "no organization has the ID or name %q", ref)
	}
	return o, err
}

// runOrg implements `credtrack org create --name NAME`.
func (m *Main) runOrg(ctx context.Context, args []string) error {
	action, rest, err := m.subcommand("org", args, "create")
	if err != nil {
		return err
	}
	_ = action
	cfg := config.Default()
	fs := m.newFlagSet("org create", "org create --name NAME [flags]")
	name := fs.String("name", "", "the organization's name (required)")
	if err := parseErr(cfg.Load(fs, rest, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		fmt.Fprintln(m.Stderr, "credtrack org create: --name is required")
		return errUsage
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	o := &credtrack.Organization{Name: *name}
	if err := a.db.CreateOrg(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", "")), o); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "created organization %q with ID %s\n", o.Name, o.ID)
	return nil
}

// runUser implements `credtrack user create|disable|enable`.
func (m *Main) runUser(ctx context.Context, args []string) error {
	sub, rest, err := m.subcommand("user", args, "create", "disable", "enable")
	if err != nil {
		return err
	}
	if sub != "create" {
		return m.runUserState(ctx, sub, rest)
	}
	cfg := config.Default()
	fs := m.newFlagSet("user create", "user create --email EMAIL --org ORG --role ROLE [--password-file F | --password-stdin | --link] [flags]")
	email := fs.String("email", "", "the user's email address (required)")
	org := fs.String("org", "", "organization ID or exact name (required)")
	role := fs.String("role", "", "owner, admin, coordinator, provider or auditor (required)")
	name := fs.String("name", "", "the user's full name")
	pwFile := fs.String("password-file", "", "read the password from this file")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	link := fs.Bool("link", false, "print a one-time set-password link (valid 24 hours) instead of setting a password")
	if err := parseErr(cfg.Load(fs, rest, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	var problems []string
	if *email == "" {
		problems = append(problems, "--email is required")
	}
	r, err := credtrack.ParseRole(*role)
	if err != nil {
		problems = append(problems, "--role: "+credtrack.ErrorMessage(err))
	}
	sources := 0
	for _, set := range []bool{*pwFile != "", *pwStdin, *link} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		problems = append(problems, "use only one of --password-file, --password-stdin and --link")
	}
	if len(problems) > 0 {
		fmt.Fprintf(m.Stderr, "credtrack user create: %s\n", strings.Join(problems, "; "))
		return errUsage
	}
	var pw string
	if !*link {
		if pw, err = m.readPassword(*pwFile, *pwStdin); err != nil {
			return err
		}
		if err := password.CheckLength(pw); err != nil {
			return err
		}
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	o, err := a.resolveOrg(ctx, *org)
	if err != nil {
		return err
	}
	u := &credtrack.User{Email: *email, Name: *name}
	if pw != "" {
		if u.PasswordHash, err = a.hasher.Hash(pw); err != nil {
			return err
		}
		// The operator vouches for the address when setting a password.
		u.EmailVerifiedAt = time.Now().UTC()
	}
	ttl := time.Duration(0)
	if *link {
		ttl = 24 * time.Hour
	}
	secret, err := a.db.CreateMember(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", o.ID)), u, r, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "created user %s (%s) as %s of %q\n", u.Email, u.ID, r, o.Name)
	if secret != "" {
		fmt.Fprintf(m.Stdout, "one-time set-password link (valid 24 hours, shown once):\n%s/set-password?token=%s\n", cfg.PublicURL(), secret)
	}
	return nil
}

// runUserState implements `credtrack user disable|enable --email E`.
// Disabling ends every session and trusted device of the account at once.
func (m *Main) runUserState(ctx context.Context, sub string, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("user "+sub, "user "+sub+" --email EMAIL [flags]")
	email := fs.String("email", "", "the account's email address (required)")
	if err := parseErr(cfg.Load(fs, args, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintf(m.Stderr, "credtrack user %s: --email is required\n", sub)
		return errUsage
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.db.FindUserByEmail(ctx, *email)
	if err != nil {
		return credtrack.Errorf(credtrack.ENOTFOUND, "there is no account with that address")
	}
	actx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", ""))
	if sub == "disable" {
		err = a.db.DisableUser(actx, u.ID)
	} else {
		err = a.db.EnableUser(actx, u.ID)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%sd account %s\n", sub, u.ID)
	return nil
}

// readPassword takes the password from a file, from stdin, or from the
// terminal (asked twice, without echo).
func (m *Main) readPassword(file string, stdin bool) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("cannot read --password-file: %w", errors.Unwrap(err))
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case stdin:
		line, err := bufio.NewReader(m.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("cannot read the password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	case m.TerminalPassword != nil:
		p1, err := m.TerminalPassword("Password: ")
		if err != nil {
			return "", err
		}
		p2, err := m.TerminalPassword("Repeat password: ")
		if err != nil {
			return "", err
		}
		if p1 != p2 {
			return "", errors.New("the passwords differ")
		}
		return p1, nil
	}
	return "", errors.New("no password given: use --password-file, --password-stdin, --link, or run in a terminal to be prompted")
}

// runToken implements `credtrack token create`.
func (m *Main) runToken(ctx context.Context, args []string) error {
	_, rest, err := m.subcommand("token", args, "create")
	if err != nil {
		return err
	}
	cfg := config.Default()
	fs := m.newFlagSet("token create", "token create --org ORG --role ROLE --name NAME [--expires 720h] [flags]")
	org := fs.String("org", "", "organization ID or exact name (required)")
	role := fs.String("role", "", "the role the token acts with (required)")
	name := fs.String("name", "", "what the token is for (required)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h; 0 means no expiry")
	if err := parseErr(cfg.Load(fs, rest, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	r, err := credtrack.ParseRole(*role)
	if err != nil || *name == "" || *expires < 0 {
		fmt.Fprintln(m.Stderr, "credtrack token create: --org, --role (owner, admin, coordinator, provider, auditor) and --name are required; --expires must not be negative")
		return errUsage
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	o, err := a.resolveOrg(ctx, *org)
	if err != nil {
		return err
	}
	t := &credtrack.APIToken{Name: *name, Role: r}
	if *expires > 0 {
		t.ExpiresAt = time.Now().UTC().Add(*expires)
	}
	secret, err := a.db.CreateAPIToken(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", o.ID)), t)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "created API token %s (%s, role %s) for %q; it is shown once, store it now:\n", t.ID, t.Name, r, o.Name)
	fmt.Fprintln(m.Stdout, secret)
	return nil
}

// runAudit implements `credtrack audit verify [--org ORG]`.
func (m *Main) runAudit(ctx context.Context, args []string) error {
	_, rest, err := m.subcommand("audit", args, "verify")
	if err != nil {
		return err
	}
	cfg := config.Default()
	fs := m.newFlagSet("audit verify", "audit verify [--org ORG] [flags]")
	org := fs.String("org", "", "verify only this organization's chain (ID or exact name)")
	if err := parseErr(cfg.Load(fs, rest, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	var chains []string
	if *org != "" {
		o, err := a.resolveOrg(ctx, *org)
		if err != nil {
			return err
		}
		chains = []string{o.ID}
	}
	broken, err := a.verifyAudit(ctx, m.Stdout, chains)
	if err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("%d audit chain(s) failed verification", broken)
	}
	return nil
}

// verifyAudit recomputes the given audit chains (all when chains is nil),
// prints one line per chain to w and returns how many are broken. It is
// `audit verify`, and the last step of `restore`.
func (a *app) verifyAudit(ctx context.Context, w io.Writer, chains []string) (int, error) {
	if chains == nil {
		var err error
		if chains, err = a.db.AuditChains(ctx); err != nil {
			return 0, err
		}
	}
	broken := 0
	for _, id := range chains {
		label := id
		if id == "" {
			label = "(no organization)"
		}
		brk, n, err := a.db.VerifyChain(ctx, id)
		if err != nil {
			return broken, err
		}
		if brk != nil {
			broken++
			fmt.Fprintf(w, "%s: BROKEN at event %d (ID %s): %s\n", label, brk.Seq, brk.EventID, brk.Reason)
			continue
		}
		fmt.Fprintf(w, "%s: %d events verified\n", label, n)
	}
	return broken, nil
}
