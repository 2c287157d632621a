// Package screening screens providers against the exclusion lists (OIG
// LEIE and SAM.gov): it parses the lists' real file formats, indexes the
// entries in memory and matches providers by NPI, by name and date of
// birth, and by name and state with a scored fuzzy name match. The Service
// imports list versions, persists candidates per organization for a person
// to clear or confirm, raises alerts for new hits and runs the monitoring
// job that re-screens every organization when a list changes.
package screening

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"credtrack"
)

// Limits of an acceptable list file. The real LEIE UPDATED.csv is about
// 15 MB and 83,000 rows; the SAM extract about 170,000 rows (~40 MB). Anything far
// larger is not the file it claims to be, and is refused without being
// read to the end.
const (
	MaxLEIEBytes = 64 << 20
	MaxSAMBytes  = 512 << 20
	MaxRows      = 2_000_000
	maxField     = 8192
)

// leieHeader is the exact 18-column header of UPDATED.csv and the monthly
// supplements (FORMATS.md §5.2).
var leieHeader = []string{"LASTNAME", "FIRSTNAME", "MIDNAME", "BUSNAME", "GENERAL", "SPECIALTY", "UPIN", "NPI", "DOB",
	"ADDRESS", "CITY", "STATE", "ZIP", "EXCLTYPE", "EXCLDATE", "REINDATE", "WAIVERDATE", "WVRSTATE"}

// samHeaderV2 is the 31-column header of the SAM public extract; the
// older V1 layout (28 columns) lacks Open Data Flag, Blank (Deprecated),
// Unique Entity ID and Creation_Date and has DUNS instead (FORMATS.md §6.1).
var samHeaderV2 = []string{"Classification", "Name", "Prefix", "First", "Middle", "Last", "Suffix", "Address 1", "Address 2",
	"Address 3", "Address 4", "City", "State / Province", "Country", "Zip Code", "Open Data Flag", "Blank (Deprecated)",
	"Unique Entity ID", "Exclusion Program", "Excluding Agency", "CT Code", "Exclusion Type", "Additional Comments",
	"Active Date", "Termination Date", "Record Status", "Cross-Reference", "SAM Number", "CAGE", "NPI", "Creation_Date"}

var samHeaderV1 = []string{"Classification", "Name", "Prefix", "First", "Middle", "Last", "Suffix", "Address 1", "Address 2",
	"Address 3", "Address 4", "City", "State / Province", "Country", "Zip Code", "DUNS", "Exclusion Program",
	"Excluding Agency", "CT Code", "Exclusion Type", "Additional Comments", "Active Date", "Termination Date",
	"Record Status", "Cross-Reference", "SAM Number", "CAGE", "NPI"}

// Parsed is a validated list file: its entries and the facts a version
// records about it.
type Parsed struct {
	Source  credtrack.ListSource
	SHA256  string
	Bytes   int64
	Rows    int
	Entries []*credtrack.ListEntry
	// Layout names the format variant ("leie", "sam-v1", "sam-v2").
	Layout string
}

// FileError is a refused list file; its message says what is wrong and
// where, in one sentence, without quoting field values.
type FileError struct{ Msg string }

func (e *FileError) Error() string { return e.Msg }

func fileErr(format string, args ...any) error {
	return credtrack.Errorf(credtrack.EINVALID, "%s", (&FileError{Msg: fmt.Sprintf(format, args...)}).Msg)
}

// guardedReader counts and hashes what it reads and refuses to read past
// a limit, so a huge or endless stream is rejected after limit bytes.
type guardedReader struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	limit int64
}

var errTooLarge = errors.New("too large")

