package screening

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"credtrack"
)

const psvDir = "../../../../shared/data/psv"

func sample(t testing.TB, name string) []byte {
	t.Helper()
	for _, dir := range []string{psvDir, "/work/shared/data/psv"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return b
		}
	}
	t.Fatalf("sample %s not found", name)
	return nil
}

func TestParseLEIESamples(t *testing.T) {
	p, err := ParseLEIE(bytes.NewReader(sample(t, "leie/1701EXCL.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if p.Rows != 147 || len(p.Entries) != 147 {
		t.Fatalf("rows %d entries %d, want 147", p.Rows, len(p.Entries))
	}
	var withNPI, firms int
	for _, e := range p.Entries {
		if e.NPI == "0000000000" {
			t.Fatal("the no-NPI sentinel was kept as an NPI")
		}
		if e.NPI != "" {
			withNPI++
		}
		if !e.Individual {
			firms++
		}
		if e.ExclType != strings.TrimSpace(e.ExclType) {
			t.Fatal("EXCLTYPE padding kept")
		}
	}
	if withNPI == 0 || withNPI == len(p.Entries) || firms == 0 {
		t.Fatalf("with NPI %d, firms %d", withNPI, firms)
	}
	r, err := ParseLEIE(bytes.NewReader(sample(t, "leie/1701REIN.csv")))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Entries {
		if e.ReinDate.IsZero() {
			t.Fatalf("REIN entry %s without REINDATE", e.LastName)
		}
	}
	old, err := ParseLEIE(bytes.NewReader(sample(t, "leie/rein1511.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if d := old.Entries[0].DOB.String(); d != "1954-12-27" {
		t.Fatalf("MM/DD/YY DOB parsed as %s", d)
	}
}

func TestParseSAMSamples(t *testing.T) {
	v2, err := ParseSAM(bytes.NewReader(sample(t, "sam/sam_exclusions_public_extract_v2_rows.extract.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Layout != "sam-v2" || len(v2.Entries) != 16 {
		t.Fatalf("v2: %s %d", v2.Layout, len(v2.Entries))
	}
	v1, err := ParseSAM(bytes.NewReader(sample(t, "sam/sam_exclusions_public_extract_v1_rows.extract.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if v1.Layout != "sam-v1" || len(v1.Entries) != 4 {
		t.Fatalf("v1: %s %d", v1.Layout, len(v1.Entries))
	}
	var ind int
	for _, e := range v2.Entries {
		if e.Individual {
			ind++
			if e.LastName == "" {
				t.Fatal("individual without last name")
			}
		}
	}
	if ind == 0 {
		t.Fatal("no individuals")
	}
	// The two FINK rows are one SAM number under two agencies: two entries.
	if v1.Entries[0].Key == v1.Entries[1].Key {
		t.Fatal("SAM key ignores the agency")
	}
}

// endless yields n bytes of plausible CSV rows without holding them.
type endless struct {
	n    int64
	head []byte
	row  []byte
	pos  int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.pos >= e.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && e.pos < e.n {
		var src []byte
		off := e.pos
		if off < int64(len(e.head)) {
			src = e.head[off:]
		} else {
			src = e.row[(off-int64(len(e.head)))%int64(len(e.row)):]
		}
		c := copy(p[k:], src)
		if int64(c) > e.n-e.pos {
			c = int(e.n - e.pos)
		}
		k += c
		e.pos += int64(c)
	}
	return k, nil
}

func TestMalformedFilesRefused(t *testing.T) {
	excl := sample(t, "leie/1701EXCL.csv")
	lines := strings.SplitAfter(string(excl), "\n")
	hdr := lines[0]
	cases := map[string]struct {
		src  credtrack.ListSource
		data io.Reader
		want string
	}{
		"wrong header":       {credtrack.ListLEIE, strings.NewReader(strings.Replace(string(excl), "MIDNAME", "MIDDLE", 1)), "header column 3"},
		"SAM given as LEIE":  {credtrack.ListLEIE, bytes.NewReader(sample(t, "sam/sam_exclusions_public_extract_v2_rows.extract.csv")), "not a LEIE file"},
		"LEIE given as SAM":  {credtrack.ListSAM, bytes.NewReader(excl), "not a SAM"},
		"truncated row":      {credtrack.ListLEIE, strings.NewReader(hdr + lines[1] + lines[2][:40] + "\n"), "truncated"},
		"cut inside a quote": {credtrack.ListLEIE, strings.NewReader(hdr + lines[1] + lines[2][:33]), "line 3"},
		"latin-1":            {credtrack.ListLEIE, strings.NewReader(hdr + strings.Replace(lines[1], "PARKLAND", "PARK\xe9LAND", 1)), "not UTF-8"},
		"utf-16":             {credtrack.ListLEIE, bytes.NewReader(append([]byte{0xFF, 0xFE}, []byte("L\x00A\x00")...)), "UTF-16"},
		"zip":                {credtrack.ListSAM, strings.NewReader("PK\x03\x04rest"), "ZIP"},
		"empty":              {credtrack.ListLEIE, strings.NewReader(""), "empty"},
		"header only":        {credtrack.ListLEIE, strings.NewReader(hdr), "no rows"},
		"bad date":           {credtrack.ListLEIE, strings.NewReader(hdr + strings.Replace(lines[1], "20161216", "2016-12-16", 1)), "EXCLDATE"},
		"2 GB":               {credtrack.ListLEIE, &endless{n: 2 << 30, head: []byte(hdr), row: []byte(lines[1])}, "larger than 64 MB"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(c.src, c.data)
			if err == nil {
				t.Fatal("accepted")
			}
			if credtrack.ErrorCode(err) != credtrack.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want EINVALID containing %q", err, c.want)
			}
			t.Log(err)
		})
	}
}

func TestApplySupplements(t *testing.T) {
	rein, err := ParseLEIE(bytes.NewReader(sample(t, "leie/1701REIN.csv")))
	if err != nil {
		t.Fatal(err)
	}
	// The exclusions the REIN file ends, as they stood in the list before.
	var base []*credtrack.ListEntry
	for _, e := range rein.Entries {
		c := *e
		c.ReinDate = credtrack.Date{}
		base = append(base, &c)
	}
	excl, err := ParseLEIE(bytes.NewReader(sample(t, "leie/1701EXCL.csv")))
	if err != nil {
		t.Fatal(err)
	}
	all, added, _ := Apply(credtrack.ListExclusions, base, excl.Entries)
	if added != 147 || len(all) != len(base)+147 {
		t.Fatalf("added %d, len %d", added, len(all))
	}
	after, _, removed := Apply(credtrack.ListReinstatements, all, rein.Entries)
	if removed != len(rein.Entries) || len(after) != 147 {
		t.Fatalf("removed %d of %d, left %d", removed, len(rein.Entries), len(after))
	}
}

func TestGuessKind(t *testing.T) {
	for name, want := range map[string]credtrack.ListImportKind{
		"UPDATED.csv": credtrack.ListFull, "1701EXCL.csv": credtrack.ListExclusions, "/x/2605excl.csv": credtrack.ListExclusions,
		"1701REIN.csv": credtrack.ListReinstatements, "rein1511.csv": credtrack.ListReinstatements, "sanc1511.csv": credtrack.ListExclusions,
		"https://oig.hhs.gov/exclusions/downloadables/UPDATED.csv": credtrack.ListFull,
	} {
		if got, ok := GuessKind(credtrack.ListLEIE, name); !ok || got != want {
			t.Errorf("%s: %s %v", name, got, ok)
		}
	}
	if _, ok := GuessKind(credtrack.ListLEIE, "list.csv"); ok {
		t.Error("guessed a kind for list.csv")
	}
}
