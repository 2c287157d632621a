package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/roster"
)

// uploadRoster posts a roster file to the import form and returns the
// response.
func uploadRoster(t *testing.T, h http.Handler, cookie *http.Cookie, name, body string) *httptest.ResponseRecorder {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, body)
	mw.Close()
	r := httptest.NewRequest(http.MethodPost, "/roster/import", &b)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.AddCookie(cookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// waitImport polls the progress route until the job is done.
func waitImport(t *testing.T, f *idFixture, actor, page string) {
	t.Helper()
	for range 600 {
		c, _ := f.session(t, actor)
		rec := f.serve(f.request(http.MethodGet, page+"/progress", c, ""))
		if rec.Code != 200 {
			t.Fatalf("progress: %d %s", rec.Code, rec.Body)
		}
		var p struct {
			Running bool `json:"running"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if !p.Running {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the import did not finish")
}

// TestRosterWebFlow uploads a roster with one invalid row as a
// coordinator, reads the dry-run report, imports the valid providers,
// and exports; an auditor may export but not import, a member of another
// organization cannot see the import.
func TestRosterWebFlow(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, false)
			src, _ := io.ReadAll(roster.Synthetic(40))
			bad := strings.Replace(string(src), roster.SyntheticNPI(3), "1234567890", 1)
			coord, _ := f.session(t, "coordinator")
			rec := uploadRoster(t, f.h, coord, "staff.csv", bad)
			page := rec.Header().Get("Location")
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(page, "/roster/imports/") {
				t.Fatalf("upload: %d %q %s", rec.Code, page, rec.Body)
			}
			waitImport(t, f, "coordinator", page)
			c, _ := f.session(t, "coordinator")
			rec = f.serve(f.request(http.MethodGet, page, c, ""))
			body := rec.Body.String()
			for _, want := range []string{"80 rows read", "1 invalid", "39 providers with 78 credentials are valid",
				`<td class="mono">npi</td>`, "not a valid NPI", "Import 39 valid providers, skip the rest"} {
				if !strings.Contains(body, want) {
					t.Errorf("report page lacks %q", want)
				}
			}
			if strings.Contains(body, "1234567890") || strings.Contains(body, "<script>") {
				t.Error("the report page quotes the NPI or has an inline script")
			}
			// Nothing written by the check.
			sys := credtrack.NewContextWithActor(t.Context(), credtrack.SystemActor("test", f.orgA))
			_, before, _ := f.a.db.FindProviders(sys, credtrack.ProviderFilter{})

			// Another organization's owner cannot see or commit it.
			o, _ := f.session(t, "other")
			if rec := f.serve(f.request(http.MethodGet, page, o, "")); rec.Code != http.StatusNotFound {
				t.Errorf("foreign view: %d", rec.Code)
			}
			commit := func(actor, mode string) *httptest.ResponseRecorder {
				c, _ := f.session(t, actor)
				r := form(page+"/commit", url.Values{"mode": {mode}})
				r.AddCookie(c)
				return f.serve(r)
			}
			if rec := commit("other", "skip-invalid"); rec.Code != http.StatusNotFound {
				t.Errorf("foreign commit: %d", rec.Code)
			}
			if rec := commit("auditor", "skip-invalid"); rec.Code != http.StatusForbidden {
				t.Errorf("auditor commit: %d", rec.Code)
			}
			if rec := commit("coordinator", "skip-invalid"); rec.Code != http.StatusSeeOther {
				t.Fatalf("commit: %d %s", rec.Code, rec.Body)
			}
			waitImport(t, f, "coordinator", page)
			c, _ = f.session(t, "coordinator")
			body = f.serve(f.request(http.MethodGet, page, c, "")).Body.String()
			if !strings.Contains(body, "39 providers and 78 credentials were written") {
				t.Errorf("import result page: %s", body)
			}
			_, after, _ := f.a.db.FindProviders(sys, credtrack.ProviderFilter{})
			if after-before != 39 {
				t.Errorf("providers %d -> %d", before, after)
			}
			if rec := commit("coordinator", "skip-invalid"); rec.Code != http.StatusConflict {
				t.Errorf("second commit: %d", rec.Code)
			}

			// Export: coordinators get numbers, auditors do not.
			c, _ = f.session(t, "coordinator")
			rec = f.serve(f.request(http.MethodGet, "/roster/export.csv", c, ""))
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
				!strings.Contains(rec.Body.String(), roster.SyntheticDEA(5)) || !strings.HasPrefix(rec.Body.String(), "provider_ref,") {
				t.Errorf("coordinator export: %d %q", rec.Code, rec.Header())
			}
			a, _ := f.session(t, "auditor")
			rec = f.serve(f.request(http.MethodGet, "/roster/export.csv", a, ""))
			if rec.Code != 200 || strings.Contains(rec.Body.String(), roster.SyntheticDEA(5)) || !strings.Contains(rec.Body.String(), "Given5") {
				t.Errorf("auditor export: %d", rec.Code)
			}

			// A file over the limit, an empty upload and a non-file form are refused.
			c, _ = f.session(t, "coordinator") // a fresh one: an account keeps at most 10 sessions
			if rec := uploadRoster(t, f.h, c, "empty.csv", ""); rec.Code != http.StatusBadRequest {
				t.Errorf("empty upload: %d", rec.Code)
			}
		})
	}
}
