package roster

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"credtrack"
)

// MaxRowsPerProvider caps the rows of one provider_ref, so that one group
// (held in memory until it is complete) stays small.
const MaxRowsPerProvider = 200

// RowError is one problem with one row: its record number (the header is
// row 1, as a spreadsheet shows it), the line it starts on, the column
// ("" for the row as a whole) and a reason a person can act on. Reasons
// never quote the values of sensitive columns (npi, ssn, dob, number).
type RowError struct {
	Row    int    `json:"row"`
	Line   int    `json:"line"`
	Column string `json:"column"`
	Reason string `json:"reason"`
}

func (e RowError) String() string {
	col := e.Column
	if col == "" {
		col = "-"
	}
	return fmt.Sprintf("row %d (line %d), column %s: %s", e.Row, e.Line, col, e.Reason)
}

// group is the rows of one provider.
type group struct {
	ref      string
	firstRow int
	entry    *credtrack.RosterEntry
	rows     int
	invalid  int      // rows of this group with at least one error
	provider []string // the first row's provider fields, by providerColumns order
}

// scanner reads a roster file group by group.
type scanner struct {
	g      *guard
	cr     *csv.Reader
	col    map[string]int // column index by name
	at     []int          // record index of each of Columns, -1 when absent
	row    int            // record number of the last record read
	today  credtrack.Date
	report *Report

	next  *group // the group being filled
	fatal bool
}

func newScanner(r io.Reader, report *Report, today credtrack.Date) *scanner {
	g := &guard{r: r, max: MaxRecordBytes}
	cr := csv.NewReader(g)
	cr.ReuseRecord = true
	return &scanner{g: g, cr: cr, report: report, today: today}
}

// header reads and checks the header row. A header it cannot use is a
// fatal problem: nothing else in the file can be checked.
func (s *scanner) header() bool {
	rec, err := s.cr.Read()
	s.row = 1
	if err == io.EOF {
		s.fail(1, "", "the file is empty: the first row must be the header (see docs/roster.md)")
		return false
	}
	if err != nil {
		s.fail(1, "", s.readProblem(err))
		return false
	}
	s.col = map[string]int{}
	var problems []string
	for i, name := range rec {
		if i == 0 {
			name = strings.TrimPrefix(name, "\uFEFF") // a byte order mark from spreadsheet exports
		}
		if !utf8.ValidString(name) {
			s.addError(1, 1, "", fmt.Sprintf("column %d of the header is not valid UTF-8: save the file as UTF-8", i+1))
			problems = append(problems, "")
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "":
			s.addError(1, 1, "", fmt.Sprintf("column %d of the header has no name", i+1))
			problems = append(problems, name)
		case !contains(Columns, name):
			s.addError(1, 1, name, "unknown column "+quote(name)+"; the columns are "+strings.Join(Columns, ", "))
			problems = append(problems, name)
		default:
			if _, dup := s.col[name]; dup {
				s.addError(1, 1, name, "the column appears twice")
				problems = append(problems, name)
			}
			s.col[name] = i
		}
	}
	for _, req := range requiredColumns {
		if _, ok := s.col[req]; !ok {
			s.addError(1, 1, req, "the required column is missing from the header")
			problems = append(problems, req)
		}
	}
	if len(problems) > 0 {
		s.report.Fatal = "the header row is not a roster header; nothing else was checked"
		s.fatal = true
		return false
	}
	s.cr.FieldsPerRecord = len(rec)
	s.at = make([]int, len(Columns))
	for i, c := range Columns {
		s.at[i] = -1
		if j, ok := s.col[c]; ok {
			s.at[i] = j
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *scanner) fail(row int, col, reason string) {
	s.addError(row, row, col, reason)
	s.report.Fatal = reason
	s.fatal = true
}

func (s *scanner) addError(row, line int, col, reason string) {
	r := s.report
	if len(r.Errors) < r.maxErrors {
		r.Errors = append(r.Errors, RowError{Row: row, Line: line, Column: col, Reason: reason})
	} else {
		r.MoreErrors++
	}
}

// readProblem explains an error of the CSV reader.
func (s *scanner) readProblem(err error) string {
	if errors.Is(err, errRecordTooLong) {
		return fmt.Sprintf("a row is longer than %d KiB (no line break, or a quote that is never closed): this does not look like a roster file; reading stopped",
			MaxRecordBytes>>10)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, csv.ErrFieldCount):
			return "" // handled by the caller, which knows the count
		case errors.Is(pe.Err, csv.ErrQuote):
			return fmt.Sprintf("a quoted field is not closed properly (column %d): a field that contains a quote must be wrapped in quotes and the quote doubled", pe.Column)
		case errors.Is(pe.Err, csv.ErrBareQuote):
			return fmt.Sprintf("a quote appears inside an unquoted field (column %d): wrap the field in quotes and double the quote", pe.Column)
		}
		return pe.Err.Error()
	}
	return "the file could not be read: " + err.Error()
}

