package main

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"credtrack"
)

// TestRecordPages drives the provider and credential pages over HTTP on
// both backends with the identity fixture's real server: add, edit and
// delete records with type-specific validation, masked numbers, the
// audited reveal, uploads over the limit, and the organization's
// required-credential settings changing a provider's status.
func TestRecordPages(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, false)
			post := func(actor, path string, v url.Values) *httptest.ResponseRecorder {
				t.Helper()
				cookie, _ := f.session(t, actor)
				r := form(path, v)
				r.AddCookie(cookie)
				return f.serve(r)
			}
			get := func(actor, path string) *httptest.ResponseRecorder {
				t.Helper()
				cookie, _ := f.session(t, actor)
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.AddCookie(cookie)
				return f.serve(r)
			}
			sys := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", f.orgA))
			events := func(action string) []*credtrack.AuditEvent {
				t.Helper()
				evs, _, err := f.a.db.FindAuditEvents(sys, credtrack.AuditFilter{Action: action})
				if err != nil {
					t.Fatal(err)
				}
				return evs
			}

			// The fixture's credential number is masked on the page.
			pid, cid := f.ids[f.orgA]["providers"], f.ids[f.orgA]["credentials"]
			// (The fixture's document is named after the same marker, so
			// its file name is taken out before looking for the number.)
			page := get("coordinator", "/providers/"+pid)
			pageBody := strings.ReplaceAll(page.Body.String(), nameA[2]+".pdf", "")
			if page.Code != 200 || strings.Contains(pageBody, nameA[2]) || !strings.Contains(pageBody, "••••") {
				t.Fatalf("provider page: %d, number shown in full: %v", page.Code, strings.Contains(pageBody, nameA[2]))
			}
			// Reveal: a POST, audited, shows the number once; the auditor may not.
			rec := post("coordinator", "/credentials/"+cid+"/reveal", nil)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), nameA[2]) || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("reveal: %d %q", rec.Code, rec.Header().Get("Cache-Control"))
			}
			if evs := events("sensitive.revealed"); len(evs) != 1 || evs[0].TargetID != cid || evs[0].Details["field"] != "number" {
				t.Fatalf("sensitive.revealed events = %+v", evs)
			}
			if rec := post("auditor", "/credentials/"+cid+"/reveal", nil); rec.Code != http.StatusForbidden {
				t.Fatalf("auditor reveal: %d", rec.Code)
			}

			// Add a provider; a bad NPI re-renders the form with the reason.
			v := url.Values{"first_name": {"Nadia"}, "last_name": {"Formfield"}, "profession": {"MD"}, "state": {"ks"},
				"npi": {"1234567890"}, "active": {"on"}}
			if rec := post("coordinator", "/providers", v); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "check digit") ||
				!strings.Contains(rec.Body.String(), `value="Nadia"`) {
				t.Fatalf("bad NPI: %d", rec.Code)
			}
			v.Set("npi", "1528060837")
			rec = post("coordinator", "/providers", v)
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/providers/") {
				t.Fatalf("add provider: %d %s", rec.Code, rec.Header().Get("Location"))
			}
			newURL := rec.Header().Get("Location")
			newID := strings.TrimPrefix(newURL, "/providers/")
			list := get("coordinator", "/providers?q=formfield&profession=MD&status=missing&sort=status")
			if list.Code != 200 || !strings.Contains(list.Body.String(), "Formfield") {
				t.Fatalf("list: %d", list.Code)
			}
			if list := get("coordinator", "/providers?type=dea"); strings.Contains(list.Body.String(), "Formfield") {
				t.Error("the DEA filter lists a provider without a DEA registration")
			}
			if rec := get("coordinator", "/providers?sort=sideways"); rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnprocessableEntity {
				t.Errorf("unknown sort: %d", rec.Code)
			}

			// Edit keeps the NPI when its field is left blank.
			v.Set("npi", "")
			v.Set("specialty", "Cardiology")
			if rec := post("coordinator", newURL+"/edit", v); rec.Code != http.StatusSeeOther {
				t.Fatalf("edit: %d %s", rec.Code, rec.Body)
			}
			p, err := f.a.db.FindProviderByID(sys, newID)
			if err != nil || p.NPI != "1528060837" || p.Specialty != "Cardiology" || p.State != "KS" {
				t.Fatalf("after edit: %+v, %v", p, err)
			}

			// A DEA registration: the form for the type, a bad check digit, then a good one.
			if rec := get("coordinator", newURL+"/credentials/new?type=dea"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `name="d_schedules" value="2N"`) {
				t.Fatalf("DEA form: %d", rec.Code)
			}
			dea := url.Values{"type": {"dea"}, "number": {"BB1388561"}, "jurisdiction": {"KS"}, "expires_on": {"2028-01-31"},
				"d_schedules": {"2", "3N", "5"}}
			if rec := post("coordinator", newURL+"/credentials", dea); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "check digit") {
				t.Fatalf("bad DEA: %d", rec.Code)
			}
			dea.Set("number", "BB1388568")
			if rec := post("coordinator", newURL+"/credentials", dea); rec.Code != http.StatusSeeOther {
				t.Fatalf("add DEA: %d %s", rec.Code, rec.Body)
			}
			p, _ = f.a.db.FindProviderByID(sys, newID)
			if len(p.Credentials) != 1 || p.Credentials[0].Details["schedules"] != "2,3N,5" || p.Credentials[0].NumberLast4 != "8568" {
				t.Fatalf("DEA stored as %+v", p.Credentials)
			}
			deaID := p.Credentials[0].ID
			// Editing with a blank number keeps it.
			dea.Set("number", "")
			dea.Set("expires_on", "2029-01-31")
			if rec := post("coordinator", "/credentials/"+deaID+"/edit", dea); rec.Code != http.StatusSeeOther {
				t.Fatalf("edit DEA: %d %s", rec.Code, rec.Body)
			}
			if n, err := f.a.db.RevealCredentialNumber(sys, deaID); err != nil || n != "BB1388568" {
				t.Fatalf("DEA number after edit = %q, %v", n, err)
			}

			// Uploads: a file that is not a PDF, PNG or JPEG is refused.
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormFile("file", "notes.txt")
			fw.Write([]byte("just text"))
			mw.Close()
			cookie, _ := f.session(t, "coordinator")
			r := httptest.NewRequest(http.MethodPost, newURL+"/documents", &body)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			r.AddCookie(cookie)
			if rec := f.serve(r); rec.Code < 400 || rec.Code >= 500 {
				t.Fatalf("text upload: %d", rec.Code)
			}

			// The organization requires only a license of MDs: the new
			// provider (DEA only) is then missing it, and stops missing
			// the default NPI, board certification and malpractice.
			settings := url.Values{"expiring_window_days": {"60"}, "required_present": {"1"}, "req_MD": {"state_license"}}
			for _, prof := range credtrack.Professions {
				if prof != credtrack.ProfMD {
					for _, typ := range credtrack.RequiredCredentials(prof) {
						settings.Add("req_"+string(prof), string(typ))
					}
				}
			}
			if rec := post("owner", "/org/settings", settings); rec.Code != http.StatusSeeOther {
				t.Fatalf("settings: %d %s", rec.Code, rec.Body)
			}
			if s := get("owner", "/org/settings"); !strings.Contains(s.Body.String(), "custom") {
				t.Error("the settings page does not mark the changed profession")
			}
			page = get("coordinator", newURL)
			if !strings.Contains(page.Body.String(), "State license") || strings.Contains(page.Body.String(), "Malpractice coverage</li>") {
				t.Errorf("missing list does not follow the organization's set")
			}

			// Delete needs the box ticked.
			if rec := post("coordinator", newURL+"/delete", nil); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != newURL {
				t.Fatalf("unconfirmed delete: %d %s", rec.Code, rec.Header().Get("Location"))
			}
			if rec := post("coordinator", newURL+"/delete", url.Values{"confirm": {"yes"}}); rec.Code != http.StatusSeeOther {
				t.Fatalf("delete: %d", rec.Code)
			}
			if rec := get("coordinator", newURL); rec.Code != http.StatusNotFound {
				t.Fatalf("deleted provider: %d", rec.Code)
			}
			if evs := events("provider.deleted"); len(evs) != 1 || evs[0].TargetID != newID || evs[0].Details["credentials"] != "1" {
				t.Fatalf("provider.deleted = %+v", evs)
			}
		})
	}
}
