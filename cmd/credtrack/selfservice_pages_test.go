package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"credtrack"
)

// TestProviderSelfServicePages drives the provider's own pages over HTTP
// on both backends with the identity fixture's real server: from the
// dashboard to "my record", adding, changing and deleting a CE credit
// (kept pending verification even when the form claims a verification),
// their contact details, the reveal of their own numbers but not their
// SSN, no links to what they may not do, and refusals on anyone else's
// record with nothing changed.
func TestProviderSelfServicePages(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, false)
			do := func(r *http.Request) *httptest.ResponseRecorder {
				t.Helper()
				cookie, _ := f.session(t, "provider")
				r.AddCookie(cookie)
				return f.serve(r)
			}
			get := func(path string) *httptest.ResponseRecorder {
				return do(httptest.NewRequest(http.MethodGet, path, nil))
			}
			post := func(path string, v url.Values) *httptest.ResponseRecorder { return do(form(path, v)) }
			sys := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", f.orgA))
			pid, cid := f.ids[f.orgA]["providers"], f.ids[f.orgA]["credentials"]
			me := f.users["provider"].ID

			// The dashboard leads to the record; the record offers only
			// what a provider may do.
			if rec := get("/"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `href="/providers/`+pid+`"`) {
				t.Fatalf("dashboard: %d", rec.Code)
			}
			page := get("/providers/" + pid)
			body := page.Body.String()
			if page.Code != 200 {
				t.Fatalf("my record: %d", page.Code)
			}
			for _, want := range []string{`id="add-credential"`, `id="edit-contact"`, `/credentials/` + cid + `/edit`,
				`/credentials/` + cid + `/reveal`, `id="self-service-note"`, `id="upload"`} {
				if !strings.Contains(body, want) {
					t.Errorf("my record lacks %s", want)
				}
			}
			for _, unwanted := range []string{`id="edit-provider"`, `/providers/` + pid + `/delete`, `id="reveal-ssn"`, `id="reveal-dob"`,
				`/verifications`, `href="/providers"`} {
				if strings.Contains(body, unwanted) {
					t.Errorf("my record links to %s", unwanted)
				}
			}

			// Add a CE credit; the form has no verification fields, and a
			// posted verification is ignored.
			form := get("/providers/" + pid + "/credentials/new?type=ce_credit")
			if form.Code != 200 || strings.Contains(form.Body.String(), `name="verified_on"`) || !strings.Contains(form.Body.String(), `id="pending-note"`) {
				t.Fatalf("CE form: %d", form.Code)
			}
			ce := url.Values{"type": {"ce_credit"}, "issuer": {"ANCC"}, "jurisdiction": {"mo"}, "issued_on": {"2026-11-20"},
				"d_course": {"Sepsis bundle update"}, "d_hours": {"2.5"}, "verified_on": {"2026-11-21"}, "verified_by": {"me"}}
			if rec := post("/providers/"+pid+"/credentials", ce); rec.Code != http.StatusSeeOther {
				t.Fatalf("add CE: %d %s", rec.Code, rec.Body)
			}
			p, err := f.a.db.FindProviderByID(sys, pid)
			if err != nil {
				t.Fatal(err)
			}
			var added *credtrack.Credential
			for _, c := range p.Credentials {
				if c.Type == credtrack.CredCE {
					added = c
				}
			}
			if added == nil || !added.VerifiedAt.IsZero() || added.Details["hours"] != "2.5" {
				t.Fatalf("added CE = %+v", added)
			}
			if rec := get("/providers/" + pid); !strings.Contains(rec.Body.String(), "Sepsis bundle update") {
				t.Error("the new CE credit is not on my record")
			}
			// A bad value re-renders the form with the reason.
			bad := url.Values{"type": {"ce_credit"}, "issued_on": {"2026-11-20"}, "d_hours": {"lots"}}
			if rec := post("/providers/"+pid+"/credentials", bad); rec.Code != http.StatusUnprocessableEntity {
				t.Fatalf("bad CE: %d", rec.Code)
			}

			// Edit it, then delete it (unverified: allowed).
			edit := get("/credentials/" + added.ID + "/edit")
			if edit.Code != 200 || !strings.Contains(edit.Body.String(), "/credentials/"+added.ID+"/delete") {
				t.Fatalf("edit CE: %d", edit.Code)
			}
			ce.Set("d_hours", "3")
			if rec := post("/credentials/"+added.ID+"/edit", ce); rec.Code != http.StatusSeeOther {
				t.Fatalf("save CE: %d %s", rec.Code, rec.Body)
			}
			if c, err := f.a.db.FindCredentialByID(sys, added.ID); err != nil || c.Details["hours"] != "3" || !c.VerifiedAt.IsZero() {
				t.Fatalf("after edit: %+v, %v", c, err)
			}
			if rec := post("/credentials/"+added.ID+"/delete", url.Values{"confirm": {"yes"}}); rec.Code != http.StatusSeeOther {
				t.Fatalf("delete CE: %d", rec.Code)
			}
			if _, err := f.a.db.FindCredentialByID(sys, added.ID); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
				t.Fatalf("deleted CE still there: %v", err)
			}
			// Every write is on record with the provider as the actor.
			for _, action := range []string{"credential.created", "credential.updated", "credential.deleted"} {
				evs, _, err := f.a.db.FindAuditEvents(sys, credtrack.AuditFilter{Action: action, TargetID: added.ID})
				if err != nil || len(evs) != 1 || evs[0].ActorID != me || evs[0].Details["self_service"] != "true" {
					t.Fatalf("%s events = %+v, %v", action, evs, err)
				}
			}

			// A verified credential: no delete button, and the delete is refused.
			c, err := f.a.db.FindCredentialByID(sys, cid)
			if err != nil {
				t.Fatal(err)
			}
			c.Number, c.VerifiedAt, c.VerifiedBy = "", time.Now().UTC(), "MO board"
			if err := f.a.db.UpdateCredential(sys, c); err != nil {
				t.Fatal(err)
			}
			if rec := get("/credentials/" + cid + "/edit"); strings.Contains(rec.Body.String(), "/credentials/"+cid+"/delete") ||
				!strings.Contains(rec.Body.String(), `id="verified-locked"`) {
				t.Error("a verified credential offers its provider a delete")
			}
			if rec := post("/credentials/"+cid+"/delete", url.Values{"confirm": {"yes"}}); rec.Code != http.StatusForbidden {
				t.Fatalf("delete verified: %d", rec.Code)
			}

			// Contact details: email and phone only.
			if rec := get("/providers/" + pid + "/contact"); rec.Code != 200 || strings.Contains(rec.Body.String(), `name="last_name"`) {
				t.Fatalf("contact form: %d", rec.Code)
			}
			if rec := post("/providers/"+pid+"/contact", url.Values{"email": {"ottoline@home.test"}, "phone": {"+1 314 555 0199"},
				"last_name": {"Renamed"}}); rec.Code != http.StatusSeeOther {
				t.Fatalf("save contact: %d %s", rec.Code, rec.Body)
			}
			if rec := post("/providers/"+pid+"/contact", url.Values{"phone": {"<b>"}}); rec.Code != http.StatusUnprocessableEntity {
				t.Fatalf("bad phone: %d", rec.Code)
			}
			p, _ = f.a.db.FindProviderByID(sys, pid)
			if p.Email != "ottoline@home.test" || p.Phone != "+1 314 555 0199" || p.LastName != nameA[1] {
				t.Fatalf("after contact save: %+v", p)
			}
			if rec := get("/providers/" + pid + "/edit"); rec.Code != http.StatusForbidden {
				t.Errorf("full edit form: %d", rec.Code)
			}

			// Reveal: their own credential number, not their SSN.
			if rec := post("/credentials/"+cid+"/reveal", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), nameA[2]) {
				t.Fatalf("reveal own number: %d", rec.Code)
			}
			if rec := post("/providers/"+pid+"/reveal", url.Values{"field": {"ssn"}}); rec.Code != http.StatusForbidden {
				t.Fatalf("reveal own SSN: %d", rec.Code)
			}

			// Another organization's record: not found, nothing changes.
			pidB, cidB := f.ids[f.orgB]["providers"], f.ids[f.orgB]["credentials"]
			sysB := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", f.orgB))
			beforeB, err := f.a.db.FindProviderByID(sysB, pidB)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range []*httptest.ResponseRecorder{
				post("/providers/"+pidB+"/credentials", ce),
				post("/credentials/"+cidB+"/edit", ce),
				post("/credentials/"+cidB+"/delete", url.Values{"confirm": {"yes"}}),
				post("/credentials/"+cidB+"/reveal", nil),
				post("/providers/"+pidB+"/contact", url.Values{"email": {"x@y.test"}}),
				get("/providers/" + pidB + "/credentials/new?type=ce_credit"),
			} {
				if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), nameB[1]) {
					t.Errorf("another org's record: %d", rec.Code)
				}
			}
			afterB, err := f.a.db.FindProviderByID(sysB, pidB)
			if err != nil || afterB.Email != beforeB.Email || len(afterB.Credentials) != len(beforeB.Credentials) ||
				!afterB.UpdatedAt.Equal(beforeB.UpdatedAt) {
				t.Fatalf("org B's record changed: %+v, %v", afterB, err)
			}
		})
	}
}
