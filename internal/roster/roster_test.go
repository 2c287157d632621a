package roster_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"credtrack"
	"credtrack/internal/roster"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// fromString is a Source over a fixed text.
func fromString(s string) roster.Source {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}

func fromReader(mk func() io.Reader) roster.Source {
	return func() (io.ReadCloser, error) { return io.NopCloser(mk()), nil }
}

func synthetic(n int) string {
	b, _ := io.ReadAll(roster.Synthetic(n))
	return string(b)
}

func opts(m roster.Mode) roster.Options {
	return roster.Options{Mode: m, BatchSize: 7, Today: func() credtrack.Date {
		d, _ := credtrack.ParseDate("2026-11-25")
		return d
	}}
}

// unchanged asserts the database is exactly as it was.
func fingerprint(t *testing.T, db *sqlstore.DB) map[string]string {
	t.Helper()
	fp, err := db.FingerprintForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	delete(fp, "audit_events") // summary events are expected
	delete(fp, "audit_heads")
	return fp
}

func sameFingerprint(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("table %s changed: %s -> %s", k, v, after[k])
		}
	}
}

func countEvents(t *testing.T, db *sqlstore.DB, ctx context.Context, action string) int {
	t.Helper()
	_, n, err := db.FindAuditEvents(ctx, credtrack.AuditFilter{Action: action, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func hasError(rep *roster.Report, row int, col, reasonPart string) bool {
	for _, e := range rep.Errors {
		if e.Row == row && e.Column == col && strings.Contains(e.Reason, reasonPart) {
			return true
		}
	}
	return false
}

func TestImportValidRosterAndExportRoundTrip(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Roster Org")
		src := synthetic(25)
		var phases []string
		o := opts(roster.AllOrNothing)
		o.Progress = func(p roster.Progress) { phases = append(phases, p.Phase) }
		rep, err := roster.Import(ctx, db, fromString(src), o)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Rows != 50 || rep.ProvidersWritten != 25 || rep.CredentialsWritten != 50 {
			t.Fatalf("report: %+v", rep)
		}
		if len(phases) == 0 || phases[0] != "checking" || phases[len(phases)-1] != "importing" {
			t.Errorf("progress phases: %v", phases)
		}
		// Findable through the NPI blind index, credentials attached.
		ps, n, err := db.FindProviders(ctx, credtrack.ProviderFilter{NPI: roster.SyntheticNPI(7)})
		if err != nil || n != 1 {
			t.Fatalf("find by NPI: %d %v", n, err)
		}
		if ps[0].FirstName != "Given7" || len(ps[0].Credentials) != 2 {
			t.Errorf("provider 7: %+v", ps[0])
		}
		// Every record has its own event, plus one summary.
		if got := countEvents(t, db, ctx, "provider.created"); got != 25 {
			t.Errorf("provider.created events: %d", got)
		}
		if got := countEvents(t, db, ctx, "credential.created"); got != 50 {
			t.Errorf("credential.created events: %d", got)
		}
		if got := countEvents(t, db, ctx, "roster.imported"); got != 1 {
			t.Errorf("roster.imported events: %d", got)
		}
		if brk, _, err := db.VerifyChain(ctx, credtrack.ActorFromContext(ctx).OrgID); err != nil || brk != nil {
			t.Errorf("audit chain: %v %v", brk, err)
		}

		// Export: same shape, every value back, and it reads as a valid roster.
		var out bytes.Buffer
		np, err := roster.Export(ctx, db, &out)
		if err != nil || np != 25 {
			t.Fatalf("export: %d %v", np, err)
		}
		recs, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 51 || strings.Join(recs[0], ",") != strings.Join(roster.Columns, ",") {
			t.Fatalf("export has %d rows, header %v", len(recs), recs[0])
		}
		text := out.String()
		for _, want := range []string{roster.SyntheticNPI(3), roster.SyntheticDEA(3), "500000003", "CA0000008", "license_type=RN", "schedules="} {
			if !strings.Contains(text, want) {
				t.Errorf("export lacks %q", want)
			}
		}
		check, err := roster.Check(context.Background(), strings.NewReader(text), opts(roster.DryRun))
		if err != nil || !check.OK() || check.Providers != 25 || check.Credentials != 50 {
			t.Errorf("re-check of the export: %+v %v", check, err)
		}
		if got := countEvents(t, db, ctx, "export.created"); got != 1 {
			t.Errorf("export.created events: %d", got)
		}

		// An auditor's export leaves SSN, DOB and credential numbers out.
		aud := storetest.As("auditor-1", credtrack.ActorFromContext(ctx).OrgID, credtrack.RoleAuditor)
		out.Reset()
		if _, err := roster.Export(aud, db, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "500000003") || strings.Contains(out.String(), roster.SyntheticDEA(3)) {
			t.Error("an auditor's export holds SSNs or DEA numbers")
		}
		// A provider-role user may not export.
		prov := storetest.As("user-p", credtrack.ActorFromContext(ctx).OrgID, credtrack.RoleProvider)
		if _, err := roster.Export(prov, db, io.Discard); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Errorf("provider export: %v", err)
		}
	})
}

