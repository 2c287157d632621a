package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/roster"
)

// runRoster implements `credtrack roster import|export`.
func (m *Main) runRoster(ctx context.Context, args []string) error {
	action, rest, err := m.subcommand("roster", args, "import", "export")
	if err != nil {
		return err
	}
	if action == "export" {
		return m.runRosterExport(ctx, rest)
	}
	return m.runRosterImport(ctx, rest)
}

// runRosterImport implements
// `credtrack roster import [--dry-run|--skip-invalid] --org ORG FILE`.
func (m *Main) runRosterImport(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("roster import", "roster import [--dry-run | --skip-invalid] --org ORG [flags] FILE\n\n"+
		"Imports a roster CSV (format: docs/roster.md). Without --dry-run or --skip-invalid the import is\n"+
		"all-or-nothing: the whole file is checked first and nothing is written if any row is invalid.\n"+
		"Every invalid row is reported on stdout (row, column, reason). Exit status 1 when rows were invalid\n"+
		"(dry run, all-or-nothing) or the import failed; a progress bar shows on stderr when it is a terminal.")
	org := fs.String("org", "", "organization ID or exact name (required)")
	dry := fs.Bool("dry-run", false, "check every row and report; write nothing")
	skip := fs.Bool("skip-invalid", false, "write the valid providers and report the invalid rows")
	maxErrors := fs.Int("max-errors", 1000, "list at most this many problems (the rest are counted)")
	if err := parseErr(cfg.Load(fs, args, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	if fs.NArg() != 1 || *dry && *skip {
		fmt.Fprintln(m.Stderr, "credtrack roster import: give one FILE after the flags, and at most one of --dry-run and --skip-invalid")
		return errUsage
	}
	path := fs.Arg(0)
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a roster file", path)
	}
	mode := roster.AllOrNothing
	switch {
	case *dry:
		mode = roster.DryRun
	case *skip:
		mode = roster.SkipInvalid
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
	bar := m.progressBar(st.Size())
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	rep, err := roster.Import(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", o.ID)), a.db, open,
		roster.Options{Mode: mode, MaxErrors: *maxErrors, Progress: bar.update})
	bar.done()
	if rep != nil {
		writeReport(m.Stdout, rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK() && mode != roster.SkipInvalid {
		return fmt.Errorf("%d of %d rows are invalid; nothing was written", rep.InvalidRows, rep.Rows)
	}
	return nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// writeReport prints an import report for people.
func writeReport(w io.Writer, rep *roster.Report) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "import %s (%s): %d rows read, %d invalid; %d providers with %d credentials valid, %d providers skipped\n",
		rep.ImportID, rep.Mode, rep.Rows, rep.InvalidRows, rep.Providers, rep.Credentials, rep.SkippedProviders)
	if rep.Mode != roster.DryRun {
		fmt.Fprintf(bw, "written: %d providers, %d credentials\n", rep.ProvidersWritten, rep.CredentialsWritten)
	}
	if rep.Fatal != "" {
		fmt.Fprintf(bw, "reading stopped: %s\n", rep.Fatal)
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(bw, e.String())
	}
	if rep.MoreErrors > 0 {
		fmt.Fprintf(bw, "… and %d more problems not listed (raise --max-errors to see them)\n", rep.MoreErrors)
	}
}

// runRosterExport implements `credtrack roster export --org ORG > FILE`.
func (m *Main) runRosterExport(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("roster export", "roster export --org ORG [flags] > FILE\n\n"+
		"Writes the organization's roster as CSV on stdout, in the shape `roster import` reads (docs/roster.md),\n"+
		"with SSNs, dates of birth and credential numbers. The export is audited (export.created).")
	org := fs.String("org", "", "organization ID or exact name (required)")
	if err := parseErr(cfg.Load(fs, args, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(m.Stderr, "credtrack roster export: no arguments; redirect stdout to a file")
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
	bw := bufio.NewWriterSize(m.Stdout, 64<<10)
	n, err := roster.Export(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", o.ID)), a.db, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "exported %d providers of %q\n", n, o.Name)
	return nil
}

// progressBar draws "checking [#####-----] 45% 12.3/27.1 MB" on stderr
// when stderr is a terminal, at most ten times a second; otherwise it
// does nothing.
type progressBar struct {
	w     io.Writer
	total int64
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func (m *Main) progressBar(total int64) *progressBar {
	f, ok := m.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &progressBar{}
	}
	return &progressBar{w: f, total: max(total, 1)}
}

func (b *progressBar) update(p roster.Progress) {
	if b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if now := time.Now(); now.Sub(b.last) >= 100*time.Millisecond || p.Bytes >= b.total {
		b.last = now
		b.drawn = true
		fmt.Fprint(b.w, "\r"+renderBar(p, b.total))
	}
}

// renderBar is one line of the progress bar.
func renderBar(p roster.Progress, total int64) string {
	const width = 30
	frac := min(float64(p.Bytes)/float64(max(total, 1)), 1)
	fill := int(frac * width)
	line := fmt.Sprintf("%-9s [%s%s] %3.0f%% %s/%s MB, %d rows", p.Phase, strings.Repeat("#", fill),
		strings.Repeat("-", width-fill), frac*100, mb(p.Bytes), mb(total), p.Rows)
	if p.Phase == "importing" {
		line += fmt.Sprintf(", %d providers written", p.Written)
	}
	return line + "  "
}

func mb(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1e6) }

func (b *progressBar) done() {
	if b.w != nil && b.drawn {
		fmt.Fprintln(b.w)
	}
}
