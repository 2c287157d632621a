package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"credtrack"
)

// TestProviderSearchPage drives the provider list's search box on both
// backends with the real server: it posts (the number never reaches a
// URL), recognizes an NPI and a DEA number, falls back to name or license
// number, keeps to the organization, sends plain name searches on to the
// ordinary list URL, and is audited as provider.listed without the number.
func TestProviderSearchPage(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			f := newIDFixture(t, backend, false)
			search := func(actor string, v url.Values) *httptest.ResponseRecorder {
				t.Helper()
				cookie, _ := f.session(t, actor)
				r := form("/providers/search", v)
				r.AddCookie(cookie)
				return f.serve(r)
			}
			ctxA := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", f.orgA))
			ctxB := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("test", f.orgB))
			expires := credtrack.Date{Time: time.Now().UTC().AddDate(1, 0, 0)}
			add := func(ctx context.Context, first, last, npi, dea, license string) {
				t.Helper()
				p := &credtrack.Provider{FirstName: first, LastName: last, Profession: credtrack.ProfMD, NPI: npi, Active: true}
				if err := f.a.db.CreateProvider(ctx, p); err != nil {
					t.Fatal(err)
				}
				for _, c := range []*credtrack.Credential{
					{Type: credtrack.CredDEA, Number: dea, Jurisdiction: "MO", ExpiresOn: expires},
					{Type: credtrack.CredStateLicense, Number: license, Jurisdiction: "MO", ExpiresOn: expires},
				} {
					c.ProviderID = p.ID
					if err := f.a.db.CreateCredential(ctx, c); err != nil {
						t.Fatal(err)
					}
				}
			}
			add(ctxA, "Searchable", "Quillfeather", "1245319599", "BB1388568", "MD20190471")
			// Org B's provider has the same numbers.
			add(ctxB, "Hidden", "Twinfeather", "1245319599", "BB1388568", "MD20190471")

			for _, tc := range []struct{ name, q, note string }{
				{"npi", "1245319599", "Search by NPI ending 9599"},
				{"npi spaced", " 1245 319 599 ", "Search by NPI ending 9599"},
				{"dea lower case", "bb1388568", "Search by DEA number ending 8568"},
				{"license", "md20190471", "Search by name or license number ending 0471"},
			} {
				rec := search("coordinator", url.Values{"q": {tc.q}})
				body := rec.Body.String()
				if rec.Code != 200 || !strings.Contains(body, "Quillfeather") || strings.Contains(body, "Twinfeather") ||
					!strings.Contains(body, tc.note) || !strings.Contains(body, "Showing 1–1 of 1") {
					t.Errorf("search by %s: %d, note %v, found %v, other org %v", tc.name, rec.Code,
						strings.Contains(body, tc.note), strings.Contains(body, "Quillfeather"), strings.Contains(body, "Twinfeather"))
				}
				for _, n := range []string{"1245319599", "BB1388568", "bb1388568", "MD20190471", "md20190471", "1245 319 599"} {
					if strings.Contains(body, n) {
						t.Errorf("search by %s: the page shows the number %s", tc.name, n)
					}
				}
				if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Location") != "" {
					t.Errorf("search by %s: Cache-Control %q, Location %q", tc.name, rec.Header().Get("Cache-Control"), rec.Header().Get("Location"))
				}
			}
			// Wrong numbers find nothing; the filters still apply.
			for _, q := range []string{"1528060837", "AB1234563", "MD20190472"} {
				if body := search("coordinator", url.Values{"q": {q}}).Body.String(); strings.Contains(body, "Quillfeather") ||
					!strings.Contains(body, "No providers match") {
					t.Errorf("wrong number %s found someone", q)
				}
			}
			if body := search("coordinator", url.Values{"q": {"1245319599"}, "profession": {"RN"}}).Body.String(); strings.Contains(body, "Quillfeather") {
				t.Error("the profession filter did not apply to a number search")
			}
			// A name is sent on to the list URL, with the filters.
			rec := search("coordinator", url.Values{"q": {"quill"}, "profession": {"MD"}})
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "/providers?profession=MD&q=quill" {
				t.Errorf("name search: %d to %q", rec.Code, loc)
			}
			// Bad filters are refused; roles without provider.read too.
			if rec := search("coordinator", url.Values{"q": {"1245319599"}, "status": {"bogus"}}); rec.Code != http.StatusBadRequest {
				t.Errorf("bad filter: %d", rec.Code)
			}
			if rec := search("provider", url.Values{"q": {"1245319599"}}); rec.Code != http.StatusForbidden {
				t.Errorf("provider role searches: %d", rec.Code)
			}

			// The list page's form posts to the search.
			cookie, _ := f.session(t, "coordinator")
			r := httptest.NewRequest(http.MethodGet, "/providers", nil)
			r.AddCookie(cookie)
			if body := f.serve(r).Body.String(); !strings.Contains(body, `<form method="post" action="/providers/search"`) {
				t.Error("the list's search form does not post")
			}

			// Audited as provider.listed, by kind, never the number.
			evs, _, err := f.a.db.FindAuditEvents(ctxA, credtrack.AuditFilter{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, ev := range evs {
				if ev.Action == "provider.listed" {
					kinds[ev.Details["by"]] = true
				}
				s := fmt.Sprint(ev.TargetID, ev.Details)
				for _, n := range []string{"1245319599", "BB1388568", "MD20190471", "9599", "8568", "0471"} {
					if strings.Contains(strings.ToUpper(s), n) {
						t.Errorf("audit event %s holds a number: %s", ev.Action, s)
					}
				}
			}
			if !kinds["npi"] || !kinds["dea"] || !kinds["name_or_license"] {
				t.Errorf("provider.listed kinds = %v", kinds)
			}
		})
	}
}