// bad is a roster with one valid provider and several invalid rows.
const bad = `provider_ref,first_name,last_name,profession,state,npi,dob,credential_type,jurisdiction,number,issued_on,expires_on
A,Ann,Able,RN,CA,1234567893,1980-02-03,state_license,CA,RN123456,2020-01-01,2027-01-01
B,Bob,Baker,RN,CA,1234567890,1981-13-40,dea,CA,AB1234560,2020-01-01,2027-01-01
C,Cy,Cole,XX,ZZ,,,state_license,,,2020-01-01,2019-01-01
D,Di,Dunn,MD,TX,,,dea,TX,AB1234563,01/02/2020,
E,Ed,Eng,RN,TX,,,npi,,1234567890,,
F,Fay,Fox,RN,TX,,,magic,,x,,
G,,Gray,RN,TX,,,,,,,
H,Hal,Hunt,RN,TX,,,,,,,
H,Hal,Hurt,RN,TX,,,,,,,
`

func TestMalformedRowsReported(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Bad Org")
		before := fingerprint(t, db)

		for _, mode := range []roster.Mode{roster.DryRun, roster.AllOrNothing} {
			rep, err := roster.Import(ctx, db, fromString(bad), opts(mode))
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.ProvidersWritten != 0 {
				t.Fatalf("%s: %+v", mode, rep)
			}
			for _, want := range []struct {
				row         int
				col, reason string
			}{
				{3, "npi", "check digit"},
				{3, "dob", "YYYY-MM-DD"},
				{3, "number", "DEA"},
				{4, "profession", `"XX" is not a profession`},
				{4, "state", `"ZZ"`},
				{4, "number", "needs a number"},
				{4, "jurisdiction", "needs the state"},
				{4, "expires_on", "before the issue date"},
				{5, "issued_on", `"01/02/2020" is not a date`},
				{6, "number", "NPI"},
				{7, "credential_type", `"magic"`},
				{8, "first_name", "required"},
				{10, "last_name", "differs from row 9"},
			} {
				if !hasError(rep, want.row, want.col, want.reason) {
					t.Errorf("%s: no error for row %d column %s (%q); got %v", mode, want.row, want.col, want.reason, rep.Errors)
				}
			}
			// Sensitive values are never quoted back.
			for _, e := range rep.Errors {
				if strings.Contains(e.Reason, "1234567890") || strings.Contains(e.Reason, "AB123456") {
					t.Errorf("report quotes a sensitive value: %v", e)
				}
			}
			if rep.InvalidRows != 7 || rep.Providers != 1 || rep.SkippedProviders != 7 {
				t.Errorf("%s counts: %+v", mode, rep)
			}
		}
		sameFingerprint(t, before, fingerprint(t, db))
		if got := countEvents(t, db, ctx, "roster.checked"); got != 1 {
			t.Errorf("roster.checked: %d", got)
		}

		// Skip-invalid writes the one valid provider.
		rep, err := roster.Import(ctx, db, fromString(bad), opts(roster.SkipInvalid))
		if err != nil {
			t.Fatal(err)
		}
		if rep.ProvidersWritten != 1 || rep.CredentialsWritten != 1 || rep.InvalidRows != 7 {
			t.Errorf("skip-invalid: %+v", rep)
		}
		_, n, _ := db.FindProviders(ctx, credtrack.ProviderFilter{})
		if n != 1 {
			t.Errorf("providers after skip-invalid: %d", n)
		}
	})
}

