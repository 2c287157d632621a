// Package license verifies state licenses against the bulk license files
// that state boards publish (for example Missouri's "Downloadable Listings",
// one tab-delimited file per license type). Each board's layout is a
// Mapping: which header names hold which field, the delimiter, the date
// layouts and which statuses mean "active". Files are read by header name,
// never by position, because boards add and rename columns; a file whose
// header lacks a required column is refused with the names it lacks.
//
// Files are loaded from a directory (the license-dir setting): a file
// named "<board>-<anything>.txt" (any case, e.g. "mo-dpr-RN.TXT") is read
// with the mapping whose Board is <board>. The directory is checked for
// changes (names, sizes, modification times) before each lookup and
// reloaded when it changed, so dropping the nightly download in place is
// all an operator does. docs/psv.md shows how to add a board.
package license

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"credtrack"
)

// Field is a normalized license field.
type Field string

// The normalized fields of a license record.
const (
	FirstName     Field = "first_name"
	MiddleName    Field = "middle_name"
	LastName      Field = "last_name"
	Suffix        Field = "suffix"
	EntityName    Field = "entity_name"
	LicenseType   Field = "license_type"
	LicenseNumber Field = "license_number"
	Status        Field = "status"
	ExpiryStatus  Field = "expiry_status"
	IssueDate     Field = "issue_date"
	ExpiryDate    Field = "expiry_date"
	Discipline    Field = "discipline"
	City          Field = "city"
	State         Field = "state"
)

// Mapping is one board's file layout.
type Mapping struct {
	// Board names the mapping in file names ("mo-dpr").
	Board string
	// Name is the board's name for people.
	Name string
	// Jurisdiction is the state whose licenses the files hold.
	Jurisdiction string
	// Delimiter separates fields (Missouri: tab).
	Delimiter rune
	// Columns lists, per field, the header names that may hold it
	// (compared case-insensitively); the first present one is used.
	Columns map[Field][]string
	// Required are the fields a file must have.
	Required []Field
	// DateLayouts are tried in order for dates.
	DateLayouts []string
	// ActiveStatuses are the status values (case-insensitive) that mean
	// the license may be used.
	ActiveStatuses []string
	// DisciplineNone are the discipline values that mean "no discipline"
	// (case-insensitive); empty always means none.
	DisciplineNone []string
}

// Missouri is the layout of the Missouri Division of Professional
// Registration's downloadable listings (pr.mo.gov/downloadables/<CODE>.ZIP:
// tab-delimited .TXT with a header row, dates "YYYY-MM-DD HH:MM:SS";
// active licenses only). Some profession files use other header names
// (BA_ADDRESS1, STATUS, EXPIRATION_STATUS…), hence the alternatives.
var Missouri = Mapping{
	Board:        "mo-dpr",
	Name:         "Missouri Division of Professional Registration",
	Jurisdiction: "MO",
	Delimiter:    '\t',
	Columns: map[Field][]string{
		FirstName:     {"prc_first_name"},
		MiddleName:    {"prc_middle_name"},
		LastName:      {"prc_last_name"},
		Suffix:        {"prc_suffix"},
		EntityName:    {"prc_entity_name", "prc_dba_name"},
		LicenseType:   {"lic_profession"},
		LicenseNumber: {"lic_number"},
		Status:        {"lst_description", "status"},
		ExpiryStatus:  {"les_description", "expiration_status"},
		IssueDate:     {"lic_orig_issue_date"},
		ExpiryDate:    {"lic_exp_date"},
		Discipline:    {"discipline"},
		City:          {"ba_city"},
		State:         {"ba_state"},
	},
	Required:       []Field{LastName, LicenseNumber, Status, ExpiryDate},
	DateLayouts:    []string{"2006-01-02 15:04:05", "2006-01-02", "01/02/2006"},
	ActiveStatuses: []string{"Active"},
	DisciplineNone: []string{"N", "No", "None"},
}

// Mappings are the boards credtrack knows, by Board.
var Mappings = map[string]Mapping{Missouri.Board: Missouri}

