package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListsImportCommand runs `credtrack lists import` on the real LEIE
// supplement, from a file and from a URL, and on a malformed file.
func TestListsImportCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(dir, "data")}
	if code, _, errs := run(t, env, "", "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, errs)
	}
	excl, err := os.ReadFile("/work/shared/data/psv/leie/1701EXCL.csv")
	if err != nil {
		excl, err = os.ReadFile("../../../../shared/data/psv/leie/1701EXCL.csv")
	}
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "1701EXCL.csv")
	if err := os.WriteFile(file, excl, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, env, "", "lists", "import", "leie", file)
	if code != 0 || !strings.Contains(out, "exclusions list version") || !strings.Contains(out, "147 entries in force") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	// A broken file: refused, the version in force unchanged.
	bad := filepath.Join(dir, "UPDATED.csv")
	if err := os.WriteFile(bad, excl[:len(excl)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = run(t, env, "", "lists", "import", "leie", bad)
	if code != 1 || !strings.Contains(errs, "list in force is unchanged") {
		t.Fatalf("bad import: %d %q", code, errs)
	}
	// From a URL; the query string (an API key) is not recorded.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "/work/shared/data/psv/sam/sam_exclusions_public_extract_v2_rows.extract.csv")
	}))
	defer srv.Close()
	code, out, errs = run(t, env, "", "lists", "import", "sam", srv.URL+"/SAM_Exclusions_Public_Extract_V2_22096.CSV?api_key=SECRET")
	if code != 0 || !strings.Contains(out, "SAM full") {
		t.Fatalf("URL import: %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, env, "", "lists", "versions")
	if code != 0 || strings.Count(out, "yes") != 2 || strings.Contains(out, "SECRET") {
		t.Fatalf("versions: %d\n%s", code, out)
	}
	if code, _, _ := run(t, env, "", "lists", "import", "nppes", file); code != 2 {
		t.Fatalf("unknown list: %d", code)
	}
}

// zeros streams n bytes: a header and a row, then NUL bytes, without
// holding or storing them.
type zeros struct {
	head []byte
	n, i int64
}

func (z *zeros) Read(p []byte) (int, error) {
	if z.i >= z.n {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n-z.i {
		p = p[:z.n-z.i]
	}
	for k := range p {
		if z.i+int64(k) < int64(len(z.head)) {
			p[k] = z.head[z.i+int64(k)]
		} else {
			p[k] = 0
		}
	}
	z.i += int64(len(p))
	return len(p), nil
}

// TestListsImportRefusesMalformedFiles runs `credtrack lists import` on
// malformed files of both lists, each refused with a clear message while
// the version in force stays: a wrong header, truncated rows, Latin-1 and
// UTF-16 text, a 2 GB file (sparse on disk: nothing stored) and a 2 GB
// download streamed without a length.
func TestListsImportRefusesMalformedFiles(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(dir, "data")}
	if code, _, errs := run(t, env, "", "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, errs)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile("/work/shared/data/psv/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	excl, sam := read("leie/1701EXCL.csv"), read("sam/sam_exclusions_public_extract_v2_rows.extract.csv")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if code, _, errs := run(t, env, "", "lists", "import", "leie", write("1701EXCL.csv", excl)); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	if code, _, errs := run(t, env, "", "lists", "import", "sam", write("SAM_V2.csv", sam)); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	_, before, _ := run(t, env, "", "lists", "versions")

	sparse := func(name string, head []byte) string {
		p := write(name, head)
		if err := os.Truncate(p, 2<<30); err != nil { // a hole: no disk used
			t.Fatal(err)
		}
		return p
	}
	lines := strings.SplitAfter(string(excl), "\n")
	samLines := strings.SplitAfter(string(sam), "\n")
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		io.Copy(w, &zeros{head: []byte(lines[0] + lines[1]), n: 2 << 30}) // chunked: no length announced
	}))
	defer big.Close()
	for _, c := range []struct {
		name, list, src, want string
	}{
		{"wrong header", "leie", write("h-1701EXCL.csv", []byte(strings.Replace(string(excl), "MIDNAME", "MIDDLE", 1))), `header column 3 is "MIDDLE"`},
		{"SAM wrong header", "sam", write("h-SAM.csv", []byte(strings.Replace(string(sam), "Classification", "Klass", 1))), "header column"},
		{"truncated rows", "leie", write("t-1701EXCL.csv", []byte(lines[0]+lines[1]+lines[2][:40]+"\n")), "truncated"},
		{"SAM truncated", "sam", write("t-SAM.csv", []byte(samLines[0]+samLines[1][:60]+"\n")), "truncated"},
		{"latin-1", "leie", write("l-1701EXCL.csv", []byte(lines[0]+strings.Replace(lines[1], "PARKLAND", "PARK\xe9LAND", 1))), "not UTF-8"},
		{"utf-16", "sam", write("u-SAM.csv", append([]byte{0xFF, 0xFE}, []byte("C\x00l\x00")...)), "UTF-16"},
		{"2 GB LEIE file", "leie", sparse("big-1701EXCL.csv", []byte(lines[0]+lines[1])), "larger than 64 MB"},
		{"2 GB SAM file", "sam", sparse("big-SAM.csv", []byte(samLines[0]+samLines[1])), "larger than 512 MB"},
		{"2 GB download", "leie", big.URL + "/2605EXCL.csv", "larger than 64 MB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := run(t, env, "", "lists", "import", c.list, c.src)
			if code != 1 || !strings.Contains(errs, "list in force is unchanged") || !strings.Contains(errs, c.want) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want a refusal naming %q", code, out, errs, c.want)
			}
		})
	}
	if _, after, _ := run(t, env, "", "lists", "versions"); after != before {
		t.Fatalf("versions changed:\n%s\nthen\n%s", before, after)
	}
}
