package roster

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"sync/atomic"

	"credtrack"
)

// Mode says what an import does with a file.
type Mode string

// The import modes.
const (
	// DryRun checks every row and reports every invalid one; it writes nothing.
	DryRun Mode = "dry-run"
	// AllOrNothing checks the whole file first and writes nothing if any
	// row is invalid; otherwise it reads the file again and writes it.
	AllOrNothing Mode = "all-or-nothing"
	// SkipInvalid writes every valid provider and reports the invalid rows.
	SkipInvalid Mode = "skip-invalid"
)

// ParseMode reads a mode name; "" is AllOrNothing.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", AllOrNothing:
		return AllOrNothing, nil
	case DryRun, SkipInvalid:
		return Mode(s), nil
	}
	return "", credtrack.Errorf(credtrack.EINVALID, "unknown import mode %q: use dry-run, all-or-nothing or skip-invalid", s)
}

// Store is what an import needs: bulk writes and the audit log (for the
// one summary event of each import or check).
type Store interface {
	credtrack.RosterService
	RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error
}

// Source opens the roster file. AllOrNothing opens it twice (check, then
// write); the other modes once.
type Source func() (io.ReadCloser, error)

// Progress is reported while a file is read.
type Progress struct {
	Phase   string // "checking" or "importing"
	Bytes   int64  // bytes of the file read in this phase
	Rows    int    // data rows read in this phase
	Written int    // providers written so far
}

// Options tune an import.
type Options struct {
	Mode Mode
	// MaxErrors caps the row errors kept in the report (default 1000);
	// the rest are counted in Report.MoreErrors.
	MaxErrors int
	// BatchSize is the number of providers written per transaction
	// (default 2000: on SQLite a commit rewrites every index page it
	// touched through the encrypting VFS, so fewer, larger commits cost
	// much less; a batch holds the writer for about a second).
	BatchSize int
	// Progress, when set, is called every 256 KiB or so and at the end of
	// each phase.
	Progress func(Progress)
	// Today is the date "in the future" checks use (default: UTC today).
	Today func() credtrack.Date
	// ImportID names the import in the audit events (default: a new ID).
	ImportID string
}

// Report is the outcome of a check or an import.
type Report struct {
	ImportID    string `json:"import_id"`
	Mode        Mode   `json:"mode"`
	Rows        int    `json:"rows"`         // data rows read (the header not counted)
	InvalidRows int    `json:"invalid_rows"` // rows with at least one problem
	// Providers and Credentials count the valid ones in the file.
	Providers   int `json:"providers"`
	Credentials int `json:"credentials"`
	// SkippedProviders have at least one invalid row; a provider is
	// imported with all its rows or not at all.
	SkippedProviders   int        `json:"skipped_providers"`
	ProvidersWritten   int        `json:"providers_written"`
	CredentialsWritten int        `json:"credentials_written"`
	Errors             []RowError `json:"errors"`
	MoreErrors         int        `json:"more_errors"` // problems found beyond those listed
	// Fatal is a problem that stopped reading (an unusable header, a
	// record over the size cap); the file was not read to its end.
	Fatal string `json:"fatal,omitempty"`
	Bytes int64  `json:"bytes"`

	maxErrors int
}

// OK reports whether every row was valid.
func (r *Report) OK() bool { return r.Fatal == "" && r.InvalidRows == 0 && len(r.Errors) == 0 }

// ErrorCount is the number of problems found, listed or not.
func (r *Report) ErrorCount() int { return len(r.Errors) + r.MoreErrors }