// nextGroup returns the next complete provider group, or nil at the end
// of the file (or after a fatal problem).
func (s *scanner) nextGroup() *group {
	for !s.fatal {
		rec, err := s.cr.Read()
		if err == io.EOF {
			break
		}
		s.row++
		line, _ := s.cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				s.report.Rows++
				s.report.InvalidRows++
				s.addError(s.row, line, "", fieldCountProblem(len(rec), s.cr.FieldsPerRecord))
				if s.next != nil && s.next.ref != "" && s.col["provider_ref"] < len(rec) && field(rec, s.col, "provider_ref") == s.next.ref {
					s.next.invalid++ // a bad row of the provider being read spoils it
				}
				continue
			}
			if errors.Is(err, errRecordTooLong) || !errors.As(err, &pe) {
				s.fail(s.row, "", s.readProblem(err))
				break
			}
			// A quoting error: the reader resumes at the next line.
			s.report.Rows++
			s.report.InvalidRows++
			s.addError(s.row, line, "", s.readProblem(err))
			continue
		}
		s.report.Rows++
		ref := s.get(rec, cRef)
		if s.next != nil && (ref == "" || ref != s.next.ref) {
			done := s.next
			s.next = nil
			s.startGroup(ref, rec, line)
			return done
		}
		if s.next == nil {
			s.startGroup(ref, rec, line)
			continue
		}
		s.addRow(rec, line)
	}
	done := s.next
	s.next = nil
	return done
}

func field(rec []string, col map[string]int, name string) string {
	i, ok := col[name]
	if !ok || i >= len(rec) {
		return ""
	}
	return rec[i]
}

