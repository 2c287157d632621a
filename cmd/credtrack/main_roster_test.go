package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"credtrack/internal/roster"
)

func TestRosterCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(dir, "data"), "CREDTRACK_BASE_URL": "https://ct.example"}
	if code, _, errOut := run(t, env, "", "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	if code, _, errOut := run(t, env, "", "org", "create", "--name", "Roster Health"); code != 0 {
		t.Fatalf("org create: %s", errOut)
	}
	good := filepath.Join(dir, "good.csv")
	b, _ := io.ReadAll(roster.Synthetic(30))
	os.WriteFile(good, b, 0o600)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte(strings.Replace(string(b), roster.SyntheticNPI(5), "1234567890", 1)), 0o600)

	// Dry run and all-or-nothing of a bad file: exit 1, every problem listed, nothing written.
	for _, args := range [][]string{{"--dry-run"}, {}} {
		code, out, errOut := run(t, env, "", append(append([]string{"roster", "import"}, args...), "--org", "Roster Health", bad)...)
		if code != 1 || !strings.Contains(out, "row 12 (line 12), column npi: not a valid NPI") || !strings.Contains(errOut, "1 of 60 rows are invalid") {
			t.Fatalf("import %v of a bad file: %d\n%s\n%s", args, code, out, errOut)
		}
		if strings.Contains(out, "1234567890") {
			t.Fatal("the report quotes an NPI")
		}
	}
	code, out, errOut := run(t, env, "", "roster", "export", "--org", "Roster Health")
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("export after refused imports: %d %q %s", code, out, errOut)
	}
	// Skip-invalid writes the 29 good providers; then the good file in full.
	code, out, errOut = run(t, env, "", "roster", "import", "--skip-invalid", "--org", "Roster Health", bad)
	if code != 0 || !strings.Contains(out, "written: 29 providers, 58 credentials") {
		t.Fatalf("skip-invalid: %d %s %s", code, out, errOut)
	}
	code, out, errOut = run(t, env, "", "roster", "import", "--org", "Roster Health", good)
	if code != 0 || !strings.Contains(out, "written: 30 providers, 60 credentials") {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	code, out, errOut = run(t, env, "", "roster", "export", "--org", "Roster Health")
	if code != 0 || strings.Count(out, "\n") != 1+2*59 || !strings.Contains(out, roster.SyntheticDEA(7)) ||
		!strings.Contains(errOut, "exported 59 providers") {
		t.Fatalf("export: %d %d lines %s", code, strings.Count(out, "\n"), errOut)
	}
	if code, out, errOut := run(t, env, "", "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %s %s", out, errOut)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"roster", "import", "--org", "Roster Health"},
		{"roster", "import", "--dry-run", "--skip-invalid", "--org", "Roster Health", good},
		{"roster", "export", "--org", "Roster Health", "extra"},
		{"roster", "frobnicate"},
	} {
		if code, _, _ := run(t, env, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := run(t, env, "", "roster", "import", "--org", "Roster Health", filepath.Join(dir, "missing.csv")); code != 1 ||
		!strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: %d %s", code, errOut)
	}
}

func TestRenderBar(t *testing.T) {
	got := renderBar(roster.Progress{Phase: "importing", Bytes: 50e6, Rows: 1000, Written: 400}, 100e6)
	want := "importing [###############---------------]  50% 50.0/100.0 MB, 1000 rows, 400 providers written  "
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