func (g *guardedReader) Read(p []byte) (int, error) {
	if g.n >= g.limit {
		// Probe one byte: exactly limit bytes is fine.
		var one [1]byte
		k, err := g.r.Read(one[:])
		if k > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > g.limit-g.n {
		p = p[:g.limit-g.n]
	}
	k, err := g.r.Read(p)
	g.h.Write(p[:k])
	g.n += int64(k)
	return k, err
}

// csvReader prepares a CSV reader over r: it refuses UTF-16 and other
// binary encodings up front and drops a UTF-8 byte-order mark.
func csvReader(g *guardedReader, what string) (*csv.Reader, error) {
	br := bufio.NewReaderSize(g, 64<<10)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, fileErr("the file is UTF-16 text: save the %s file as UTF-8 or ASCII CSV and import it again", what)
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return nil, fileErr("the file is a ZIP archive: unzip it and import the CSV inside")
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return nil, fileErr("the file is gzip-compressed: decompress it and import the CSV")
	case len(head) == 0:
		return nil, fileErr("the file is empty")
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, for a clearer message
	cr.ReuseRecord = true
	return cr, nil
}

// readErr turns a reader error into a clear refusal.
func readErr(err error, row int, limit int64) error {
	if errors.Is(err, errTooLarge) {
		return fileErr("the file is larger than %d MB, far beyond the real list's size: it was refused without being read to the end", limit>>20)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fileErr("line %d is not valid CSV (%v): the file is truncated or damaged", pe.Line, pe.Err)
	}
	return fileErr("reading the file failed after row %d: %v", row, err)
}

func checkHeader(rec, want []string, what string) error {
	if len(rec) != len(want) {
		return fileErr("the header has %d columns, but a %s file has %d: this is not a %s file", len(rec), what, len(want), what)
	}
	for i, w := range want {
		if !strings.EqualFold(strings.TrimSpace(rec[i]), w) {
			return fileErr("header column %d is %q, expected %q: this is not a %s file", i+1, clip(rec[i]), w, what)
		}
	}
	return nil
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// checkRow validates a data row's shape and encoding.
func checkRow(rec []string, cols, row int) error {
	if len(rec) != cols {
		return fileErr("row %d has %d columns instead of %d: the file is truncated or damaged", row, len(rec), cols)
	}
	for i, f := range rec {
		if len(f) > maxField {
			return fileErr("row %d, column %d is %d bytes long: the file is damaged", row, i+1, len(f))
		}
		if !utf8.ValidString(f) {
			return fileErr("row %d is not UTF-8 text (the file has another encoding, such as Latin-1): convert it to UTF-8 and import it again", row)
		}
		if strings.IndexByte(f, 0) >= 0 {
			return fileErr("row %d holds a NUL byte: the file is binary or damaged", row)
		}
	}
	return nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// ParseLEIE reads an LEIE file (UPDATED.csv or a monthly EXCL/REIN
// supplement, which share the layout) and returns its entries, or an
// EINVALID error naming the first problem.
func ParseLEIE(r io.Reader) (*Parsed, error) {
	g := &guardedReader{r: r, h: sha256.New(), limit: MaxLEIEBytes}
	cr, err := csvReader(g, "LEIE")
	if err != nil {
		return nil, err
	}
	hdr, err := cr.Read()
	if err != nil {
		return nil, readErr(err, 0, g.limit)
	}
	if len(hdr) > 0 {
		hdr[0] = strings.TrimPrefix(hdr[0], "\ufeff")
	}
	if err := checkHeader(hdr, leieHeader, "LEIE"); err != nil {
		return nil, err
	}
	p := &Parsed{Source: credtrack.ListLEIE, Layout: "leie"}
	if err := p.readRows(cr, g, len(leieHeader), "an LEIE file", func(rec []string, row int) (*credtrack.ListEntry, error) {
		return leieEntry(rec, row)
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// readRows reads the data rows after the header, width fields each,
// turning each non-blank one into an entry with entry, then records the
// row count, size and SHA-256 of the file. what names the expected file
// in the too-many-rows error ("an LEIE file").
func (p *Parsed) readRows(cr *csv.Reader, g *guardedReader, width int, what string,
	entry func(rec []string, row int) (*credtrack.ListEntry, error)) error {
	row := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		row++
		if err != nil {
			return readErr(err, row, g.limit)
		}
		if row > MaxRows {
			return fileErr("the file has more than %d rows: it is not %s", MaxRows, what)
		}
		if err := checkRow(rec, width, row); err != nil {
			return err
		}
		if blank(rec) {
			continue
		}
		e, err := entry(rec, row)
		if err != nil {
			return err
		}
		p.Entries = append(p.Entries, e)
	}
	p.Rows, p.Bytes, p.SHA256 = row, g.n, hex.EncodeToString(g.h.Sum(nil))
	if len(p.Entries) == 0 {
		return fileErr("the file has a header but no rows")
	}
	return nil
}

func leieEntry(rec []string, row int) (*credtrack.ListEntry, error) {
	f := func(i int) string { return strings.TrimSpace(rec[i]) }
	e := &credtrack.ListEntry{Source: credtrack.ListLEIE, LastName: f(0), FirstName: f(1), MiddleName: f(2), BusName: f(3),
		Category: joinNonEmpty(" / ", f(4), f(5)), NPI: npiOrNone(f(7)), City: f(10), State: strings.ToUpper(f(11)), Zip: f(12),
		ExclType: f(13), Agency: "HHS-OIG"}
	e.Individual = e.LastName != "" && e.BusName == ""
	var err error
	if e.DOB, err = leieDate(f(8), true); err != nil {
		return nil, fileErr("row %d: DOB %v", row, err)
	}
	if e.ExclDate, err = leieDate(f(14), false); err != nil {
		return nil, fileErr("row %d: EXCLDATE %v", row, err)
	}
	if e.ReinDate, err = leieDate(f(15), false); err != nil {
		return nil, fileErr("row %d: REINDATE %v", row, err)
	}
	if e.LastName == "" && e.BusName == "" {
		return nil, fileErr("row %d has neither LASTNAME nor BUSNAME", row)
	}
	e.Key = leieKey(e)
	e.Hash = entryHash(e, f(9), f(16), f(17), f(6))
	return e, nil
}

// leieKey identifies an LEIE record: the excluded party and the exclusion
// (its date). A reinstatement row carries the same fields as the
// exclusion it ends, plus REINDATE, which the key leaves out.
func leieKey(e *credtrack.ListEntry) string {
	return shortHash("leie", upper(e.LastName), upper(e.FirstName), upper(e.MiddleName), upper(e.BusName), e.DOB.String(), e.NPI, e.ExclDate.String())
}

// leieLooseKey is the fallback a reinstatement uses when its strict key
// finds nothing (a middle name or NPI added since the exclusion).
func leieLooseKey(e *credtrack.ListEntry) string {
	return shortHash("leie-loose", upper(e.LastName), upper(e.FirstName), upper(e.BusName), e.DOB.String(), e.ExclDate.String())
}

func upper(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), " ")) }

func shortHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return hex.EncodeToString(h[:16])
}

// entryHash covers every field of an entry, so that any change to the
// record (a corrected date, a new address) reopens a cleared candidate.
func entryHash(e *credtrack.ListEntry, extra ...string) string {
	parts := []string{string(e.Source), e.LastName, e.FirstName, e.MiddleName, e.Suffix, e.BusName, e.NPI, e.DOB.String(),
		e.City, e.State, e.Zip, e.Category, e.ExclType, e.Agency, e.ExclDate.String(), e.ReinDate.String(), e.EndDate,
		e.SAMNumber, e.CrossRef}
	return shortHash(append(parts, extra...)...)
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// npiOrNone returns a 10-digit NPI, or "" for the no-NPI sentinel
// 0000000000, an empty field or anything that is not 10 digits.
func npiOrNone(s string) string {
	s = strings.TrimSpace(s)
	if len(s) != 10 || s == "0000000000" {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	return s
}

// leieDate parses YYYYMMDD ("00000000" and "" are none). Old supplements
// wrote dates of birth as MM/DD/YY (rein1511.csv); a two-digit year is
// taken as the latest year not in the future.
func leieDate(s string, dob bool) (credtrack.Date, error) {
	if s == "" || s == "00000000" {
		return credtrack.Date{}, nil
	}
	if t, err := time.Parse("20060102", s); err == nil {
		return credtrack.Date{Time: t}, nil
	}
	if dob {
		if t, err := time.Parse("01/02/06", s); err == nil {
			if t.After(time.Now()) {
				t = t.AddDate(-100, 0, 0)
			}
			return credtrack.Date{Time: t}, nil
		}
		if t, err := time.Parse("01/02/2006", s); err == nil {
			return credtrack.Date{Time: t}, nil
		}
	}
	return credtrack.Date{}, errors.New("is not a YYYYMMDD date")
}

// ParseSAM reads a SAM.gov exclusions public extract CSV in either layout
// (V2, 31 columns, or V1, 28 columns).
func ParseSAM(r io.Reader) (*Parsed, error) {
	g := &guardedReader{r: r, h: sha256.New(), limit: MaxSAMBytes}
	cr, err := csvReader(g, "SAM extract")
	if err != nil {
		return nil, err
	}
	hdr, err := cr.Read()
	if err != nil {
		return nil, readErr(err, 0, g.limit)
	}
	p := &Parsed{Source: credtrack.ListSAM}
	want := samHeaderV2
	p.Layout = "sam-v2"
	if len(hdr) == len(samHeaderV1) {
		want, p.Layout = samHeaderV1, "sam-v1"
	}
	if err := checkHeader(hdr, want, "SAM exclusions extract"); err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range want {
		col[h] = i
	}
	if err := p.readRows(cr, g, len(want), "a SAM extract", func(rec []string, row int) (*credtrack.ListEntry, error) {
		return samEntry(rec, col, row)
	}); err != nil {
		return nil, err
	}
	return p, nil
}

func samEntry(rec []string, col map[string]int, row int) (*credtrack.ListEntry, error) {
	f := func(name string) string {
		i, ok := col[name]
		if !ok {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	class := f("Classification")
	e := &credtrack.ListEntry{Source: credtrack.ListSAM, Individual: strings.EqualFold(class, "Individual"),
		FirstName: f("First"), MiddleName: f("Middle"), LastName: f("Last"), Suffix: f("Suffix"), BusName: f("Name"),
		City: f("City"), State: strings.ToUpper(f("State / Province")), Zip: f("Zip Code"), Category: class,
		ExclType: f("Exclusion Type"), Agency: f("Excluding Agency"), SAMNumber: f("SAM Number"), CrossRef: f("Cross-Reference"),
		EndDate: f("Termination Date")}
	for _, tok := range strings.FieldsFunc(f("NPI"), func(r rune) bool { return r < '0' || r > '9' }) {
		if n := npiOrNone(tok); n != "" {
			e.NPI = n
			break
		}
	}
	var err error
	if e.ExclDate, err = samDate(f("Active Date")); err != nil {
		return nil, fileErr("row %d: Active Date %v", row, err)
	}
	if e.EndDate != "" && !strings.EqualFold(e.EndDate, "Indefinite") {
		d, err := samDate(e.EndDate)
		if err != nil {
			return nil, fileErr("row %d: Termination Date %v", row, err)
		}
		e.EndDate = d.String()
	}
	// Creation_Date: the layout says MM/DD/YYYY, real files hold
	// YYYY-MM-DD; both are accepted (and only checked: it is not matched on).
	if _, err := samDate(f("Creation_Date")); err != nil {
		return nil, fileErr("row %d: Creation_Date %v", row, err)
	}
	if e.Individual && e.LastName == "" {
		return nil, fileErr("row %d is an Individual without a Last name", row)
	}
	if !e.Individual && e.BusName == "" && e.LastName == "" {
		return nil, fileErr("row %d has no name", row)
	}
	e.Key = shortHash("sam", e.SAMNumber, e.Agency, e.ExclDate.String(), upper(e.LastName), upper(e.FirstName), upper(e.BusName))
	e.Hash = entryHash(e, f("Exclusion Program"), f("CT Code"), f("Address 1"), f("Unique Entity ID"), f("CAGE"))
	return e, nil
}

// samDate accepts MM/DD/YYYY (the layout) and YYYY-MM-DD (what
// Creation_Date really holds); "" is none.
func samDate(s string) (credtrack.Date, error) {
	if s == "" {
		return credtrack.Date{}, nil
	}
	for _, layout := range []string{"01/02/2006", "2006-01-02", "01-02-2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return credtrack.Date{Time: t}, nil
		}
	}
	return credtrack.Date{}, errors.New("is not a MM/DD/YYYY or YYYY-MM-DD date")
}

// Parse reads a file of source.
func Parse(source credtrack.ListSource, r io.Reader) (*Parsed, error) {
	switch source {
	case credtrack.ListLEIE:
		return ParseLEIE(r)
	case credtrack.ListSAM:
		return ParseSAM(r)
	}
	return nil, credtrack.Errorf(credtrack.EINVALID, "unknown list %q: use leie or sam", source)
}

// GuessKind infers what an LEIE file does from its name: UPDATED.csv is
// the full list, YYMMEXCL.csv / sancYYMM.csv add exclusions, YYMMREIN.csv
// / reinYYMM.csv reinstate. SAM extracts are always full. ok is false when
// the name says nothing.
func GuessKind(source credtrack.ListSource, name string) (credtrack.ListImportKind, bool) {
	if source == credtrack.ListSAM {
		return credtrack.ListFull, true
	}
	base := strings.ToUpper(name)
	if i := strings.LastIndexAny(base, "/\\"); i >= 0 {
		base = base[i+1:]
	}
	if q := strings.IndexByte(base, '?'); q >= 0 {
		base = base[:q]
	}
	switch {
	case strings.Contains(base, "UPDATED"):
		return credtrack.ListFull, true
	case strings.Contains(base, "REIN"):
		return credtrack.ListReinstatements, true
	case strings.Contains(base, "EXCL"), strings.HasPrefix(base, "SANC"):
		return credtrack.ListExclusions, true
	}
	return "", false
}

// Apply builds the entries of a new version from the base version's and
// a parsed file: a full import replaces them; an exclusions supplement
// adds its entries (replacing same-key ones); a reinstatements supplement
// removes the entries its rows end. It returns the entries and how many
// were added and removed.
func Apply(kind credtrack.ListImportKind, base, file []*credtrack.ListEntry) (out []*credtrack.ListEntry, added, removed int) {
	switch kind {
	case credtrack.ListExclusions:
		byKey := make(map[string]int, len(base))
		out = make([]*credtrack.ListEntry, len(base), len(base)+len(file))
		copy(out, base)
		for i, e := range out {
			byKey[e.Key] = i
		}
		for _, e := range file {
			if i, ok := byKey[e.Key]; ok {
				out[i] = e
				continue
			}
			byKey[e.Key] = len(out)
			out = append(out, e)
			added++
		}
		return out, added, 0
	case credtrack.ListReinstatements:
		strict, loose := map[string]bool{}, map[string]bool{}
		for _, e := range file {
			strict[e.Key] = true
			loose[leieLooseKey(e)] = true
		}
		for _, e := range base {
			if strict[e.Key] || (e.Source == credtrack.ListLEIE && loose[leieLooseKey(e)]) {
				removed++
				continue
			}
			out = append(out, e)
		}
		return out, 0, removed
	}
	// Full: the file is the list. Duplicate keys (the same record twice)
	// keep the last.
	seen := make(map[string]int, len(file))
	for _, e := range file {
		if i, ok := seen[e.Key]; ok {
			out[i] = e
			continue
		}
		seen[e.Key] = len(out)
		out = append(out, e)
	}
	return out, len(out), len(base)
}