// get returns the trimmed value of column c (an index into Columns).
func (s *scanner) get(rec []string, c int) string {
	i := s.at[c]
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// startGroup begins a provider with its first row.
func (s *scanner) startGroup(ref string, rec []string, line int) {
	g := &group{ref: ref, firstRow: s.row, entry: &credtrack.RosterEntry{Provider: &credtrack.Provider{}}}
	s.next = g
	errs := rowErrors{s: s, line: line}
	if !errs.utf8(rec) {
		g.rows++
		g.invalid++
		s.report.InvalidRows++
		return
	}
	g.provider = make([]string, len(providerColumns))
	for i := range providerColumns {
		g.provider[i] = s.get(rec, cFirst+i)
	}
	s.parseProvider(g, &errs)
	s.parseCredential(g, rec, &errs)
	g.rows++
	if errs.n > 0 {
		g.invalid++
		s.report.InvalidRows++
	}
}

// addRow adds a later row of the provider being read.
func (s *scanner) addRow(rec []string, line int) {
	g := s.next
	g.rows++
	errs := rowErrors{s: s, line: line}
	if g.rows > MaxRowsPerProvider {
		errs.add("provider_ref", fmt.Sprintf("more than %d rows for one provider", MaxRowsPerProvider))
	} else if errs.utf8(rec) {
		if g.provider != nil {
			for i, c := range providerColumns {
				v := s.get(rec, cFirst+i)
				if v != "" && v != g.provider[i] {
					errs.add(c, fmt.Sprintf("differs from row %d, the first row of this provider_ref: leave it empty or repeat the same value", g.firstRow))
				}
			}
		}
		s.parseCredential(g, rec, &errs)
	}
	if errs.n > 0 {
		g.invalid++
		s.report.InvalidRows++
	}
}

// rowErrors collects the errors of one row.
type rowErrors struct {
	s    *scanner
	line int
	n    int
}

func (e *rowErrors) add(col, reason string) {
	e.n++
	e.s.addError(e.s.row, e.line, col, reason)
}

// utf8 reports every field that is not valid UTF-8; false if any.
func (e *rowErrors) utf8(rec []string) bool {
	ok := true
	for i, f := range rec {
		if utf8.ValidString(f) {
			continue
		}
		ok = false
		name := ""
		for n, j := range e.s.col {
			if j == i {
				name = n
			}
		}
		if name == "" {
			e.add("", fmt.Sprintf("column %d is not valid UTF-8 text: save the file as UTF-8", i+1))
		} else {
			e.add(name, "not valid UTF-8 text: save the file as UTF-8")
		}
	}
	return ok
}

// date parses a date column, adding an error when it is not YYYY-MM-DD.
func (e *rowErrors) date(col, v string) credtrack.Date {
	if v == "" {
		return credtrack.Date{}
	}
	d, err := credtrack.ParseDate(v)
	if err != nil {
		reason := "not a date: use YYYY-MM-DD"
		if !isSensitive(col) {
			reason = quote(v) + " is " + reason
		}
		e.add(col, reason)
		return credtrack.Date{}
	}
	if d.Year() < 1900 || d.Year() > 2200 {
		e.add(col, "the year is out of range")
		return credtrack.Date{}
	}
	return d
}

// parseProvider builds the group's provider from its first row and
// checks it, column by column, then with Provider.Validate.
func (s *scanner) parseProvider(g *group, errs *rowErrors) {
	v := func(c string) string { return g.provider[providerIndex[c]] }
	p := g.entry.Provider
	p.FirstName, p.MiddleName, p.LastName, p.Suffix = v("first_name"), v("middle_name"), v("last_name"), v("suffix")
	p.Email, p.Phone, p.Specialty, p.Employer = v("email"), v("phone"), v("specialty"), v("employer")
	before := errs.n
	if p.FirstName == "" {
		errs.add("first_name", "required")
	}
	if p.LastName == "" {
		errs.add("last_name", "required")
	}
	for _, c := range []string{"first_name", "middle_name", "last_name", "suffix", "specialty", "employer", "phone"} {
		if len(v(c)) > 100 {
			errs.add(c, "longer than 100 characters")
		}
	}
	prof, ok := profession(v("profession"))
	if !ok {
		errs.add("profession", quote(v("profession"))+" is not a profession; use one of "+professionList())
	}
	p.Profession = prof
	if st := strings.ToUpper(v("state")); st != "" {
		if !states[st] {
			errs.add("state", quote(v("state"))+" is not a US state or territory code")
		}
		p.State = st
	}
	p.NPI = v("npi")
	if p.NPI != "" && !credtrack.ValidNPI(p.NPI) {
		errs.add("npi", "not a valid NPI: 10 digits starting with 1 or 2, with a valid check digit")
	}
	if ssn := v("ssn"); ssn != "" {
		p.SSN = strings.ReplaceAll(ssn, "-", "")
		if len(p.SSN) != 9 || strings.Trim(p.SSN, "0123456789") != "" {
			errs.add("ssn", "not a valid SSN: 9 digits, dashes allowed")
		}
	}
	p.DOB = errs.date("dob", v("dob"))
	if !p.DOB.IsZero() && p.DOB.After(s.today.Time) {
		errs.add("dob", "the date of birth is in the future")
	}
	active, ok := parseBool(v("active"))
	if !ok {
		errs.add("active", quote(v("active"))+" is not true or false")
	}
	p.Active = active
	if p.Email != "" {
		if _, err := credtrack.NormalizeEmail(p.Email); err != nil {
			errs.add("email", credtrack.ErrorMessage(err))
		}
	}
	if errs.n == before {
		// The domain's own rules have the last word.
		if err := p.Validate(); err != nil {
			errs.add(columnOf(err, "provider"), credtrack.ErrorMessage(err))
		}
	}
}

func professionList() string {
	names := make([]string, len(credtrack.Professions))
	for i, p := range credtrack.Professions {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// columnOf guesses the column a Validate error is about from its message,
// "" when it is about the row as a whole.
func columnOf(err error, kind string) string {
	m := strings.ToLower(credtrack.ErrorMessage(err))
	switch {
	case strings.Contains(m, "npi") && kind == "provider":
		return "npi"
	case strings.Contains(m, "ssn"):
		return "ssn"
	case strings.Contains(m, "email"):
		return "email"
	case strings.Contains(m, "state") && kind == "provider":
		return "state"
	case strings.Contains(m, "profession"):
		return "profession"
	case strings.Contains(m, "name"):
		return "first_name"
	case strings.Contains(m, "expir"):
		return "expires_on"
	case strings.Contains(m, "issue"):
		return "issued_on"
	case strings.Contains(m, "type"):
		return "credential_type"
	case strings.Contains(m, "number") || strings.Contains(m, "npi") || strings.Contains(m, "dea"):
		return "number"
	case strings.Contains(m, "state") || strings.Contains(m, "jurisdiction"):
		return "jurisdiction"
	}
	return ""
}

// parseCredential reads the row's credential columns, if any, and adds
// the credential to the group when it is valid.
func (s *scanner) parseCredential(g *group, rec []string, errs *rowErrors) {
	v := func(c string) string { return s.get(rec, columnIndex[c]) }
	empty := true
	for i := range credentialColumns {
		if s.get(rec, cType+i) != "" {
			empty = false
			break
		}
	}
	if empty {
		return
	}
	before := errs.n
	c := &credtrack.Credential{Issuer: v("issuer"), Notes: v("notes"), Number: v("number")}
	t, ok := credentialType(v("credential_type"))
	switch {
	case v("credential_type") == "":
		errs.add("credential_type", "required when any credential column is filled; use one of "+typeList())
	case !ok:
		errs.add("credential_type", quote(v("credential_type"))+" is not a credential type; use one of "+typeList())
	}
	c.Type = t
	if j := strings.ToUpper(v("jurisdiction")); j != "" {
		if !states[j] && j != "US" {
			errs.add("jurisdiction", quote(v("jurisdiction"))+" is not a US state or territory code (or US)")
		}
		c.Jurisdiction = j
	}
	switch t {
	case credtrack.CredNPI:
		if !credtrack.ValidNPI(c.Number) {
			errs.add("number", "not a valid NPI: 10 digits starting with 1 or 2, with a valid check digit")
		}
	case credtrack.CredDEA:
		if !credtrack.ValidDEA(c.Number) {
			errs.add("number", "not a valid DEA number: 2 letters and 7 digits with a valid check digit")
		}
	case credtrack.CredStateLicense:
		if c.Number == "" {
			errs.add("number", "a state license needs a number")
		}
		if c.Jurisdiction == "" {
			errs.add("jurisdiction", "a state license needs the state that issued it")
		} else if c.Jurisdiction == "US" {
			errs.add("jurisdiction", "a state license needs a state, not US")
		}
	}
	if len(c.Number) > 50 {
		errs.add("number", "longer than 50 characters")
	}
	if len(c.Issuer) > 200 {
		errs.add("issuer", "longer than 200 characters")
	}
	if len(c.Notes) > 2000 {
		errs.add("notes", "longer than 2000 characters")
	}
	c.IssuedOn = errs.date("issued_on", v("issued_on"))
	c.ExpiresOn = errs.date("expires_on", v("expires_on"))
	if !c.IssuedOn.IsZero() && c.IssuedOn.After(s.today.Time) {
		errs.add("issued_on", "the issue date is in the future")
	}
	if !c.IssuedOn.IsZero() && !c.ExpiresOn.IsZero() && c.ExpiresOn.Before(c.IssuedOn.Time) {
		errs.add("expires_on", "the expiry date is before the issue date")
	}
	details, problem := parseDetails(v("details"))
	if problem != "" {
		errs.add("details", problem)
	}
	c.Details = details
	if problem == "" && c.Type != "" {
		// The type-specific fields are the domain's to judge.
		if err := c.ValidateDetails(); err != nil {
			errs.add("details", credtrack.ErrorMessage(err))
		}
	}
	if errs.n == before {
		c.ProviderID = "pending" // Validate wants one; the store sets the real ID
		if err := c.Validate(); err != nil {
			errs.add(columnOf(err, "credential"), credtrack.ErrorMessage(err))
		}
		c.ProviderID = ""
	}
	if errs.n == before {
		g.entry.Credentials = append(g.entry.Credentials, c)
	}
}

func typeList() string {
	names := make([]string, len(credtrack.CredentialTypes))
	for i, t := range credtrack.CredentialTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// utcToday is the default clock for "in the future" checks.
func utcToday() credtrack.Date { return credtrack.DateOf(time.Now()) }

func fieldCountProblem(got, want int) string {
	m := fmt.Sprintf("the row has %d columns; the header has %d", got, want)
	if got < want {
		m += " (a quote that is never closed joins the following rows into one field)"
	} else {
		m += " (a comma inside a value must be wrapped in quotes)"
	}
	return m
}
