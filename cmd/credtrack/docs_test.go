package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"credtrack"
	"credtrack/internal/httperr"
)

var update = flag.Bool("update", false, "rewrite the generated docs")

// generatedDocs are the documents made from code. A test fails when a
// file differs from what the code says; `go test ./cmd/credtrack -run
// TestGeneratedDocs -update` rewrites them.
func generatedDocs() map[string]string {
	var p strings.Builder
	p.WriteString("# Permissions\n\nGenerated from `credtrack.Permissions` (role.go) by `go test ./cmd/credtrack -run TestGeneratedDocs -update`;\na test fails when this file and the table differ. Every route names the permission it needs.\n\n")
	p.WriteString("| permission | what it allows |")
	for _, r := range credtrack.Roles {
		p.WriteString(" " + string(r) + " |")
	}
	p.WriteString("\n|---|---|" + strings.Repeat("---|", len(credtrack.Roles)) + "\n")
	for _, info := range credtrack.Permissions {
		fmt.Fprintf(&p, "| `%s` | %s |", info.Permission, info.Description)
		for _, r := range credtrack.Roles {
			mark := ""
			if r.Can(info.Permission) {
				mark = "✔"
			}
			p.WriteString(" " + mark + " |")
		}
		p.WriteString("\n")
	}
	p.WriteString("\nMFA is required before anything else for: ")
	var mfa []string
	for _, r := range credtrack.Roles {
		if r.MFARequired() {
			mfa = append(mfa, string(r))
		}
	}
	p.WriteString(strings.Join(mfa, ", ") + " (TOTP enrolment arrives with the identity work).\n")

	var e strings.Builder
	e.WriteString("# Error codes\n\nGenerated from `httperr.Table()`. Every JSON error is\n`{\"error\":{\"code\":\"…\",\"message\":\"…\"}}`; the message is safe to show to people, and internal\nerrors always read \"Internal error.\" (the detail goes to the log with the request ID).\n\n| code | HTTP status |\n|---|---|\n")
	for _, row := range httperr.Table() {
		fmt.Fprintf(&e, "| `%s` | %d |\n", row.Code, row.Status)
	}
	return map[string]string{"permissions.md": p.String(), "errors.md": e.String()}
}

func TestGeneratedDocs(t *testing.T) {
	for name, want := range generatedDocs() {
		path := filepath.Join("..", "..", "docs", name)
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("docs/%s is out of date with the code: run go test ./cmd/credtrack -run TestGeneratedDocs -update", name)
		}
	}
}