// Record is one license row, normalized.
type Record struct {
	Board         string
	Jurisdiction  string
	LicenseType   string
	LicenseNumber string
	FirstName     string
	MiddleName    string
	LastName      string
	EntityName    string
	Status        string
	ExpiryStatus  string
	Active        bool
	IssueDate     credtrack.Date
	ExpiryDate    credtrack.Date
	Disciplined   bool
	DisciplineRaw string
	File          string
	Line          int
	// The row's other columns are not kept: holding every field of every
	// row doubled the load time (docs/benchmarks.md). The evidence names
	// the file, its SHA-256 and the line, which find the row again.
}

// Read parses a board file with m and calls fn for each row. It refuses a
// file that is not UTF-8 text, has no header, lacks a required column, or
// has a row with a different number of fields than the header (a
// truncated download), naming the line.
func Read(r io.Reader, m Mapping, fn func(Record) error) error {
	br := bufio.NewReader(r)
	cr := csv.NewReader(br)
	cr.Comma = m.Delimiter
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return errors.New("the file is empty: no header row")
	}
	if err != nil {
		return fmt.Errorf("cannot read the header row: %w", err)
	}
	idx := map[string]int{}
	names := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		names[i] = h
		idx[h] = i
	}
	col := map[Field]int{}
	for f, alts := range m.Columns {
		for _, a := range alts {
			if i, ok := idx[strings.ToLower(a)]; ok {
				col[f] = i
				break
			}
		}
	}
	var missing []string
	for _, f := range m.Required {
		if _, ok := col[f]; !ok {
			missing = append(missing, strings.Join(m.Columns[f], " or "))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("this is not a %s file: the header lacks %s", m.Name, strings.Join(missing, ", "))
	}
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				return fmt.Errorf("line %d has %d fields, the header %d: the file is truncated or damaged", pe.Line, len(row), len(header))
			}
			return fmt.Errorf("line %d: %w", line, err)
		}
		rec := Record{Board: m.Board, Jurisdiction: m.Jurisdiction, Line: line}
		for _, v := range row {
			if !utf8.ValidString(v) {
				return fmt.Errorf("line %d is not UTF-8 text: convert the file (iconv -f latin1 -t utf-8)", line)
			}
		}
		get := func(f Field) string {
			if i, ok := col[f]; ok {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		rec.FirstName, rec.MiddleName, rec.LastName = get(FirstName), get(MiddleName), get(LastName)
		rec.EntityName, rec.LicenseType, rec.LicenseNumber = get(EntityName), get(LicenseType), get(LicenseNumber)
		rec.Status, rec.ExpiryStatus = get(Status), get(ExpiryStatus)
		rec.Active = slices.ContainsFunc(m.ActiveStatuses, func(s string) bool { return strings.EqualFold(s, rec.Status) })
		if rec.IssueDate, err = parseDate(get(IssueDate), m.DateLayouts); err != nil {
			return fmt.Errorf("line %d: issue date: %v", line, err)
		}
		if rec.ExpiryDate, err = parseDate(get(ExpiryDate), m.DateLayouts); err != nil {
			return fmt.Errorf("line %d: expiry date: %v", line, err)
		}
		rec.DisciplineRaw = get(Discipline)
		rec.Disciplined = rec.DisciplineRaw != "" &&
			!slices.ContainsFunc(m.DisciplineNone, func(s string) bool { return strings.EqualFold(s, rec.DisciplineRaw) })
		if err := fn(rec); err != nil {
			return err
		}
	}
}

func parseDate(s string, layouts []string) (credtrack.Date, error) {
	if s == "" {
		return credtrack.Date{}, nil
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return credtrack.DateOf(t), nil
		}
	}
	return credtrack.Date{}, fmt.Errorf("%q matches none of the board's date layouts", s)
}

// NormNumber normalizes a license number for lookups: letters and digits
// only, upper case, leading zeros dropped.
func NormNumber(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "0")
}

