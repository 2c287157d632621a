package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/screening"
)

// runLists implements `credtrack lists import leie|sam FILE-or-URL` and
// `credtrack lists versions`.
func (m *Main) runLists(ctx context.Context, args []string) error {
	action, rest, err := m.subcommand("lists", args, "import", "versions")
	if err != nil {
		return err
	}
	if action == "versions" {
		return m.runListVersions(ctx, rest)
	}
	cfg := config.Default()
	fs := m.newFlagSet("lists import", "lists import leie|sam [--kind full|exclusions|reinstatements] [--force] FILE-or-URL [flags]")
	kind := fs.String("kind", "", "what an LEIE file is: full (UPDATED.csv), exclusions (YYMMEXCL.csv) or reinstatements (YYMMREIN.csv); guessed from the file name when empty")
	force := fs.Bool("force", false, "accept a full list with less than half the entries of the one in force")
	var source credtrack.ListSource
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		source, rest = credtrack.ListSource(strings.ToLower(rest[0])), rest[1:]
	}
	if err := parseErr(cfg.Load(fs, rest, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) > 1 { // flags after the file name
		if err := parseErr(fs.Parse(pos[1:])); err != nil {
			return err
		}
		pos = append(pos[:1], fs.Args()...)
	}
	if (source != credtrack.ListLEIE && source != credtrack.ListSAM) || len(pos) != 1 {
		fmt.Fprintln(m.Stderr, "credtrack lists import: name the list (leie or sam) and one file or http(s) URL, e.g. `credtrack lists import leie UPDATED.csv`")
		return errUsage
	}
	k := credtrack.ListImportKind(*kind)
	switch k {
	case "", credtrack.ListFull, credtrack.ListExclusions, credtrack.ListReinstatements:
	default:
		fmt.Fprintln(m.Stderr, "credtrack lists import: --kind is full, exclusions or reinstatements")
		return errUsage
	}
	src := pos[0]
	limit := int64(screening.MaxLEIEBytes)
	if source == credtrack.ListSAM {
		limit = screening.MaxSAMBytes
	}
	r, err := openListSource(ctx, src, limit)
	if err != nil {
		return err
	}
	defer r.Close()
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	svc := &screening.Service{Store: a.db, Log: a.log}
	start := time.Now()
	v, err := svc.Import(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", "")), r,
		screening.ImportOptions{Source: source, Kind: k, Origin: src, Force: *force})
	if err != nil {
		return fmt.Errorf("the file was not imported and the list in force is unchanged: %s", credtrack.ErrorMessage(err))
	}
	fmt.Fprintf(m.Stdout, "imported %s %s list version %s in %s: %d rows, %d entries in force (+%d −%d), SHA-256 %s\n",
		strings.ToUpper(string(v.Source)), v.Kind, v.ID, time.Since(start).Round(time.Millisecond), v.FileRows, v.Entries, v.Added, v.Removed, v.SHA256)
	fmt.Fprintln(m.Stdout, "every organization's active providers will be re-screened by the server's monitoring job")
	return nil
}

// openListSource opens a local file or downloads an http(s) URL. A file,
// or a download that announces its length, larger than limit is refused
// before a byte is read (a list that size is not the file it claims to
// be); one that does not announce it is cut off by the parser at limit.
func openListSource(ctx context.Context, src string, limit int64) (io.ReadCloser, error) {
	tooLarge := func(n int64) error {
		return fmt.Errorf("the file was not imported and the list in force is unchanged: the file is %d MB, larger than %d MB, far beyond the real list's size", n>>20, limit>>20)
	}
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("cannot open %s: %w", src, err)
		}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
			f.Close()
			return nil, tooLarge(st.Size())
		}
		return f, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, fmt.Errorf("not a usable URL: %w", err)
	}
	req.Header.Set("User-Agent", "credtrack/"+credtrack.Version)
	res, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("download failed: %s", strings.ReplaceAll(err.Error(), src, "the URL"))
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("download failed: the server answered %s", res.Status)
	}
	if res.ContentLength > limit {
		res.Body.Close()
		return nil, tooLarge(res.ContentLength)
	}
	return res.Body, nil
}

func (m *Main) runListVersions(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("lists versions", "lists versions [flags]")
	if err := parseErr(cfg.Load(fs, args, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	vs, err := a.db.ListVersions(ctx, 100)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LIST\tVERSION\tKIND\tIMPORTED\tROWS\tENTRIES\tIN FORCE\tSHA-256")
	for _, v := range vs {
		force := ""
		if v.InForce {
			force = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", v.Source, v.ID, v.Kind, v.ImportedAt.Format("2006-01-02 15:04"), v.FileRows, v.Entries, force, v.SHA256[:16])
	}
	return w.Flush()
}
