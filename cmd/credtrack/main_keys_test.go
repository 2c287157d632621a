package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/blob"
	"credtrack/internal/config"
	"credtrack/internal/demo"
	"credtrack/internal/docs"
	"credtrack/internal/storetest"
)

// TestKeysAtRestAndRotation, on both backends: the demo data and two
// uploaded documents leave no NPI, DEA, SSN, license or malpractice
// policy number and no date of birth in plain text in the database (SQLite read through its XTS VFS with the key;
// PostgreSQL read row by row through the driver, as a dump would) and no
// document bytes in the blob directory; then `credtrack keys rotate`
// re-encrypts everything while a server keeps answering with the same
// values, and `keys status` shows the old keys disabled.
func TestKeysAtRestAndRotation(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(dir, "data")}
			cfg := config.Default()
			cfg.DataDir = env["CREDTRACK_DATA_DIR"]
			if backend == "postgres" {
				cfg.DatabaseURL = storetest.PostgresDatabase(t)
				env["CREDTRACK_DATABASE_URL"] = cfg.DatabaseURL
			}
			ctx := context.Background()
			m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			a, err := m.openApp(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.migrateOrCheck(ctx, true); err != nil {
				t.Fatal(err)
			}
			today := credtrack.DateOf(credtrack.Now())
			res, err := demo.Seed(ctx, a.db, today, a.hasher.Hash)
			if err != nil {
				t.Fatal(err)
			}
			sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", res.OrgID))
			blobs, err := blob.NewLocal(cfg.BlobDir())
			if err != nil {
				t.Fatal(err)
			}
			svc := &docs.Service{Store: a.db, Blobs: blobs}
			list, _, err := a.db.FindProviders(sys, credtrack.ProviderFilter{Limit: 2, Profession: credtrack.ProfMD})
			if err != nil || len(list) < 2 || len(list[0].Credentials) == 0 {
				t.Fatalf("no providers with credentials: %v", err)
			}
			marker := "CONFIDENTIAL-SCAN-OF-A-LICENSE-CARD-"
			var docIDs []string
			var bodies [][]byte
			for i, p := range list {
				body := []byte("%PDF-1.7\n" + strings.Repeat(marker+p.ID+"\n", 200) + "%%EOF\n")
				d, err := svc.Upload(sys, docs.Upload{ProviderID: p.ID, Filename: "license.pdf", Body: bytes.NewReader(body)})
				if err != nil {
					t.Fatalf("upload %d: %v", i, err)
				}
				docIDs, bodies = append(docIDs, d.ID), append(bodies, body)
			}
			credentialID := list[0].Credentials[0].ID
			token, err := a.db.CreateAPIToken(sys, &credtrack.APIToken{Name: "keys test", Role: credtrack.RoleOwner})
			if err != nil {
				t.Fatal(err)
			}

			// The demo providers' identifiers, as generated: NPI, SSN, DEA,
			// license and malpractice policy numbers, and dates of birth
			// in the forms a plaintext date would take (ISO, as the store
			// writes dates, and the US month/day/year of rosters). A date
			// that is also a credential's issue or expiry date (or another
			// detail) is legitimately in plain text, so it is not a needle.
			demoProviders := demo.Providers(demo.ProviderCount, today)
			plainDates := map[string]bool{}
			for _, p := range demoProviders {
				for _, c := range p.Credentials {
					plainDates[c.IssuedOn.String()], plainDates[c.ExpiresOn.String()] = true, true
					for _, v := range c.Details {
						plainDates[v] = true
					}
				}
			}
			var needles []string
			dobs := 0
			for _, p := range demoProviders {
				needles = append(needles, p.NPI, p.SSN)
				if !p.DOB.IsZero() && !plainDates[p.DOB.String()] {
					needles = append(needles, p.DOB.String(), p.DOB.Format("01/02/2006"))
					dobs++
				}
				for _, c := range p.Credentials {
					switch c.Type {
					case credtrack.CredDEA, credtrack.CredStateLicense, credtrack.CredNPI, credtrack.CredMalpractice:
						needles = append(needles, c.Number)
					}
				}
			}
			var someExpiry credtrack.Date // a date that is in plain text, as a positive control
			for _, p := range demoProviders {
				for _, c := range p.Credentials {
					if someExpiry.IsZero() && !c.ExpiresOn.IsZero() {
						someExpiry = c.ExpiresOn
					}
				}
			}
			if dobs < 100 || someExpiry.IsZero() {
				t.Fatalf("only %d dates of birth to look for", dobs)
			}
			checkAtRest := func(when string) {
				t.Helper()
				var dump bytes.Buffer
				if err := a.db.DumpTablesForTest(ctx, &dump); err != nil {
					t.Fatal(err)
				}
				// Positive control: the dump does hold the providers' names.
				if !strings.Contains(dump.String(), strings.ToLower(list[0].LastName)) {
					t.Fatalf("%s: the dump lacks a provider's name; it does not read the tables", when)
				}
				// And dates in the ISO form the needles use.
				if !containsToken(dump.Bytes(), someExpiry.String()) {
					t.Fatalf("%s: the dump lacks a credential's expiry date as %s; dates are not written as the needles assume", when, someExpiry.String())
				}
				checked := 0
				for _, n := range needles {
					if len(n) < 6 {
						continue
					}
					checked++
					if containsToken(dump.Bytes(), n) {
						t.Fatalf("%s: an identifier of the demo data (…%s) is in the database in plain text", when, n[len(n)-4:])
					}
				}
				if checked < 300 {
					t.Fatalf("%s: only %d identifiers checked", when, checked)
				}
				files := 0
				filepath.WalkDir(cfg.BlobDir(), func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					b, _ := os.ReadFile(p)
					files++
					if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("%PDF-")) {
						t.Fatalf("%s: blob %s holds plaintext document bytes", when, p)
					}
					return nil
				})
				if files < len(docIDs) {
					t.Fatalf("%s: %d blob files, want %d", when, files, len(docIDs))
				}
				t.Logf("%s: %d identifiers and %d blobs checked, %d bytes of table dump", when, checked, files, dump.Len())
			}
			checkAtRest("before rotation")
			a.Close()

			s := startServer(t, env, "serve")
			getCred := func() string {
				req, _ := http.NewRequest("GET", s.URL+"/api/v1/credentials/"+credentialID, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Fatalf("credential through the server = %d %s", resp.StatusCode, b)
				}
				return string(b)
			}
			before := getCred()
			code, out, errOut := run(t, env, "", "keys", "rotate", "--grace", "0s", "--batch", "64")
			if code != 0 || strings.Count(out, "completed in") < 2 || !strings.Contains(out, "rows to re-encrypt") {
				t.Fatalf("keys rotate: %d\n%s%s", code, out, errOut)
			}
			t.Logf("keys rotate:\n%s", out)
			// The running server loaded the keyset before the rotation; it
			// reads values under the new key (and reloads to do so).
			if after := getCred(); after != before {
				t.Fatalf("the server answers differently after the rotation:\n%s\n%s", before, after)
			}
			code, out, _ = run(t, env, "", "keys", "status")
			if code != 0 || !strings.Contains(out, "(disabled)") || !strings.Contains(out, "completed") || strings.Contains(out, "running:") {
				t.Fatalf("keys status: %d\n%s", code, out)
			}
			s.Stop(t)

			a, err = m.openApp(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.migrateOrCheck(ctx, false); err != nil {
				t.Fatal(err)
			}
			checkAtRest("after rotation")
			svc = &docs.Service{Store: a.db, Blobs: blobs}
			for i, id := range docIDs {
				_, rc, err := svc.Open(sys, id)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, bodies[i]) {
					t.Fatalf("document %d after rotation: %v", i, err)
				}
			}
			rots, err := a.db.Rotations(ctx, false)
			if err != nil || len(rots) < 2 {
				t.Fatalf("rotations: %v, %v", rots, err)
			}
			for _, r := range rots {
				if r.State != "completed" || r.Reencrypted == 0 && r.OrgID == res.OrgID {
					t.Fatalf("rotation %+v", r)
				}
			}
		})
	}
}

