package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"credtrack"
	"credtrack/internal/config"
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
	p.WriteString(strings.Join(mfa, ", ") + "; provider and auditor members may enrol, and an organization setting can require it of everyone\n(see sessions.md).\n")

	var e strings.Builder
	e.WriteString("# Error codes\n\nGenerated from `httperr.Table()`. Every JSON error is\n`{\"error\":{\"code\":\"…\",\"message\":\"…\"}}`; the message is safe to show to people, and internal\nerrors always read \"Internal error.\" (the detail goes to the log with the request ID).\n\n| code | HTTP status |\n|---|---|\n")
	for _, row := range httperr.Table() {
		fmt.Fprintf(&e, "| `%s` | %d |\n", row.Code, row.Status)
	}
	var a strings.Builder
	a.WriteString("# Audit log\n\nGenerated from `credtrack.AuditActions` (audit_actions.go); a test fails when the code records an\naction missing here, or this lists one the code never records.\n\n")
	a.WriteString(`Every event has: time (UTC, microseconds), organization, actor (user, API token, system job or
anonymous) with role, action, target type and ID, outcome (success, failure, denied), IP, user
agent, request ID, and details. Details never hold secrets or plaintext identifiers (NPI, DEA,
SSN, license numbers): record IDs, counts and masked values only.

Guarantees:
- **Append-only.** Triggers refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit_events;
  on PostgreSQL the application runs each transaction as the role credtrack_app, which holds only
  SELECT and INSERT on it.
- **Tamper-evident.** Each organization has a hash chain: an event's hash is HMAC-SHA256, under a
  key derived from the master key (so it is not in the database), of the previous hash and the
  event's canonical JSON. ` + "`credtrack audit verify [--org ORG]`" + ` recomputes every chain and names
  the first broken link. The chain head is locked while an event is appended, so concurrent
  writers, even several servers on one PostgreSQL, never fork it.
- **Durable before data leaves.** A write's event commits in the write's transaction. A read's
  event is committed before the data is returned; if it cannot be, the read fails with 503
  (unavailable). Concurrent reads share one transaction (group commit). On SQLite every commit
  is synced to disk by default (` + "`--sqlite-synchronous full`" + `), so this holds across power loss;
  ` + "`normal`" + ` trades that for speed and survives only a crash of credtrack itself. PostgreSQL
  syncs each commit with its default ` + "`synchronous_commit = on`" + `.
- **Complete by construction.** Every web and API route is wrapped where it is registered: a
  request that recorded no more specific event gets an ` + "`http.request`" + ` event. Health checks, metrics
  and static assets are the only exceptions, by name; a test walks every registered route.
- **Kept for the life of the account**; deleting an organization will not delete its log.

credtrack has no billing yet, so no billing action exists; one will be added with it.

| action | category | recorded when |
|---|---|---|
`)
	for _, act := range credtrack.AuditActions {
		fmt.Fprintf(&a, "| `%s` | %s | %s |\n", act.Name, act.Category, act.Description)
	}
	var c strings.Builder
	c.WriteString("# Configuration\n\nGenerated from `config.Config.Fields` (internal/config/config.go) and `config.Default`; a test fails\nwhen this file and the code differ. Every setting is a flag and a `CREDTRACK_*` environment variable\n(flags win). Secrets also take a `_FILE` variant (`--master-key-file`, `CREDTRACK_MASTER_KEY_FILE`, …)\nnaming a file that holds the value, and are never printed. All problems are reported at once at\nstart, before anything is opened or created. Each subcommand accepts the settings it uses\n(`credtrack COMMAND -h` lists them).\n\n")
	c.WriteString("| flag | environment | default | secret | meaning |\n|---|---|---|---|---|\n")
	def := config.Default()
	for _, f := range def.Fields() {
		v := f.Value()
		if v != "" {
			v = "`" + v + "`"
		}
		secret := ""
		if f.Secret {
			secret = "yes"
		}
		fmt.Fprintf(&c, "| `--%s` | `%s` | %s | %s | %s |\n", f.Flag, f.Env(), v, secret, strings.ReplaceAll(f.Usage, "|", "\\|"))
	}
	return map[string]string{"permissions.md": p.String(), "errors.md": e.String(), "audit.md": a.String(), "configuration.md": c.String()}
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

// actionInCode finds the action names the code records: Action: "…",
// actorEvent(ctx, "…"), auditedRead(ctx, "…"),
// s.audit(ctx, id, "…"), tx.userEvent(id, "…"), tx.audit("…"),
// auditRead(ctx, "…") and DeleteSession(…, "…").
var actionInCode = regexp.MustCompile(`(?:Action: "|(?:\.audit|auditRead|auditedRead|actorEvent|userEvent|eventInUserOrgs|DeleteSession)\([^"()]*")([a-z_]+(?:\.[a-z_]+)+)"`)

// TestAuditCatalogueMatchesCode keeps credtrack.AuditActions (and so
// docs/audit.md) true: every action recorded by non-test code is listed,
// and every listed action is recorded somewhere.
func TestAuditCatalogueMatchesCode(t *testing.T) {
	used := map[string]string{}
	err := filepath.WalkDir(filepath.Join("..", ".."), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range actionInCode.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, a := range credtrack.AuditActions {
		listed[a.Name] = true
		if used[a.Name] == "" {
			t.Errorf("audit action %q is catalogued but nothing records it", a.Name)
		}
	}
	for name, path := range used {
		if !listed[name] {
			t.Errorf("%s records audit action %q, which is missing from credtrack.AuditActions", path, name)
		}
	}
}
