package credtrack_test

import (
	"testing"

	"credtrack"
)

// The vectors come from ../shared/data/psv/FORMATS.md §3 and §4.
func TestValidNPI(t *testing.T) {
	valid := []string{"1234567893", "1528060837", "1720377294", "1568946812", "1760485387",
		"1437410099", "1174270805", "1225701881", "1689872012", "1770626038", "1003101296",
		"1679576722", "1588667638", "1497758544", "1871606244", "1588848816", "1790141117",
		"1174719363", "1780812768", "1831243807"}
	invalid := []string{"1234567898", "1234567891", "1234567890", "1234567892", "0000000000",
		"9999999999", "124567892", "abcdefghij", "880001234567893", "", "12345678931"}
	for _, s := range valid {
		if !credtrack.ValidNPI(s) {
			t.Errorf("ValidNPI(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if credtrack.ValidNPI(s) {
			t.Errorf("ValidNPI(%q) = true, want false", s)
		}
	}
	if got := credtrack.NPICheckDigit("123456789"); got != 3 {
		t.Errorf("NPICheckDigit(123456789) = %d, want 3", got)
	}
}

func TestValidDEA(t *testing.T) {
	valid := []string{"AB1234563", "A91234563", "BB1388568", "GL0285191", "EU4488929",
		"K92993548", "F91234563", "F91234563-001AB", "bb1388568"}
	invalid := []string{"BG8207031", "G92341666", "AA6653456", "BH0450010", "ZY1364061",
		"AB1234560", "AB1234564", "BB1388561", "BB1388569", "CC1258745", "1B1388568", "BB138856", ""}
	for _, s := range valid {
		if !credtrack.ValidDEA(s) {
			t.Errorf("ValidDEA(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if credtrack.ValidDEA(s) {
			t.Errorf("ValidDEA(%q) = true, want false", s)
		}
	}
}
