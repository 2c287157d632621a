package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// TestFindProvidersByNumber: exact-match search by NPI, DEA and license
// number goes through the blind indexes, accepts the spaces and case
// people type, stays inside the organization, finds nothing for a wrong
// number, refuses a number with a bad check digit, and audits the search
// without the number.
func TestFindProvidersByNumber(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, _ *storetest.Clock) {
		ctxA, _ := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		expires := credtrack.Date{Time: time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)}
		add := func(ctx0 any, p *credtrack.Provider, creds ...*credtrack.Credential) {
			t.Helper()
			ctx := ctxA
			if ctx0 == "B" {
				ctx = ctxB
			}
			if err := db.CreateProvider(ctx, p); err != nil {
				t.Fatal(err)
			}
			for _, c := range creds {
				c.ProviderID = p.ID
				if err := db.CreateCredential(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
		}
		// In org A: Okafor (NPI on the provider, DEA, a Missouri license);
		// Lindqvist (NPI only as a credential, a Kansas license with a
		// lower-case number). In org B: a provider with the same NPI, DEA
		// and license number as Okafor.
		okafor := newProvider("1234567893")
		add("A", okafor,
			&credtrack.Credential{Type: credtrack.CredDEA, Number: "bb1388568-001ab", Jurisdiction: "MO", ExpiresOn: expires},
			&credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN2019004711", Jurisdiction: "MO", ExpiresOn: expires})
		lind := &credtrack.Provider{FirstName: "Maren", LastName: "Lindqvist", Profession: credtrack.ProfMD, Active: true}
		add("A", lind,
			&credtrack.Credential{Type: credtrack.CredNPI, Number: "1528060837"},
			&credtrack.Credential{Type: credtrack.CredStateLicense, Number: "md-55 0129", Jurisdiction: "KS", ExpiresOn: expires})
		twin := newProvider("1234567893")
		twin.FirstName = "Other"
		add("B", twin,
			&credtrack.Credential{Type: credtrack.CredDEA, Number: "BB1388568", Jurisdiction: "MO", ExpiresOn: expires},
			&credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN2019004711", Jurisdiction: "MO", ExpiresOn: expires})

		find := func(f credtrack.ProviderFilter) []string {
			t.Helper()
			list, total, err := db.FindProviders(ctxA, f)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			if total != len(list) {
				t.Fatalf("%+v: total %d, %d rows", f, total, len(list))
			}
			var ids []string
			for _, p := range list {
				ids = append(ids, p.ID)
			}
			return ids
		}
		want := func(name string, f credtrack.ProviderFilter, ids ...string) {
			t.Helper()
			if got := find(f); strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Errorf("%s: found %v, want %v", name, got, ids)
			}
		}
		want("npi", credtrack.ProviderFilter{NPI: "1234567893"}, okafor.ID)
		want("npi spaced", credtrack.ProviderFilter{NPI: " 1234 567 893 "}, okafor.ID)
		want("npi dashed", credtrack.ProviderFilter{NPI: "1234-567-893"}, okafor.ID)
		want("npi credential", credtrack.ProviderFilter{NPI: "1528060837"}, lind.ID)
		want("npi wrong", credtrack.ProviderFilter{NPI: "1245319599"})
		want("dea", credtrack.ProviderFilter{DEA: "BB1388568"}, okafor.ID)
		want("dea lower spaced", credtrack.ProviderFilter{DEA: "bb 138 8568"}, okafor.ID)
		want("dea suffix", credtrack.ProviderFilter{DEA: "BB1388568-002"}, okafor.ID)
		want("dea wrong", credtrack.ProviderFilter{DEA: "AB1234563"})
		want("license", credtrack.ProviderFilter{License: "RN2019004711"}, okafor.ID)
		want("license lower", credtrack.ProviderFilter{License: " rn2019004711 "}, okafor.ID)
		want("license spaced", credtrack.ProviderFilter{License: "RN 2019004711"}, okafor.ID)
		want("license in state", credtrack.ProviderFilter{License: "RN2019004711", LicenseState: "mo"}, okafor.ID)
		want("license other state", credtrack.ProviderFilter{License: "RN2019004711", LicenseState: "KS"})
		want("license stored with space", credtrack.ProviderFilter{License: "MD-55 0129"}, lind.ID)
		want("license wrong", credtrack.ProviderFilter{License: "RN2019004712"})
		want("license not a substring", credtrack.ProviderFilter{License: "RN2019"})
		want("npi and dea", credtrack.ProviderFilter{NPI: "1234567893", DEA: "BB1388568"}, okafor.ID)
		want("npi and other's license", credtrack.ProviderFilter{NPI: "1234567893", License: "MD-55 0129"})
		// A DEA number is not an NPI credential's number and vice versa.
		want("dea as license", credtrack.ProviderFilter{License: "BB1388568"})
		// Name or license: the web search box's fallback.
		want("name", credtrack.ProviderFilter{Query: "lindq", QueryOrLicense: true}, lind.ID)
		want("license via query", credtrack.ProviderFilter{Query: "rn2019004711", QueryOrLicense: true}, okafor.ID)
		want("license via query needs the flag", credtrack.ProviderFilter{Query: "rn2019004711"})

		// Org B finds its own twin only.
		list, _, err := db.FindProviders(ctxB, credtrack.ProviderFilter{NPI: "1234567893"})
		if err != nil || len(list) != 1 || list[0].ID != twin.ID {
			t.Fatalf("org B by NPI: %v, %v", list, err)
		}

		// A number that cannot be on record is a clear error that does
		// not repeat it.
		for _, f := range []credtrack.ProviderFilter{{NPI: "1234567890"}, {NPI: "12345"}, {DEA: "BB1388561"},
			{LicenseState: "MO"}, {License: "X", LicenseState: "Missouri"}, {License: strings.Repeat("9", 51)}} {
			_, _, err := db.FindProviders(ctxA, f)
			wantCode(t, err, credtrack.EINVALID)
			if msg := credtrack.ErrorMessage(err); strings.Contains(msg, "1234567890") || strings.Contains(msg, "BB1388561") {
				t.Errorf("error repeats the number: %q", msg)
			}
		}

		// The search is audited like the list, with the lookup's kind and
		// never the number.
		if got := find(credtrack.ProviderFilter{DEA: "BB1388568", NPI: "1234567893", License: "RN2019004711", LicenseState: "MO"}); len(got) != 1 {
			t.Fatalf("all three: %v", got)
		}
		ev := lastEvent(t, db, ctxA, "provider.listed")
		if ev.Details["by"] != "npi,dea,license" || ev.Details["license_state"] != "MO" || ev.Details["results"] != "1" {
			t.Errorf("provider.listed details = %v", ev.Details)
		}
		for k, v := range ev.Details {
			for _, n := range []string{"1234567893", "BB1388568", "RN2019004711", "7893", "8568", "4711"} {
				if strings.Contains(strings.ToUpper(v), n) {
					t.Errorf("audit detail %s=%q holds the number", k, v)
				}
			}
		}
	})
}