func TestMalformedFiles(t *testing.T) {
	header := "provider_ref,first_name,last_name,npi\n"
	cases := []struct {
		name, src string
		row       int
		col       string
		reason    string
		fatal     bool
	}{
		{"empty", "", 1, "", "empty", true},
		{"unknown column", "provider_ref,first_name,last_name,shoe_size\nA,a,b,9\n", 1, "shoe_size", "unknown column", true},
		{"missing required", "provider_ref,first_name,npi\nA,a,1234567893\n", 1, "last_name", "missing", true},
		{"duplicate column", "first_name,last_name,last_name\na,b,c\n", 1, "last_name", "twice", true},
		{"not csv", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "", "", true},
		{"wrong column count", header + "A,a,b\nB,c,d,1234567893,extra\n", 2, "", "3 columns; the header has 4", false},
		{"invalid utf-8", header + "A,J\xffo,b,\n", 2, "first_name", "UTF-8", false},
		{"bare quote", header + "A,J\"o,b,\n", 2, "", "quote", false},
		{"unclosed quote", header + "A,\"Jo,b,\nB,c,d,\n", 2, "", "quote", false},
		{"quoted newline is fine but bad npi", header + "A,\"Jo\nAnn\",b,1234567890\n", 2, "npi", "check digit", false},
		{"no line breaks", header + strings.Repeat("x", roster.MaxRecordBytes+10), 2, "", "longer than", true},
		{"never-closed quote", header + "A,\"" + strings.Repeat("line\n", roster.MaxRecordBytes/4), 2, "", "longer than", true},
	}
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Malformed Org")
		before := fingerprint(t, db)
		for _, c := range cases {
			for _, mode := range []roster.Mode{roster.DryRun, roster.AllOrNothing} {
				rep, err := roster.Import(ctx, db, fromString(c.src), opts(mode))
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if rep.OK() || rep.ProvidersWritten != 0 {
					t.Errorf("%s/%s: accepted: %+v", c.name, mode, rep)
				}
				if c.fatal != (rep.Fatal != "") {
					t.Errorf("%s/%s: fatal %q", c.name, mode, rep.Fatal)
				}
				if !hasError(rep, c.row, c.col, c.reason) {
					t.Errorf("%s/%s: want row %d col %q %q; got %v", c.name, mode, c.row, c.col, c.reason, rep.Errors)
				}
			}
		}
		sameFingerprint(t, before, fingerprint(t, db))
	})
}

// badRows generates n rows with bad NPI check digits.
func badRows(n int) string {
	var b strings.Builder
	b.WriteString("first_name,last_name,npi\n")
	for i := range n {
		fmt.Fprintf(&b, "F%d,L%d,1234567890\n", i, i)
	}
	return b.String()
}

func TestTenThousandBadRows(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Ten Thousand")
		before := fingerprint(t, db)
		for _, mode := range []roster.Mode{roster.DryRun, roster.AllOrNothing, roster.SkipInvalid} {
			rep, err := roster.Import(ctx, db, fromString(badRows(10000)), opts(mode))
			if err != nil {
				t.Fatal(err)
			}
			if rep.InvalidRows != 10000 || len(rep.Errors) != 1000 || rep.MoreErrors != 9000 || rep.ProvidersWritten != 0 {
				t.Errorf("%s: rows %d invalid %d listed %d more %d", mode, rep.Rows, rep.InvalidRows, len(rep.Errors), rep.MoreErrors)
			}
			if rep.Errors[999].Row != 1001 || rep.Errors[999].Column != "npi" {
				t.Errorf("%s: last listed error %v", mode, rep.Errors[999])
			}
		}
		sameFingerprint(t, before, fingerprint(t, db))
	})
}

