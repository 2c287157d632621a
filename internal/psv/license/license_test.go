package license_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/psv/license"
)

// moHeader is the union of the 39 columns of the Missouri Division of
// Professional Registration listings (FORMATS.md §7.3). No real file is
// public; the rows below are made up in that layout: tab-delimited,
// dates "YYYY-MM-DD HH:MM:SS".
var moHeader = strings.Split("prc_first_name prc_middle_name prc_last_name prc_suffix ba_address ba_2address ba_city ba_state ba_zip "+
	"ba_cnty ba_cntry lic_profession lic_number lst_description lic_orig_issue_date lic_exp_date discipline les_description "+
	"prc_dba_name clas_description ctype_description cl_description prc_entity_name rel_type rel_first_name rel_middle_name "+
	"rel_last_name rel_suffix rel_prc_name rel_lic_number rel_addr1 rel_addr2 rel_city rel_state rel_zip_code ld_description "+
	"employer_name school_name certification_title", " ")

func moRow(first, last, number, status, exp, discipline string) string {
	v := make([]string, len(moHeader))
	for i, h := range moHeader {
		switch h {
		case "prc_first_name":
			v[i] = first
		case "prc_last_name":
			v[i] = last
		case "lic_profession":
			v[i] = "PN"
		case "lic_number":
			v[i] = number
		case "lst_description":
			v[i] = status
		case "lic_orig_issue_date":
			v[i] = "2004-06-01 00:00:00"
		case "lic_exp_date":
			v[i] = exp
		case "discipline":
			v[i] = discipline
		case "les_description":
			v[i] = "Not Expired"
		case "ba_city":
			v[i] = "SAINT LOUIS"
		case "ba_state":
			v[i] = "MO"
		case "cl_description":
			v[i] = "Primary"
		}
	}
	return strings.Join(v, "\t")
}

func moFile(rows ...string) string {
	return strings.Join(moHeader, "\t") + "\r\n" + strings.Join(rows, "\r\n") + "\r\n"
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMissouriFileVerifies(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "mo-dpr-PN.TXT", moFile(
		moRow("ABIGAIL", "OKAFOR", "2004012345", "Active", "2027-04-30 00:00:00", "N"),
		moRow("BRUNO", "KESSLER", "2010000777", "Active", "2026-05-31 00:00:00", "Y"),
	))
	write(t, dir, "README.txt", "not a board file")
	src := &license.Source{Dir: dir}
	p := &credtrack.Provider{FirstName: "Abigail", LastName: "Okafor"}
	c := &credtrack.Credential{Type: credtrack.CredStateLicense, Jurisdiction: "MO", Number: "02004012345",
		ExpiresOn: credtrack.Date{Time: time.Date(2027, 4, 30, 0, 0, 0, 0, time.UTC)}}
	res, err := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c})
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != credtrack.VerifyVerified || !strings.Contains(res.Query["files"], "mo-dpr-PN.TXT sha256:") ||
		len(res.Evidence.ResponseSHA256) != 32 || !strings.Contains(string(res.Evidence.Response), `"Line":2`) {
		t.Fatalf("verify: %+v", res)
	}
	// A disciplined licensee and an expiry date that differs: mismatches.
	p2 := &credtrack.Provider{FirstName: "Bruno", LastName: "Kessler"}
	c2 := &credtrack.Credential{Type: credtrack.CredStateLicense, Jurisdiction: "MO", Number: "2010000777",
		ExpiresOn: credtrack.Date{Time: time.Date(2028, 5, 31, 0, 0, 0, 0, time.UTC)}}
	res, _ = src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p2, Credential: c2})
	var fields []string
	for _, f := range res.Findings {
		if !f.Match {
			fields = append(fields, f.Field)
		}
	}
	if res.Result != credtrack.VerifyMismatch || strings.Join(fields, ",") != "expires_on,discipline" {
		t.Fatalf("Kessler: %s %v", res.Result, fields)
	}
	// Absent from the active-only listing: not found.
	c.Number = "2004099999"
	if res, _ := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); res.Result != credtrack.VerifyNotFound {
		t.Fatalf("absent: %+v", res)
	}
	// Another state has no mapping: refused before any lookup.
	c.Jurisdiction = "KS"
	if _, err := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); credtrack.ErrorCode(err) != credtrack.EINVALID {
		t.Fatalf("KS: %v", err)
	}

	// The nightly file is replaced: the directory is reloaded; a status
	// other than Active is excluded.
	write(t, dir, "mo-dpr-PN.TXT", moFile(moRow("ABIGAIL", "OKAFOR", "2004012345", "Suspended", "2027-04-30 00:00:00", "")))
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "mo-dpr-PN.TXT"), future, future)
	c.Jurisdiction, c.Number = "MO", "2004012345"
	if res, _ := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); res.Result != credtrack.VerifyExcluded {
		t.Fatalf("suspended: %+v", res)
	}
	// A damaged replacement leaves the previous version in force.
	write(t, dir, "mo-dpr-PN.TXT", moFile("ABIGAIL\tOKAFOR"))
	later := future.Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "mo-dpr-PN.TXT"), later, later)
	if res, _ := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); res.Result != credtrack.VerifyExcluded {
		t.Fatalf("after a damaged file: %+v", res)
	}
}

func TestMalformedFilesRefused(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"wrong header": {"NPI\tNAME\r\n1\tX\r\n", "lacks prc_last_name, lic_number, lst_description or status, lic_exp_date"},
		"truncated":    {moFile(moRow("A", "B", "1", "Active", "2027-01-01 00:00:00", ""), "A\tB"), "line 3 has 2 fields"},
		"latin1":       {moFile(moRow("Ren\xe9e", "B", "1", "Active", "2027-01-01 00:00:00", "")), "not UTF-8"},
		"bad date":     {moFile(moRow("A", "B", "1", "Active", "31/12/2027", "")), "expiry date"},
		"empty":        {"", "empty"},
	} {
		var ix license.Index
		err := ix.Add("f.txt", strings.NewReader(tc.body), license.Missouri, time.Now())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