func (o *Options) defaults() {
	if o.MaxErrors <= 0 {
		o.MaxErrors = 1000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.Today == nil {
		o.Today = utcToday
	}
	if o.ImportID == "" {
		o.ImportID = credtrack.NewID()
	}
	if o.Mode == "" {
		o.Mode = AllOrNothing
	}
}

// Check reads r and reports every invalid row; it writes nothing and
// records nothing.
func Check(ctx context.Context, r io.Reader, opts Options) (*Report, error) {
	opts.defaults()
	rep := &Report{ImportID: opts.ImportID, Mode: DryRun, maxErrors: opts.MaxErrors}
	err := scan(ctx, r, rep, opts, "checking", nil, nil)
	return rep, err
}

// Read reads and checks r as Check does and hands every valid provider
// to emit; it writes and records nothing itself. bench/rosterbench feeds
// its plain-INSERT baseline with it, so that both sides parse and
// validate the same rows.
func Read(ctx context.Context, r io.Reader, opts Options, emit func(*credtrack.RosterEntry) error) (*Report, error) {
	opts.defaults()
	rep := &Report{ImportID: opts.ImportID, Mode: DryRun, maxErrors: opts.MaxErrors}
	err := scan(ctx, r, rep, opts, "reading", emit, nil)
	return rep, err
}

// scan reads r group by group, counting into rep, and hands each valid
// provider to emit (when set). written, when set, gives the providers
// written so far for the progress reports (an import writes them on
// another goroutine).
func scan(ctx context.Context, r io.Reader, rep *Report, opts Options, phase string,
	emit func(*credtrack.RosterEntry) error, written *atomic.Int64) error {
	s := newScanner(r, rep, opts.Today())
	progress := func() {
		rep.Bytes = s.g.n
		if opts.Progress != nil {
			var w int
			if written != nil {
				w = int(written.Load()) // rep.ProvidersWritten belongs to the writer
			} else {
				w = rep.ProvidersWritten
			}
			opts.Progress(Progress{Phase: phase, Bytes: s.g.n, Rows: rep.Rows, Written: w})
		}
	}
	defer progress()
	if !s.header() {
		return nil
	}
	var last int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := s.nextGroup()
		if g == nil {
			return nil
		}
		if g.invalid > 0 {
			rep.SkippedProviders++
		} else {
			rep.Providers++
			rep.Credentials += len(g.entry.Credentials)
			if emit != nil {
				if err := emit(g.entry); err != nil {
					return err
				}
			}
		}
		if s.g.n-last >= 256<<10 {
			last = s.g.n
			progress()
		}
	}
}

// Import checks or imports a roster file as opts.Mode says, and records
// one summary event: "roster.checked" for a dry run, "roster.imported"
// otherwise (outcome failure, with the reason, when nothing or not
// everything was written). The per-record events are written by the
// store with the records. The returned error is for failures of the
// store or the file system; invalid rows are in the report.
func Import(ctx context.Context, store Store, open Source, opts Options) (*Report, error) {
	opts.defaults()
	rep := &Report{ImportID: opts.ImportID, Mode: opts.Mode, maxErrors: opts.MaxErrors}
	var err error
	switch opts.Mode {
	case DryRun:
		err = readAll(open, func(r io.Reader) error { return scan(ctx, r, rep, opts, "checking", nil, nil) })
	case SkipInvalid:
		err = readAll(open, func(r io.Reader) error { return write(ctx, store, r, rep, opts) })
	case AllOrNothing:
		err = readAll(open, func(r io.Reader) error { return scan(ctx, r, rep, opts, "checking", nil, nil) })
		if err == nil && rep.OK() {
			// Every row is valid: read the file again and write it. The
			// second pass counts afresh; a row that has become invalid
			// (the file changed in between) stops the import.
			pass := &Report{ImportID: rep.ImportID, Mode: rep.Mode, maxErrors: rep.maxErrors}
			err = readAll(open, func(r io.Reader) error { return write(ctx, store, r, pass, opts) })
			pass.Bytes = max(pass.Bytes, rep.Bytes)
			rep = pass
		}
	default:
		return nil, credtrack.Errorf(credtrack.EINVALID, "unknown import mode %q", opts.Mode)
	}
	if evErr := recordSummary(context.WithoutCancel(ctx), store, rep, err); evErr != nil && err == nil {
		err = evErr
	}
	return rep, err
}

func readAll(open Source, fn func(io.Reader) error) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}

