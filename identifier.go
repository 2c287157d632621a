package credtrack

import "strings"

// NPICheckDigit returns the check digit of a 9-digit NPI base: the Luhn
// "double-add-double" sum with the constant 24 added for the implied 80840
// prefix (CMS "Requirements for NPI Check Digit"). It returns -1 when base
// is not 9 ASCII digits.
func NPICheckDigit(base string) int {
	if len(base) != 9 {
		return -1
	}
	sum := 24
	for i := 8; i >= 0; i-- {
		c := base[i]
		if c < '0' || c > '9' {
			return -1
		}
		d := int(c - '0')
		if (8-i)%2 == 0 { // the rightmost digit and every other one leftwards are doubled
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// ValidNPI reports whether s is a 10-digit NPI starting with 1 or 2 whose
// last digit is the right check digit.
func ValidNPI(s string) bool {
	if len(s) != 10 || (s[0] != '1' && s[0] != '2') {
		return false
	}
	cd := NPICheckDigit(s[:9])
	return cd >= 0 && int(s[9]-'0') == cd
}

// DEACheckDigit returns the check digit for the six digits of a DEA
// registration number: the last digit of (n1+n3+n5) + 2*(n2+n4+n6). It
// returns -1 when digits is not 6 ASCII digits.
func DEACheckDigit(digits string) int {
	if len(digits) != 6 {
		return -1
	}
	sum := 0
	for i := 0; i < 6; i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return -1
		}
		if i%2 == 0 {
			sum += int(c - '0')
		} else {
			sum += 2 * int(c-'0')
		}
	}
	return sum % 10
}

// NormalizeDEA upper-cases s and drops an institutional "-suffix".
func NormalizeDEA(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s = s[:i]
	}
	return s
}

// ValidDEA reports whether s (after NormalizeDEA) is a DEA registration
// number: a registrant-type letter, a letter or 9, six digits and the right
// check digit. The first letter is not restricted beyond A–Z because the
// published lists of registrant types disagree (FORMATS.md §4).
func ValidDEA(s string) bool {
	s = NormalizeDEA(s)
	if len(s) != 9 {
		return false
	}
	if s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	if !(s[1] >= 'A' && s[1] <= 'Z' || s[1] == '9') {
		return false
	}
	cd := DEACheckDigit(s[2:8])
	return cd >= 0 && int(s[8]-'0') == cd && s[8] >= '0' && s[8] <= '9'
}

// Last4 returns the last four characters of s for masked display
// ("••••6789"), or "" when s is shorter than 6 characters, where showing
// four would reveal most of it.
func Last4(s string) string {
	if len(s) < 6 {
		return ""
	}
	return s[len(s)-4:]
}

// compactNumber drops the spaces (and, for NPIs, dashes) people type or
// paste inside an identifier: "1234 567 893", "1234-567-893".
func compactNumber(s string, dropDash bool) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0' || (dropDash && r == '-') {
			return -1
		}
		return r
	}, s)
}

// NormalizeLookups prepares the exact-match lookups of f (NPI, DEA,
// License, LicenseState) for their blind indexes: it normalizes each the
// way the stored value was normalized before it was indexed (an NPI is 10
// digits; a DEA number is upper case without its "-suffix"; a license
// number is trimmed, and the index itself is case-insensitive) after
// dropping the spaces a person may type inside a number, and refuses a
// number that could not be on record (a bad check digit), so a typo is
// reported rather than silently finding nothing. Errors never repeat the
// number.
func (f *ProviderFilter) NormalizeLookups() error {
	if f.NPI != "" {
		f.NPI = compactNumber(f.NPI, true)
		if !ValidNPI(f.NPI) {
			return Errorf(EINVALID, "the NPI to search for must be 10 digits with a valid check digit")
		}
	}
	if f.DEA != "" {
		f.DEA = NormalizeDEA(compactNumber(f.DEA, false))
		if !ValidDEA(f.DEA) {
			return Errorf(EINVALID, "the DEA number to search for must be 2 letters and 7 digits with a valid check digit")
		}
	}
	f.License = strings.TrimSpace(f.License)
	f.LicenseState = strings.ToUpper(strings.TrimSpace(f.LicenseState))
	if len(f.License) > 50 {
		return Errorf(EINVALID, "a license number is at most 50 characters")
	}
	if f.LicenseState != "" {
		if f.License == "" {
			return Errorf(EINVALID, "a license state narrows a license number search; give the number too")
		}
		if !validState(f.LicenseState) {
			return Errorf(EINVALID, "the license state must be a two-letter code")
		}
	}
	return nil
}

// LicenseLookupForms are the forms of a license number worth looking up:
// as typed (trimmed) and, when it has inner spaces, without them, since a
// license stored as "RN123456" is often typed "RN 123456". Both are
// compared through the blind index, never in plaintext.
func LicenseLookupForms(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if c := compactNumber(s, false); c != s {
		return []string{s, c}
	}
	return []string{s}
}
