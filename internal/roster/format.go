// Package roster imports and exports rosters: CSV files of providers with
// their licenses, NPI, DEA registrations and other credentials, in the
// shape docs/roster.md describes (one row per credential, rows of one
// provider grouped by provider_ref).
//
// Everything streams. The reader uses encoding/csv with ReuseRecord behind
// a guard that caps the size of a record (so a file with no line breaks,
// or an unterminated quote, cannot make it buffer gigabytes), holds one
// provider's rows and one batch of providers at a time, and keeps at most
// Options.MaxErrors row errors with a count of the rest. Memory therefore
// stays flat whatever the size of the file. Writes go through
// credtrack.RosterService, which seals, indexes and audits every record.
package roster

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"credtrack"
)

// Columns is the header of a roster file, in the order Export writes it.
// An import may give the columns in any order and leave out any but the
// required ones.
var Columns = []string{
	"provider_ref", "first_name", "middle_name", "last_name", "suffix", "email", "phone", "profession",
	"specialty", "employer", "state", "npi", "ssn", "dob", "active",
	"credential_type", "issuer", "jurisdiction", "number", "issued_on", "expires_on", "notes", "details",
}

// Positions in Columns.
const (
	cRef = iota
	cFirst
	_ // middle_name
	_ // last_name
	_ // suffix
	_ // email
	_ // phone
	_ // profession
	_ // specialty
	_ // employer
	_ // state
	_ // npi
	_ // ssn
	_ // dob
	_ // active
	cType
)

// columnIndex and providerIndex give a column's position in Columns and
// in providerColumns.
var columnIndex, providerIndex = map[string]int{}, map[string]int{}

func init() {
	for i, c := range Columns {
		columnIndex[c] = i
	}
	for i, c := range providerColumns {
		providerIndex[c] = i
		if columnIndex[c] != cFirst+i {
			panic("roster: providerColumns must follow provider_ref in Columns")
		}
	}
	for i, c := range credentialColumns {
		if columnIndex[c] != cType+i {
			panic("roster: credentialColumns must follow the provider columns in Columns")
		}
	}
}

// requiredColumns must be present in every roster header.
var requiredColumns = []string{"first_name", "last_name"}

// providerColumns are the columns that describe the provider (repeated, or
// left empty, on the later rows of the same provider_ref).
var providerColumns = []string{"first_name", "middle_name", "last_name", "suffix", "email", "phone", "profession",
	"specialty", "employer", "state", "npi", "ssn", "dob", "active"}

// credentialColumns describe the row's credential; all empty means the row
// carries none.
var credentialColumns = []string{"credential_type", "issuer", "jurisdiction", "number", "issued_on", "expires_on", "notes", "details"}

// sensitiveColumns never have their values quoted in a report.
var sensitiveColumns = []string{"npi", "ssn", "dob", "number"}

// states are the codes accepted in state and jurisdiction: the 50 states,
// DC and the territories that license health professionals.
var states = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV
		NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP`) {
		states[s] = true
	}
}

// formatDetails writes a credential's type-specific fields as
// "key=value; key=value" sorted by key, or as a JSON object when a value
// holds a character that form cannot carry.
func formatDetails(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	plain := true
	for k, v := range d {
		keys = append(keys, k)
		if strings.ContainsAny(k+v, ";=\r\n") || strings.HasPrefix(k, "{") {
			plain = false
		}
	}
	if !plain {
		b, _ := json.Marshal(d) // a string map always marshals
		return string(b)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return strings.Join(parts, "; ")
}

// parseDetails reads the details column: a JSON object of strings, or
// "key=value" pairs separated by semicolons.
func parseDetails(s string) (map[string]string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ""
	}
	if strings.HasPrefix(s, "{") {
		var m map[string]string
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, "not a JSON object of strings"
		}
		return m, ""
	}
	m := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, `use "key=value; key=value" (or a JSON object)`
		}
		if _, dup := m[k]; dup {
			return nil, "the key " + quote(k) + " appears twice"
		}
		m[k] = strings.TrimSpace(v)
	}
	return m, ""
}

// quote shows a non-sensitive value in a report, shortened.
func quote(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func isSensitive(col string) bool { return slices.Contains(sensitiveColumns, col) }

// parseBool reads the active column; empty means true.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "true", "yes", "y", "1", "active":
		return true, true
	case "false", "no", "n", "0", "inactive":
		return false, true
	}
	return false, false
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// profession matches a profession code case-insensitively.
func profession(s string) (credtrack.Profession, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return credtrack.ProfOther, true
	}
	for _, p := range credtrack.Professions {
		if strings.EqualFold(string(p), s) {
			return p, true
		}
	}
	return "", false
}

func credentialType(s string) (credtrack.CredentialType, bool) {
	s = strings.TrimSpace(s)
	for _, t := range credtrack.CredentialTypes {
		if strings.EqualFold(string(t), s) {
			return t, true
		}
	}
	return "", false
}
