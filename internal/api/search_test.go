package api_test

import (
	"fmt"
	"strings"
	"testing"

	"credtrack"
)

// providersSearchWalk: POST /api/v1/providers/search finds by NPI and
// DEA number in the caller's organization only, ignores spaces and case,
// finds nothing for a wrong number, refuses bad input with a clear error
// that does not echo the number, and audits the search without it.
func providersSearchWalk(t *testing.T, c *apiClient, f *fixture) {
	// Org B holds a provider with the same NPI as org A's fixture provider.
	c.postJSON("/api/v1/providers", f.coordB, `{"first_name":"Twin","last_name":"Okafor","npi":"`+npi+`"}`).want(t, "create twin in org B", 201, "")

	ids := func(r result) []string {
		var out []string
		list, _ := r.json["providers"].([]any)
		for _, p := range list {
			out = append(out, p.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"npi", `{"npi":"1234567893"}`, []string{f.providerID}},
		{"npi spaced", `{"npi":"1234 567 893"}`, []string{f.providerID}},
		{"dea lower spaced", `{"dea":"bb 1388568"}`, []string{f.providerID}},
		{"dea with filters", `{"dea":"BB1388568","profession":"MD","credential_type":"dea","sort":"-name","limit":10}`, []string{f.providerID}},
		{"npi and dea", `{"npi":"1234567893","dea":"BB1388568"}`, []string{f.providerID}},
		{"wrong npi", `{"npi":"1528060837"}`, nil},
		{"wrong dea", `{"dea":"AB1234563"}`, nil},
		{"license", `{"license":"RN-0000","license_state":"MO"}`, nil},
	} {
		r := c.postJSON("/api/v1/providers/search", f.coordA, tc.body)
		r.want(t, "search "+tc.name, 200, "")
		if got := ids(r); fmt.Sprint(got) != fmt.Sprint(tc.want) || r.json["total"] != float64(len(tc.want)) {
			t.Errorf("search %s = %v (%s), want %v", tc.name, got, r.body, tc.want)
		}
	}
	// Org B's coordinator finds its own twin, not org A's provider.
	r := c.postJSON("/api/v1/providers/search", f.coordB, `{"npi":"1234567893"}`)
	if got := ids(r); r.code != 200 || len(got) != 1 || got[0] == f.providerID {
		t.Errorf("org B search = %d %s", r.code, r.body)
	}
	// A provider-role token is linked to no one and finds no one.
	r = c.postJSON("/api/v1/providers/search", f.providerRoleA, `{"npi":"1234567893"}`)
	if r.code != 200 || r.json["total"] != 0.0 {
		t.Errorf("provider token search = %d %s", r.code, r.body)
	}

	before := records(t, f.db)
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"no lookup", "application/json", `{"q":"okafor"}`, 400, credtrack.EINVALID},
		{"bad npi", "application/json", `{"npi":"1234567890"}`, 400, credtrack.EINVALID},
		{"bad dea", "application/json", `{"dea":"BB1388561"}`, 400, credtrack.EINVALID},
		{"state alone", "application/json", `{"license_state":"MO"}`, 400, credtrack.EINVALID},
		{"bad state", "application/json", `{"license":"RN1","license_state":"Missouri"}`, 400, credtrack.EINVALID},
		{"unknown field", "application/json", `{"npi":"1234567893","ssn":"900123456"}`, 400, credtrack.EINVALID},
		{"wrong type", "application/json", `{"npi":1234567893}`, 400, credtrack.EINVALID},
		{"bad profession", "application/json", `{"npi":"1234567893","profession":"wizard"}`, 400, credtrack.EINVALID},
		{"bad sort", "application/json", `{"npi":"1234567893","sort":"random"}`, 400, credtrack.EINVALID},
		{"bad expiry window", "application/json", `{"npi":"1234567893","expiring_within_days":-1}`, 400, credtrack.EINVALID},
		{"negative offset", "application/json", `{"npi":"1234567893","offset":-1}`, 400, credtrack.EINVALID},
		{"form body", "application/x-www-form-urlencoded", `npi=1234567893`, 415, credtrack.EUNSUPPORTED},
	} {
		r := c.call("POST", "/api/v1/providers/search", f.coordA, tc.ctype, strings.NewReader(tc.body))
		r.want(t, "search with "+tc.name, tc.status, tc.code)
		for _, n := range []string{"1234567890", "BB1388561", "900123456", "1234567893"} {
			if strings.Contains(string(r.body), n) {
				t.Errorf("search with %s: the error echoes a number: %s", tc.name, r.body)
			}
		}
	}
	c.postJSON("/api/v1/providers/search", "", `{"npi":"1234567893"}`).want(t, "anonymous search", 401, credtrack.EUNAUTHORIZED)
	if after := records(t, f.db); after != before {
		t.Errorf("refused searches changed the records:\n%s\n%s", before, after)
	}

	// The searches are audited as provider.listed, by kind, without numbers.
	evs, _, err := f.db.FindAuditEvents(f.ctxA, credtrack.AuditFilter{Action: "provider.listed", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	byDEA := false
	for _, ev := range evs {
		s := fmt.Sprint(ev.Details)
		if ev.Details["by"] == "dea" {
			byDEA = true
		}
		for _, n := range []string{"1234567893", "BB1388568", "bb1388568", "7893", "8568"} {
			if strings.Contains(s, n) {
				t.Errorf("provider.listed details %s hold a number", s)
			}
		}
	}
	if !byDEA {
		t.Error("no provider.listed event by dea")
	}
}