// FileInfo describes one loaded file (the list version a result names).
type FileInfo struct {
	Name     string
	Board    string
	SHA256   string
	Rows     int
	LoadedAt time.Time
}

// Index holds the loaded files' records by jurisdiction and number.
type Index struct {
	byKey map[string][]*Record // jurisdiction|normalized number
	Files []FileInfo
}

func key(jurisdiction, number string) string {
	return strings.ToUpper(jurisdiction) + "|" + NormNumber(number)
}

// Add reads one file into the index.
func (ix *Index) Add(name string, r io.Reader, m Mapping, now time.Time) error {
	if ix.byKey == nil {
		ix.byKey = map[string][]*Record{}
	}
	h := sha256.New()
	n := 0
	err := Read(io.TeeReader(r, h), m, func(rec Record) error {
		rec.File = name
		c := rec
		ix.byKey[key(rec.Jurisdiction, rec.LicenseNumber)] = append(ix.byKey[key(rec.Jurisdiction, rec.LicenseNumber)], &c)
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ix.Files = append(ix.Files, FileInfo{Name: name, Board: m.Board, SHA256: hex.EncodeToString(h.Sum(nil)), Rows: n, LoadedAt: now})
	return nil
}

// Find returns the records of a license.
func (ix *Index) Find(jurisdiction, number string) []*Record {
	return ix.byKey[key(jurisdiction, number)]
}

// Source verifies state licenses against the board files in Dir.
type Source struct {
	Dir      string
	Mappings map[string]Mapping // default Mappings
	Now      func() time.Time

	mu  sync.Mutex
	sig string
	ix  *Index
	err error
}

// Name implements credtrack.Source.
func (s *Source) Name() string { return credtrack.SourceLicenseFile }

// Jurisdictions lists the states the configured mappings cover.
func (s *Source) Jurisdictions() []string {
	var out []string
	for _, m := range s.mappings() {
		out = append(out, m.Jurisdiction)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (s *Source) mappings() map[string]Mapping {
	if s.Mappings != nil {
		return s.Mappings
	}
	return Mappings
}

func (s *Source) boardOf(name string) (Mapping, bool) {
	lower := strings.ToLower(name)
	for b, m := range s.mappings() {
		if strings.HasPrefix(lower, strings.ToLower(b)+"-") || strings.TrimSuffix(lower, filepath.Ext(lower)) == strings.ToLower(b) {
			return m, true
		}
	}
	return Mapping{}, false
}

// Load returns the index of the directory, reloading it when its files
// changed since the last load.
func (s *Source) Load() (*Index, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Dir == "" {
		return nil, errors.New("no license file directory is configured (license-dir)")
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the license file directory: %v", errors.Unwrap(err))
	}
	var sig strings.Builder
	var files []string
	for _, e := range entries {
		if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".txt") && !strings.EqualFold(filepath.Ext(e.Name()), ".csv") {
			continue
		}
		if _, ok := s.boardOf(e.Name()); !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&sig, "%s|%d|%d;", e.Name(), info.Size(), info.ModTime().UnixNano())
		files = append(files, e.Name())
	}
	if sig.String() == s.sig && (s.ix != nil || s.err != nil) {
		return s.ix, s.err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ix := &Index{}
	for _, name := range files {
		m, _ := s.boardOf(name)
		f, err := os.Open(filepath.Join(s.Dir, name))
		if err != nil {
			s.sig, s.ix, s.err = sig.String(), nil, err
			return nil, err
		}
		err = ix.Add(name, f, m, now())
		f.Close()
		if err != nil {
			// A bad file is named; the previous index stays in force.
			if s.ix != nil {
				return s.ix, nil
			}
			s.sig, s.err = sig.String(), err
			return nil, err
		}
	}
	s.sig, s.ix, s.err = sig.String(), ix, nil
	return ix, nil
}

// Verify looks a state license up in the board files of its jurisdiction.
func (s *Source) Verify(ctx context.Context, req *credtrack.VerificationRequest) (*credtrack.SourceResult, error) {
	c := req.Credential
	if c == nil || c.Type != credtrack.CredStateLicense {
		return nil, credtrack.Errorf(credtrack.EINVALID, "board files verify state licenses: choose a state license")
	}
	state := strings.ToUpper(strings.TrimSpace(c.Jurisdiction))
	if !slices.Contains(s.Jurisdictions(), state) {
		return nil, credtrack.Errorf(credtrack.EINVALID, "no board file mapping covers %s (see docs/psv.md to add one)", state)
	}
	res := &credtrack.SourceResult{Query: map[string]string{"kind": "license_file", "jurisdiction": state,
		"license": "••••" + credtrack.Last4(c.Number)}}
	start := time.Now()
	ix, err := s.Load()
	if err != nil {
		res.Result, res.Error = credtrack.VerifyError, err.Error()
		return res, nil
	}
	var versions []string
	for _, f := range ix.Files {
		if m, ok := s.boardOf(f.Name); ok && m.Jurisdiction == state {
			versions = append(versions, f.Name+" sha256:"+f.SHA256[:16])
		}
	}
	if len(versions) == 0 {
		res.Result, res.Error = credtrack.VerifyError, "no "+state+" board file is loaded"
		return res, nil
	}
	res.Query["files"] = strings.Join(versions, ", ")
	recs := ix.Find(state, c.Number)
	evidence := map[string]any{"files": ix.Files, "rows": recs}
	body, _ := json.Marshal(evidence)
	sum := sha256.Sum256(body)
	res.Evidence = credtrack.Evidence{Latency: time.Since(start), ResponseSHA256: sum[:], Response: body, ContentType: "application/json"}
	if len(recs) == 0 {
		res.Result = credtrack.VerifyNotFound
		res.Findings = []credtrack.Finding{{Field: "license", Record: "••••" + credtrack.Last4(c.Number) + " (" + state + ")",
			Source: "not in the board file", Severity: "mismatch",
			Note: "the file lists active licenses only: a lapsed or revoked license is absent"}}
		return res, nil
	}
	res.Findings, res.Result = compare(req.Provider, c, recs[0])
	return res, nil
}

func compare(p *credtrack.Provider, c *credtrack.Credential, r *Record) ([]credtrack.Finding, credtrack.VerificationResult) {
	var out []credtrack.Finding
	result := credtrack.VerifyVerified
	add := func(f credtrack.Finding) {
		f.Severity = "info"
		if !f.Match {
			f.Severity = "mismatch"
			if result == credtrack.VerifyVerified {
				result = credtrack.VerifyMismatch
			}
		}
		out = append(out, f)
	}
	add(credtrack.Finding{Field: "last_name", Record: p.LastName, Source: r.LastName, Match: strings.EqualFold(p.LastName, r.LastName)})
	if r.FirstName != "" {
		add(credtrack.Finding{Field: "first_name", Record: p.FirstName, Source: r.FirstName, Match: strings.EqualFold(p.FirstName, r.FirstName)})
	}
	add(credtrack.Finding{Field: "license", Record: "••••" + credtrack.Last4(c.Number), Source: "••••" + credtrack.Last4(r.LicenseNumber) +
		" " + r.LicenseType, Match: true, Note: r.File + " line " + fmt.Sprint(r.Line)})
	add(credtrack.Finding{Field: "status", Record: "active", Source: strings.TrimSpace(r.Status + " " + r.ExpiryStatus), Match: r.Active})
	if !r.ExpiryDate.IsZero() {
		add(credtrack.Finding{Field: "expires_on", Record: c.ExpiresOn.String(), Source: r.ExpiryDate.String(),
			Match: c.ExpiresOn.IsZero() || c.ExpiresOn.Equal(r.ExpiryDate.Time)})
	}
	if r.Disciplined {
		add(credtrack.Finding{Field: "discipline", Record: "none", Source: r.DisciplineRaw, Match: false, Note: "review the board's public record"})
	}
	if !r.Active {
		result = credtrack.VerifyExcluded
	}
	return out, result
}
