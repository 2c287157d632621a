package credtrack_test

import (
	"maps"
	"testing"
	"time"

	"credtrack"
)

func day(s string) credtrack.Date {
	d, err := credtrack.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestCredentialValidate runs every credential type through valid and
// invalid inputs. NPI and DEA numbers are the vectors of
// ../shared/data/psv/FORMATS.md §3 and §4.
func TestCredentialValidate(t *testing.T) {
	type d = map[string]string
	cases := []struct {
		name        string
		c           credtrack.Credential
		ok          bool
		wantDetails d // checked when ok and non-nil
		wantNumber  string
	}{
		// State license.
		{name: "license ok", ok: true, c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN123456", Jurisdiction: "mo",
			Details: d{"license_type": "RN", "compact": "yes", "license_status": "Active"}},
			wantDetails: d{"license_type": "RN", "compact": "true", "license_status": "active"}},
		{name: "license no state", c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN1", Details: d{"license_type": "RN"}}},
		{name: "license no number", c: credtrack.Credential{Type: credtrack.CredStateLicense, Jurisdiction: "MO", Details: d{"license_type": "RN"}}},
		{name: "license no type", ok: true, c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN1", Jurisdiction: "MO"}},
		{name: "license bad state", c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN1", Jurisdiction: "Missouri", Details: d{"license_type": "RN"}}},
		{name: "license bad compact", c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN1", Jurisdiction: "MO", Details: d{"license_type": "RN", "compact": "maybe"}}},
		{name: "license bad status", c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN1", Jurisdiction: "MO", Details: d{"license_type": "RN", "license_status": "great"}}},
		{name: "license unknown field", c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN1", Jurisdiction: "MO", Details: d{"license_type": "RN", "color": "red"}}},
		{name: "license empty unknown field dropped", ok: true, c: credtrack.Credential{Type: credtrack.CredStateLicense, Number: "RN1", Jurisdiction: "MO", Details: d{"license_type": "RN", "color": " "}},
			wantDetails: d{"license_type": "RN"}},
		// NPI (FORMATS.md §3).
		{name: "npi 1234567893", ok: true, c: credtrack.Credential{Type: credtrack.CredNPI, Number: "1234567893"}},
		{name: "npi 1528060837", ok: true, c: credtrack.Credential{Type: credtrack.CredNPI, Number: "1528060837"}},
		{name: "npi 1760485387", ok: true, c: credtrack.Credential{Type: credtrack.CredNPI, Number: " 1760485387 "}, wantNumber: "1760485387"},
		{name: "npi 1234567898", c: credtrack.Credential{Type: credtrack.CredNPI, Number: "1234567898"}},
		{name: "npi 0000000000", c: credtrack.Credential{Type: credtrack.CredNPI, Number: "0000000000"}},
		{name: "npi 9 digits", c: credtrack.Credential{Type: credtrack.CredNPI, Number: "124567892"}},
		{name: "npi 15 digit form", c: credtrack.Credential{Type: credtrack.CredNPI, Number: "808401234567893"}},
		{name: "npi letters", c: credtrack.Credential{Type: credtrack.CredNPI, Number: "abcdefghij"}},
		// DEA (FORMATS.md §4).
		{name: "dea BB1388568", ok: true, c: credtrack.Credential{Type: credtrack.CredDEA, Number: "bb1388568", Jurisdiction: "MO",
			ExpiresOn: day("2027-01-31"), Details: d{"schedules": "5, 2 3N 2n"}}, wantNumber: "BB1388568",
			wantDetails: d{"schedules": "2,2N,3N,5"}},
		{name: "dea F91234563-001AB", ok: true, c: credtrack.Credential{Type: credtrack.CredDEA, Number: "F91234563-001AB", Jurisdiction: "MO",
			ExpiresOn: day("2027-01-31")}, wantNumber: "F91234563"},
		{name: "dea AB1234563", ok: true, c: credtrack.Credential{Type: credtrack.CredDEA, Number: "AB1234563", Jurisdiction: "KS", ExpiresOn: day("2027-01-31")}},
		{name: "dea BG8207031", c: credtrack.Credential{Type: credtrack.CredDEA, Number: "BG8207031", Jurisdiction: "MO", ExpiresOn: day("2027-01-31")}},
		{name: "dea BB1388561", c: credtrack.Credential{Type: credtrack.CredDEA, Number: "BB1388561", Jurisdiction: "MO", ExpiresOn: day("2027-01-31")}},
		{name: "dea 1B1388568", c: credtrack.Credential{Type: credtrack.CredDEA, Number: "1B1388568", Jurisdiction: "MO", ExpiresOn: day("2027-01-31")}},
		{name: "dea short", c: credtrack.Credential{Type: credtrack.CredDEA, Number: "BB138856", Jurisdiction: "MO", ExpiresOn: day("2027-01-31")}},
		{name: "dea bad schedule", c: credtrack.Credential{Type: credtrack.CredDEA, Number: "BB1388568", Jurisdiction: "MO", ExpiresOn: day("2027-01-31"), Details: d{"schedules": "1,2"}}},
		{name: "dea no expiry", c: credtrack.Credential{Type: credtrack.CredDEA, Number: "BB1388568", Jurisdiction: "MO"}},
		{name: "dea no state", c: credtrack.Credential{Type: credtrack.CredDEA, Number: "BB1388568", ExpiresOn: day("2027-01-31")}},
		// Board certification.
		{name: "board ok", ok: true, c: credtrack.Credential{Type: credtrack.CredBoardCertification, Issuer: "ABIM",
			Details: d{"specialty": "Internal Medicine", "initial_date": "2010-07-01", "moc_status": "Meeting Requirements"}},
			wantDetails: d{"specialty": "Internal Medicine", "initial_date": "2010-07-01", "moc_status": "meeting requirements"}},
		{name: "board no board", c: credtrack.Credential{Type: credtrack.CredBoardCertification, Details: d{"specialty": "IM"}}},
		{name: "board no specialty", c: credtrack.Credential{Type: credtrack.CredBoardCertification, Issuer: "ABIM"}},
		{name: "board bad initial date", c: credtrack.Credential{Type: credtrack.CredBoardCertification, Issuer: "ABIM", Details: d{"specialty": "IM", "initial_date": "07/01/2010"}}},
		{name: "board bad moc", c: credtrack.Credential{Type: credtrack.CredBoardCertification, Issuer: "ABIM", Details: d{"specialty": "IM", "moc_status": "sure"}}},
		// CE credit.
		{name: "ce ok", ok: true, c: credtrack.Credential{Type: credtrack.CredCE, IssuedOn: day("2026-03-01"), Jurisdiction: "FL",
			Details: d{"course": "Opioid prescribing", "hours": "2.50", "accrediting_body": "ANCC", "category": "pharmacology"}},
			wantDetails: d{"course": "Opioid prescribing", "hours": "2.5", "accrediting_body": "ANCC", "category": "pharmacology"}},
		{name: "ce zero hours", c: credtrack.Credential{Type: credtrack.CredCE, IssuedOn: day("2026-03-01"), Details: d{"hours": "0"}}},
		{name: "ce negative hours", c: credtrack.Credential{Type: credtrack.CredCE, IssuedOn: day("2026-03-01"), Details: d{"hours": "-1"}}},
		{name: "ce NaN hours", c: credtrack.Credential{Type: credtrack.CredCE, IssuedOn: day("2026-03-01"), Details: d{"hours": "NaN"}}},
		{name: "ce no hours", c: credtrack.Credential{Type: credtrack.CredCE, IssuedOn: day("2026-03-01")}},
		{name: "ce no completion date", c: credtrack.Credential{Type: credtrack.CredCE, Details: d{"hours": "1"}}},
		// Hospital privileges.
		{name: "privileges ok", ok: true, c: credtrack.Credential{Type: credtrack.CredPrivilege, Issuer: "St. Luke's", IssuedOn: day("2025-01-01"),
			ExpiresOn: day("2027-01-01"), Details: d{"scope": "Cardiology, cath lab"}}},
		{name: "privileges no facility", c: credtrack.Credential{Type: credtrack.CredPrivilege}},
		{name: "privileges end before start", c: credtrack.Credential{Type: credtrack.CredPrivilege, Issuer: "X", IssuedOn: day("2025-01-01"), ExpiresOn: day("2024-01-01")}},
		// Payer enrollment.
		{name: "payer ok", ok: true, c: credtrack.Credential{Type: credtrack.CredPayerEnrollment, Issuer: "Medicare", Number: "A12345",
			Jurisdiction: "US", IssuedOn: day("2022-01-01"), Details: d{"revalidation_date": "2027-01-01"}}},
		{name: "payer bad revalidation", c: credtrack.Credential{Type: credtrack.CredPayerEnrollment, Issuer: "Medicare", Details: d{"revalidation_date": "soon"}}},
		// Malpractice.
		{name: "malpractice ok", ok: true, c: credtrack.Credential{Type: credtrack.CredMalpractice, Issuer: "MedPro", Number: "MP0012345",
			Details: d{"per_claim": "$1,000,000", "aggregate": "3000000.00"}},
			wantDetails: d{"per_claim": "1000000", "aggregate": "3000000"}},
		{name: "malpractice aggregate below per claim", c: credtrack.Credential{Type: credtrack.CredMalpractice, Issuer: "MedPro", Details: d{"per_claim": "2000000", "aggregate": "1000000"}}},
		{name: "malpractice bad limit", c: credtrack.Credential{Type: credtrack.CredMalpractice, Issuer: "MedPro", Details: d{"per_claim": "a lot"}}},
		{name: "malpractice no carrier", c: credtrack.Credential{Type: credtrack.CredMalpractice}},
		// Certifications and other.
		{name: "bls ok", ok: true, c: credtrack.Credential{Type: credtrack.CredCertification, Issuer: "AHA", Details: d{"name": "BLS"}}},
		{name: "certification no name", c: credtrack.Credential{Type: credtrack.CredCertification, Issuer: "AHA"}},
		{name: "other ok", ok: true, c: credtrack.Credential{Type: credtrack.CredOther, Number: "X-1", Jurisdiction: "MO"}},
		{name: "unknown type", c: credtrack.Credential{Type: "tattoo"}},
		{name: "text control characters", c: credtrack.Credential{Type: credtrack.CredOther, Details: d{"name": "a\x00b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.ProviderID = "p1"
			c.Details = maps.Clone(tc.c.Details)
			err := c.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if credtrack.ErrorCode(err) != credtrack.EINVALID {
					t.Fatalf("code = %s, want EINVALID", credtrack.ErrorCode(err))
				}
				return
			}
			if tc.wantDetails != nil && !maps.Equal(c.Details, tc.wantDetails) {
				t.Errorf("Details = %v, want %v", c.Details, tc.wantDetails)
			}
			if tc.wantNumber != "" && c.Number != tc.wantNumber {
				t.Errorf("Number = %q, want %q", c.Number, tc.wantNumber)
			}
		})
	}
}

func TestEverySpecField(t *testing.T) {
	for _, typ := range credtrack.CredentialTypes {
		spec := typ.Spec()
		seen := map[string]bool{}
		for _, f := range spec.Fields {
			if f.Key == "" || f.Label == "" || seen[f.Key] {
				t.Errorf("%s: bad or repeated field %+v", typ, f)
			}
			seen[f.Key] = true
			if (f.Kind == credtrack.FieldEnum || f.Kind == credtrack.FieldMulti) && len(f.Options) == 0 {
				t.Errorf("%s.%s: no options", typ, f.Key)
			}
		}
		if spec.RequireNumber && spec.NumberLabel == "" || spec.RequireIssuer && spec.IssuerLabel == "" {
			t.Errorf("%s requires a field it hides", typ)
		}
	}
}

func TestRequiredCredentialSet(t *testing.T) {
	set := credtrack.RequiredCredentialSet{
		credtrack.ProfRN:    {credtrack.CredCertification, credtrack.CredStateLicense, credtrack.CredCE, credtrack.CredCE},
		credtrack.ProfMD:    credtrack.RequiredCredentials(credtrack.ProfMD), // same as default: dropped
		credtrack.ProfPT:    {},
		credtrack.ProfOther: {credtrack.CredOther},
	}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := set.For(credtrack.ProfRN); len(got) != 3 || got[0] != credtrack.CredStateLicense || got[1] != credtrack.CredCE {
		t.Errorf("RN = %v", got)
	}
	if _, ok := set[credtrack.ProfMD]; ok {
		t.Error("an entry equal to the defaults was kept")
	}
	if got := set.For(credtrack.ProfMD); len(got) != 5 {
		t.Errorf("MD = %v, want the defaults", got)
	}
	if got := set.For(credtrack.ProfPT); len(got) != 0 {
		t.Errorf("PT = %v, want nothing required", got)
	}
	if err := (credtrack.RequiredCredentialSet{"dentist": nil}).Validate(); err == nil {
		t.Error("unknown profession accepted")
	}
	if err := (credtrack.RequiredCredentialSet{credtrack.ProfRN: {"tattoo"}}).Validate(); err == nil {
		t.Error("unknown type accepted")
	}

	// Status with the organization's set: an RN with a license only is
	// missing a certification by default, compliant when the org requires
	// only the license.
	today := day("2026-11-25")
	p := &credtrack.Provider{Profession: credtrack.ProfRN, Active: true, Credentials: []*credtrack.Credential{
		{Type: credtrack.CredStateLicense, ExpiresOn: day("2028-01-01"), VerifiedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if s := p.Status(today, 90); s != credtrack.ProviderMissing {
		t.Errorf("default status = %s", s)
	}
	only := credtrack.RequiredCredentialSet{credtrack.ProfRN: {credtrack.CredStateLicense}}
	if s := p.StatusWith(today, 90, only); s != credtrack.ProviderCompliant {
		t.Errorf("status with the org's set = %s", s)
	}
	if s := p.StatusWith(day("2027-11-01"), 90, only); s != credtrack.ProviderExpiring {
		t.Errorf("status inside the window = %s", s)
	}
	if s := p.StatusWith(day("2027-11-01"), 30, only); s != credtrack.ProviderCompliant {
		t.Errorf("status outside a 30-day window = %s", s)
	}
}