// write reads r and writes every valid provider in batches, in a
// two-stage pipeline so that both cores of a small server work: one
// goroutine reads and checks the file, cuts it into batches and prepares
// each (IDs, sealing, blind indexes, events: the store's PrepareRoster),
// while the calling goroutine writes the prepared batches, one transaction
// each, in file order. The hand-off is unbuffered, so at most two prepared
// batches (one being written, one waiting) are in memory whatever the
// file's size. The first failure stops both; the batches written before it
// stay written, as they did when one goroutine did everything (each batch
// is its own transaction and the report counts what was written).
func write(ctx context.Context, store Store, r io.Reader, rep *Report, opts Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type prepared struct {
		write                  func() error
		providers, credentials int
		err                    error
	}
	ready := make(chan prepared)
	var written atomic.Int64
	var scanErr error
	go func() { // read, check and prepare
		defer close(ready)
		batch := make([]*credtrack.RosterEntry, 0, opts.BatchSize)
		send := func() error {
			if len(batch) == 0 {
				return nil
			}
			p := prepared{providers: len(batch)}
			for _, e := range batch {
				p.credentials += len(e.Credentials)
			}
			p.write, p.err = store.PrepareRoster(ctx, opts.ImportID, batch)
			select {
			case ready <- p:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]*credtrack.RosterEntry, 0, opts.BatchSize)
			return p.err
		}
		err := scan(ctx, r, rep, opts, "importing", func(e *credtrack.RosterEntry) error {
			if opts.Mode == AllOrNothing && !rep.OK() {
				return errChanged
			}
			batch = append(batch, e)
			if len(batch) == opts.BatchSize {
				return send()
			}
			return nil
		}, &written)
		if errors.Is(err, errChanged) || err == nil && opts.Mode == AllOrNothing && !rep.OK() {
			err = errChanged
		}
		if err == nil {
			err = send()
		}
		scanErr = err
	}()
	var err error
	for p := range ready { // write, in order
		if err = p.err; err == nil {
			err = p.write()
		}
		if err != nil {
			break
		}
		rep.ProvidersWritten += p.providers
		rep.CredentialsWritten += p.credentials
		written.Store(int64(rep.ProvidersWritten))
	}
	cancel()
	for range ready { // wait for the reader to stop (it closes ready)
	}
	if err != nil {
		return err
	}
	// ready is closed: the reader has returned, so scanErr and rep are settled.
	return scanErr
}

// recordSummary appends the import's summary event.
func recordSummary(ctx context.Context, store Store, rep *Report, importErr error) error {
	d := map[string]string{
		"mode": string(rep.Mode), "rows": strconv.Itoa(rep.Rows), "invalid_rows": strconv.Itoa(rep.InvalidRows),
		"providers_written": strconv.Itoa(rep.ProvidersWritten), "credentials_written": strconv.Itoa(rep.CredentialsWritten),
		"skipped_providers": strconv.Itoa(rep.SkippedProviders),
	}
	outcome := credtrack.OutcomeSuccess
	switch {
	case importErr != nil:
		outcome, d["reason"] = credtrack.OutcomeFailure, "error"
	case rep.Fatal != "":
		outcome, d["reason"] = credtrack.OutcomeFailure, "unreadable"
	case rep.Mode != SkipInvalid && !rep.OK():
		outcome, d["reason"] = credtrack.OutcomeFailure, "invalid_rows"
	}
	ev := &credtrack.AuditEvent{Action: "roster.imported", TargetType: "roster", TargetID: rep.ImportID, Outcome: outcome, Details: d}
	if rep.Mode == DryRun {
		delete(d, "providers_written")
		delete(d, "credentials_written")
		ev = &credtrack.AuditEvent{Action: "roster.checked", TargetType: "roster", TargetID: rep.ImportID, Outcome: outcome, Details: d}
	}
	return store.RecordEvent(ctx, ev)
}

// Export writes the organization's roster as CSV in the shape Import
// reads: one row per credential (a provider without credentials gets one
// row with the credential columns empty), provider_ref set to the
// provider's ID. Nothing reaches w before the store has handed over the
// first provider or finished (csv.Writer buffers), so a refusal leaves w
// untouched. It returns the number of providers written.
func Export(ctx context.Context, store credtrack.RosterService, w io.Writer) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return 0, err
	}
	n := 0
	rec := make([]string, len(Columns))
	err := store.ExportRoster(ctx, func(p *credtrack.Provider) error {
		n++
		prov := []string{p.ID, p.FirstName, p.MiddleName, p.LastName, p.Suffix, p.Email, p.Phone, string(p.Profession),
			p.Specialty, p.Employer, p.State, p.NPI, p.SSN, p.DOB.String(), formatBool(p.Active)}
		copy(rec, prov)
		if len(p.Credentials) == 0 {
			clear(rec[len(prov):])
			return cw.Write(rec)
		}
		for _, c := range p.Credentials {
			copy(rec[len(prov):], []string{string(c.Type), c.Issuer, c.Jurisdiction, c.Number, c.IssuedOn.String(),
				c.ExpiresOn.String(), c.Notes, formatDetails(c.Details)})
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}

// errChanged stops an all-or-nothing import whose second reading of the
// file found an invalid row the first did not.
var errChanged = credtrack.Errorf(credtrack.ECONFLICT,
	"the file changed between the check and the import; the providers written before the change are listed in the report")
