package main

import (
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