// gigabyte produces about size bytes of roster rows, generated on the fly,
// every one with a bad NPI check digit.
type gigabyte struct {
	left int64
	buf  []byte
	off  int
}

func newGigabyte(size int64) *gigabyte {
	// Rows carry a 400-character note, as rosters exported from HR
	// systems often do, so that the gigabyte is about 2.3 million rows.
	note := strings.Repeat("Night shift, float pool; ", 16)
	row := []byte(",Firstname,Lastname,RN,CA,1234567890,state_license,CA,RN1234567,2020-01-01,2027-01-01,\"" + note + "\"\n")
	buf := []byte("provider_ref,first_name,last_name,profession,state,npi,credential_type,jurisdiction,number,issued_on,expires_on,notes\n")
	return &gigabyte{left: size, buf: append(buf, bytes.Repeat(row, 16384/len(row))...)}
}

func (g *gigabyte) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if g.off == len(g.buf) {
		g.off = bytes.IndexByte(g.buf, '\n') + 1 // repeat the rows, not the header
	}
	n := copy(p, g.buf[g.off:])
	if int64(n) > g.left {
		n = int(g.left)
	}
	g.off += n
	g.left -= int64(n)
	return n, nil
}

func TestGigabyteFileStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1 GB")
	}
	const size = 1 << 30
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Gigabyte")
		before := fingerprint(t, db)
		var peak uint64
		var ms runtime.MemStats
		o := opts(roster.AllOrNothing)
		samples := 0
		o.Progress = func(p roster.Progress) {
			samples++
			if samples%200 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		rep, err := roster.Import(ctx, db, fromReader(func() io.Reader { return newGigabyte(size) }), o)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Bytes < size-1 || rep.ProvidersWritten != 0 || rep.OK() {
			t.Fatalf("bytes %d written %d", rep.Bytes, rep.ProvidersWritten)
		}
		if rep.InvalidRows < 2_000_000 || len(rep.Errors) != 1000 || rep.MoreErrors < rep.InvalidRows-1000 {
			t.Errorf("invalid %d listed %d more %d", rep.InvalidRows, len(rep.Errors), rep.MoreErrors)
		}
		t.Logf("1 GiB: %d rows, peak heap in use %d MiB over %d samples", rep.Rows, peak>>20, samples/200)
		if peak > 64<<20 {
			t.Errorf("heap in use reached %d MiB while streaming 1 GiB", peak>>20)
		}
		sameFingerprint(t, before, fingerprint(t, db))
	})
}

func TestSkipInvalidKeepsProvidersWhole(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctx, _ := storetest.NewOrg(t, db, "Whole")
		src := synthetic(10)
		// Break provider P4's DEA row (its second row).
		src = strings.Replace(src, roster.SyntheticDEA(4), "AB1234560", 1)
		rep, err := roster.Import(ctx, db, fromString(src), opts(roster.SkipInvalid))
		if err != nil {
			t.Fatal(err)
		}
		if rep.ProvidersWritten != 9 || rep.CredentialsWritten != 18 || rep.SkippedProviders != 1 {
			t.Errorf("report %+v", rep)
		}
		if !hasError(rep, 11, "number", "DEA") {
			t.Errorf("errors %v", rep.Errors)
		}
		_, n, _ := db.FindProviders(ctx, credtrack.ProviderFilter{NPI: roster.SyntheticNPI(4)})
		if n != 0 {
			t.Error("the provider with an invalid row was imported")
		}
	})
}

// TestDocExample keeps the example of docs/roster.md valid.
func TestDocExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/roster.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "```csv\n")
	example, _, _ := strings.Cut(rest, "```")
	rep, err := roster.Check(context.Background(), strings.NewReader(example), opts(roster.DryRun))
	if err != nil || !rep.OK() || rep.Providers != 2 || rep.Credentials != 3 {
		t.Fatalf("the example of docs/roster.md: %+v %v", rep, err)
	}
}