// containsToken reports whether b holds s not embedded in a longer run of
// letters and digits: a 6-digit license number inside a 16-digit
// microsecond timestamp is not that number.
func containsToken(b []byte, s string) bool {
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte(s))
		if i < 0 {
			return false
		}
		i += off
		if (i == 0 || !alnum(b[i-1])) && (i+len(s) == len(b) || !alnum(b[i+len(s)])) {
			return true
		}
		off = i + 1
	}
}

// TestKeyRotationJobPausesAndRequeues: the server's keys.rotation job
// re-encrypts, and when the rotation must wait for the grace period it
// queues its successor for the end of the wait instead of holding the
// worker (and a shutdown) up.
func TestKeyRotationJobPausesAndRequeues(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.migrateOrCheck(ctx, true); err != nil {
		t.Fatal(err)
	}
	sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", ""))
	o := &credtrack.Organization{Name: "Jobs"}
	if err := a.db.CreateOrg(sys, o); err != nil {
		t.Fatal(err)
	}
	octx := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", o.ID))
	for _, p := range demo.Providers(5, credtrack.DateOf(credtrack.Now())) {
		if err := a.db.CreateProvider(octx, p); err != nil {
			t.Fatal(err)
		}
	}
	r, err := a.db.StartRotation(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := keyRotationJobs(a)[keyRotationJob].Handler
	if err := h(ctx, &credtrack.Job{Kind: keyRotationJob, Key: r.ID, OrgID: o.ID, Args: []byte(`{"rotation":"` + r.ID + `"}`)}); err != nil {
		t.Fatal(err)
	}
	cur, err := a.db.Rotation(ctx, r.ID)
	if err != nil || cur.State != "running" || cur.RowsDone != cur.RowsTotal || cur.Reencrypted == 0 {
		t.Fatalf("after the job: %+v, %v", cur, err)
	}
	// Its successor is queued for after the grace period, not now.
	if _, err := a.db.ClaimJob(ctx, "w", []string{keyRotationJob}, time.Minute); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
		t.Fatalf("a rotation job is runnable during the grace period: %v", err)
	}
	added, err := a.db.EnqueueJob(ctx, &credtrack.Job{Kind: keyRotationJob, Key: fmt.Sprintf("%s@%d", r.ID, cur.UpdatedAt.UnixMicro())})
	if err != nil || added {
		t.Fatalf("the successor job was not queued: added=%v, %v", added, err)
	}
}
