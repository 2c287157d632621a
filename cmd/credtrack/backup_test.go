package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/demo"
	"credtrack/internal/docs"
	"credtrack/internal/storetest"
)

// fakeS3 starts a gofakes3 server and returns its host:port.
func fakeS3(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// s3Env returns the environment of one bucket on a fake S3 server.
func s3Env(prefix, endpoint, bucket string) map[string]string {
	p := "CREDTRACK_" + prefix + "_"
	return map[string]string{p + "ENDPOINT": endpoint, p + "BUCKET": bucket, p + "REGION": "us-east-1",
		p + "ACCESS_KEY": "test", p + "SECRET_KEY": "test-secret", p + "INSECURE": "true", p + "PREFIX": "ct/"}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// openTestApp opens the installation env describes, in-process, migrated.
func openTestApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	cfg := config.Default()
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
	if err := cfg.Load(m.newFlagSet("test", "test"), nil, m.Getenv); err != nil {
		t.Fatal(err)
	}
	a, err := m.openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.migrateOrCheck(context.Background(), true); err != nil {
		a.Close()
		t.Fatal(err)
	}
	return a
}

// drillDoc is one uploaded document and what it must decrypt to.
type drillDoc struct {
	id, org string
	body    []byte
}

// seedDrill fills an installation with the demo data and a few documents.
func seedDrill(t *testing.T, env map[string]string) []drillDoc {
	t.Helper()
	ctx := context.Background()
	a := openTestApp(t, env)
	defer a.Close()
	res, err := demo.Seed(ctx, a.db, credtrack.DateOf(time.Now()), a.hasher.Hash)
	if err != nil {
		t.Fatal(err)
	}
	blobs, _, err := openBlobs(ctx, a.cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc := &docs.Service{Store: a.db, Blobs: blobs}
	octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", res.OrgID))
	ps, _, err := a.db.FindProviders(octx, credtrack.ProviderFilter{Limit: 3})
	if err != nil || len(ps) == 0 {
		t.Fatalf("providers: %v %d", err, len(ps))
	}
	var out []drillDoc
	for i, p := range ps {
		body := []byte(fmt.Sprintf("%%PDF-1.7\n%% drill document %d\n%s\n%%%%EOF\n", i, strings.Repeat("license scan ", 9000*(i+1))))
		d, err := svc.Upload(octx, docs.Upload{ProviderID: p.ID, Filename: fmt.Sprintf("license-%d.pdf", i), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, drillDoc{id: d.ID, org: res.OrgID, body: body})
	}
	return out
}

// drillState is what must survive a backup and restore: every table's
// rows (schema_migrations aside, whose applied_at is the restore's; the
// audit tables aside, which the restore adds its backup.restored event
// to: checkBackupEvents compares those).
func drillState(t *testing.T, a *app) map[string]string {
	t.Helper()
	fp, err := a.db.FingerprintForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	delete(fp, "schema_migrations")
	delete(fp, "audit_events")
	delete(fp, "audit_heads")
	return fp
}

// auditIDs lists the IDs of every audit event of the installation.
func auditIDs(t *testing.T, a *app) []string {
	t.Helper()
	evs, err := a.db.AuditEventsForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

// backupEvents returns the installation's events with the given action.
func backupEvents(t *testing.T, env map[string]string, action string) []*credtrack.AuditEvent {
	t.Helper()
	a := openTestApp(t, env)
	defer a.Close()
	evs, err := a.db.AuditEventsForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*credtrack.AuditEvent
	for _, ev := range evs {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// checkBackupEvent checks that ev records a backup or restore of name by
// the system actor actor, on the instance's chain.
func checkBackupEvent(t *testing.T, ev *credtrack.AuditEvent, action, actor, name string) {
	t.Helper()
	if ev.OrgID != "" || ev.ActorKind != credtrack.ActorSystem || ev.ActorID != actor || ev.Action != action ||
		ev.TargetType != "backup" || ev.TargetID != name || ev.Outcome != credtrack.OutcomeSuccess || ev.Details["schema_version"] == "" {
		t.Fatalf("%s event = %+v, want one by %s of backup %s outside any organization", action, ev, actor, name)
	}
	if action == "backup.created" {
		if n, err := strconv.ParseInt(ev.Details["size_bytes"], 10, 64); err != nil || n <= 0 {
			t.Fatalf("backup.created size_bytes = %q", ev.Details["size_bytes"])
		}
	}
}

// checkRestoredAudit checks that the restored installation has exactly
// the events the backup held (before), then its own backup.restored.
func checkRestoredAudit(t *testing.T, env map[string]string, before []string, name string) {
	t.Helper()
	a := openTestApp(t, env)
	after := auditIDs(t, a)
	a.Close()
	restored := backupEvents(t, env, "backup.restored")
	if len(restored) != 1 {
		t.Fatalf("backup.restored events after the restore: %d", len(restored))
	}
	checkBackupEvent(t, restored[0], "backup.restored", "cli", name)
	want := append(slices.Clone(before), restored[0].ID)
	slices.Sort(want)
	slices.Sort(after)
	if !slices.Equal(after, want) {
		t.Fatalf("audit events after the restore: %d, want the backup's %d and backup.restored", len(after), len(before))
	}
	if len(backupEvents(t, env, "backup.created")) != 0 {
		t.Fatal("the restored data holds a backup.created event: the backup held its own event")
	}
}

// checkDocuments decrypts every document and compares it with what was
// uploaded and with its recorded fingerprint.
func checkDocuments(t *testing.T, a *app, want []drillDoc) {
	t.Helper()
	ctx := context.Background()
	blobs, _, err := openBlobs(ctx, a.cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc := &docs.Service{Store: a.db, Blobs: blobs}
	for _, w := range want {
		octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", w.org))
		d, r, err := svc.Open(octx, w.id)
		if err != nil {
			t.Fatalf("open document %s after restore: %v", w.id, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read document %s after restore: %v", w.id, err)
		}
		sum := sha256.Sum256(got)
		if !bytes.Equal(got, w.body) || !bytes.Equal(sum[:], d.SHA256) {
			t.Fatalf("document %s differs after restore", w.id)
		}
	}
}

// TestBackupRestoreDrill is the restore drill of docs/operations.md on
// both backends: demo data and documents → backup → wipe → restore →
// the same rows, documents that decrypt to their fingerprints, intact
// audit chains; and backups that were altered, truncated or made with
// another master key are refused before anything is written.
func TestBackupRestoreDrill(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		key := strings.Repeat("5a", 32)
		env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(root, "data"), "CREDTRACK_MASTER_KEY": key,
			"CREDTRACK_BACKUP_DIR": filepath.Join(root, "backups")}
		want := seedDrill(t, env)
		a := openTestApp(t, env)
		before, beforeAudit := drillState(t, a), auditIDs(t, a)
		a.Close()

		code, out, errOut := run(t, env, "", "backup")
		if code != 0 || !strings.Contains(out, "sqlite database") || !strings.Contains(out, "3 document blobs (included)") {
			t.Fatalf("backup: %d %s %s", code, out, errOut)
		}
		names, _ := filepath.Glob(filepath.Join(root, "backups", "credtrack-*.ctbk"))
		if len(names) != 1 {
			t.Fatalf("backups: %v", names)
		}
		created := backupEvents(t, env, "backup.created")
		if len(created) != 1 {
			t.Fatalf("backup.created events: %d", len(created))
		}
		checkBackupEvent(t, created[0], "backup.created", "cli", filepath.Base(names[0]))
		raw, err := os.ReadFile(names[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, marker := range []string{"drill document", "license scan", "SQLite format 3", "Margaret Ellison", "demo.credtrack"} {
			if bytes.Contains(raw, []byte(marker)) {
				t.Fatalf("the backup holds plaintext %q", marker)
			}
		}

		// Restoring over the live installation is refused.
		if code, _, errOut := run(t, env, "", "restore", "--latest"); code != 1 || !strings.Contains(errOut, "not empty") {
			t.Fatalf("restore over live data: %d %s", code, errOut)
		}

		// Wipe: the whole data directory goes; the key is the operator's.
		if err := os.RemoveAll(filepath.Join(root, "data")); err != nil {
			t.Fatal(err)
		}
		refused(t, env, names[0], raw)

		code, out, errOut = run(t, env, "", "restore", "--latest")
		if code != 0 || !strings.Contains(out, "signature and integrity verified") || !strings.Contains(out, "restore complete") {
			t.Fatalf("restore: %d %s %s", code, out, errOut)
		}
		if code, out, errOut := run(t, env, "", "audit", "verify"); code != 0 || strings.Contains(out, "BROKEN") {
			t.Fatalf("audit verify after restore: %d %s %s", code, out, errOut)
		}
		checkRestoredAudit(t, env, beforeAudit, filepath.Base(names[0]))
		a = openTestApp(t, env)
		defer a.Close()
		if after := drillState(t, a); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("rows differ after restore:\nbefore %v\nafter  %v", before, after)
		}
		checkDocuments(t, a, want)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		key := strings.Repeat("6b", 32)
		s3 := fakeS3(t)
		env := merge(map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(root, "data"), "CREDTRACK_MASTER_KEY": key,
			"CREDTRACK_DATABASE_URL": storetest.PostgresDatabase(t)}, s3Env("BLOB_S3", s3, "documents"), s3Env("BACKUP_S3", s3, "backups"))
		want := seedDrill(t, env)
		a := openTestApp(t, env)
		before, beforeAudit := drillState(t, a), auditIDs(t, a)
		a.Close()

		code, out, errOut := run(t, env, "", "backup")
		if code != 0 || !strings.Contains(out, "postgres database") || !strings.Contains(out, "3 document blobs (listed") {
			t.Fatalf("backup: %d %s %s", code, out, errOut)
		}
		created := backupEvents(t, env, "backup.created")
		if len(created) != 1 || !strings.Contains(out, "backup "+created[0].TargetID+" written") {
			t.Fatalf("backup.created events: %d, output %s", len(created), out)
		}
		checkBackupEvent(t, created[0], "backup.created", "cli", created[0].TargetID)
		latest := created[0].TargetID
		file := filepath.Join(root, "one.ctbk")
		if code, _, errOut := run(t, env, "", "backup", "--out", file); code != 0 {
			t.Fatalf("backup --out: %d %s", code, errOut)
		}
		if created := backupEvents(t, env, "backup.created"); len(created) != 2 {
			t.Fatalf("backup.created events after backup --out: %d", len(created))
		} else {
			checkBackupEvent(t, created[1], "backup.created", "cli", file)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := run(t, env, "", "restore", "--latest"); code != 1 || !strings.Contains(errOut, "not empty") {
			t.Fatalf("restore over live data: %d %s", code, errOut)
		}

		// Wipe: a new, empty database (the old one is as good as lost) and
		// a new data directory; the documents stay in the S3 bucket.
		env["CREDTRACK_DATABASE_URL"] = storetest.PostgresDatabase(t)
		env["CREDTRACK_DATA_DIR"] = filepath.Join(root, "data2")
		refused(t, env, file, raw)

		code, out, errOut = run(t, env, "", "restore", "--latest")
		if code != 0 || !strings.Contains(out, "restore complete") {
			t.Fatalf("restore: %d %s %s", code, out, errOut)
		}
		if code, out, errOut := run(t, env, "", "audit", "verify"); code != 0 || strings.Contains(out, "BROKEN") {
			t.Fatalf("audit verify after restore: %d %s %s", code, out, errOut)
		}
		checkRestoredAudit(t, env, beforeAudit, latest)
		a = openTestApp(t, env)
		if after := drillState(t, a); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("rows differ after restore:\nbefore %v\nafter  %v", before, after)
		}
		checkDocuments(t, a, want)
		a.Close()

		// The --out file restores as well, into yet another empty database.
		env["CREDTRACK_DATABASE_URL"] = storetest.PostgresDatabase(t)
		if code, out, errOut := run(t, env, "", "restore", "--file", file); code != 0 || !strings.Contains(out, "restore complete") {
			t.Fatalf("restore --file: %d %s %s", code, out, errOut)
		}
	})
}

// refused checks that altered, truncated and foreign backups are refused
// and leave the (empty) target untouched.
func refused(t *testing.T, env map[string]string, path string, raw []byte) {
	t.Helper()
	dir := t.TempDir()
	cases := map[string][]byte{}
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 0x01
	cases["altered"] = flipped
	cases["truncated"] = raw[:len(raw)-4096]
	sig := bytes.Clone(raw)
	sig[len(sig)-1] ^= 0x80
	cases["bad signature"] = sig
	for name, b := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".ctbk")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := run(t, env, "", "restore", "--file", p)
		if code != 1 || !strings.Contains(errOut, "signature does not verify") {
			t.Fatalf("%s backup: %d %s", name, code, errOut)
		}
	}
	// The same file under another master key: not this installation's.
	other := merge(env, map[string]string{"CREDTRACK_MASTER_KEY": strings.Repeat("77", 32)})
	if code, _, errOut := run(t, other, "", "restore", "--file", path); code != 1 || !strings.Contains(errOut, "signature does not verify") {
		t.Fatalf("backup under another key: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(env["CREDTRACK_DATA_DIR"], "credtrack.db")); err == nil {
		t.Fatal("a refused restore wrote the database")
	}
}
