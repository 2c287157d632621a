package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

func TestVerificationsStoredWithEvidence(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctxA, orgA := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		p := newProvider("1720377294")
		if err := db.CreateProvider(ctxA, p); err != nil {
			t.Fatal(err)
		}
		c := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredNPI, Number: "1720377294"}
		if err := db.CreateCredential(ctxA, c); err != nil {
			t.Fatal(err)
		}
		raw := []byte(`{"result_count":1,"results":[{"number":1720377294}]}`)
		sum := sha256.Sum256(raw)
		v := &credtrack.Verification{ProviderID: p.ID, CredentialID: c.ID, Source: credtrack.SourceNPPES,
			Query: map[string]string{"kind": "lookup", "npi": "••••7294"}, Result: credtrack.VerifyVerified,
			Findings:   []credtrack.Finding{{Field: "last_name", Record: "OKAFOR", Source: "HIZA", Match: false, Severity: "mismatch"}},
			HTTPStatus: 200, Latency: 42 * time.Millisecond, ResponseSHA256: sum[:]}
		if err := db.RecordVerification(ctxA, v, raw); err != nil {
			t.Fatal(err)
		}
		// Freshness: the credential now says when and by which source.
		got, err := db.FindCredentialByID(ctxA, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.VerifiedAt.Equal(clock.T) || got.VerifiedBy != "NPPES NPI Registry" {
			t.Fatalf("credential verified %v by %q", got.VerifiedAt, got.VerifiedBy)
		}
		if got.Stale(clock.T.Add(119*24*time.Hour), 120) || !got.Stale(clock.T.Add(121*24*time.Hour), 120) {
			t.Fatal("staleness does not follow the 120-day limit")
		}
		list, err := db.FindVerifications(ctxA, p.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("FindVerifications = %v, %v", list, err)
		}
		if l := list[0]; l.Result != credtrack.VerifyVerified || l.HTTPStatus != 200 || l.Latency != 42*time.Millisecond ||
			!l.HasResponse || l.Query["npi"] != "••••7294" || len(l.Findings) != 1 || l.Findings[0].Source != "HIZA" {
			t.Fatalf("listed verification = %+v", l)
		}
		opened, body, err := db.OpenVerification(ctxA, v.ID)
		if err != nil || !bytes.Equal(body, raw) || !bytes.Equal(opened.ResponseSHA256, sum[:]) {
			t.Fatalf("OpenVerification = %s, %v", body, err)
		}
		// The raw response is sealed at rest; the NPI is nowhere in clear.
		if n, err := db.QueryIntAsAppForTest(ctxA, "SELECT count(*) FROM verifications WHERE request LIKE ? OR findings LIKE ?",
			"%1720377294%", "%1720377294%"); err != nil || n != 0 {
			t.Fatalf("NPI in clear in %d rows (%v)", n, err)
		}
		// Another organization sees none of it.
		if _, _, err := db.OpenVerification(ctxB, v.ID); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("other org opened the verification: %v", err)
		}
		if _, err := db.FindVerifications(ctxB, p.ID); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("other org listed verifications: %v", err)
		}
		if err := db.RecordVerification(ctxB, &credtrack.Verification{ProviderID: p.ID, Source: credtrack.SourceNPPES,
			Result: credtrack.VerifyVerified}, nil); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("other org recorded a verification: %v", err)
		}
		// An auditor reads the history but may not run verifications.
		aud := storetest.As("u-aud", orgA.ID, credtrack.RoleAuditor)
		if _, err := db.FindVerifications(aud, p.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordVerification(aud, &credtrack.Verification{ProviderID: p.ID, Source: credtrack.SourceNPPES,
			Result: credtrack.VerifyVerified}, nil); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Fatalf("auditor recorded a verification: %v", err)
		}
		// The call was audited with request and response metadata only.
		evs, _, err := db.FindAuditEvents(ctxA, credtrack.AuditFilter{Action: "psv.nppes.requested"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit events = %v, %v", evs, err)
		}
		d := evs[0].Details
		if d["http_status"] != "200" || d["latency_ms"] != "42" || d["result"] != "verified" || d["request.npi"] != "••••7294" ||
			!strings.HasPrefix(d["response_sha256"], "") || len(d["response_sha256"]) != 64 {
			t.Fatalf("audit details = %v", d)
		}
		for k, val := range d {
			if strings.Contains(val, "1720377294") {
				t.Fatalf("audit detail %s holds the NPI", k)
			}
		}
	})
}

func TestChecksTasksAndSourceHealth(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctxA, _ := storetest.NewOrg(t, db, "Org A")
		ctxB, _ := storetest.NewOrg(t, db, "Org B")
		p := newProvider("")
		if err := db.CreateProvider(ctxA, p); err != nil {
			t.Fatal(err)
		}
		lic := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredStateLicense, Number: "2004012345", Jurisdiction: "MO"}
		if err := db.CreateCredential(ctxA, lic); err != nil {
			t.Fatal(err)
		}
		check := &credtrack.VerificationCheck{ProviderID: p.ID, CredentialID: lic.ID, Source: credtrack.SourceNursys}
		if err := db.CreateCheck(ctxA, check); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindCheck(ctxB, check.ID); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("other org found the check: %v", err)
		}
		// Three failed calls in a row: the source is failing.
		for i := 0; i < credtrack.FailingAfter; i++ {
			clock.Advance(time.Minute)
			v := &credtrack.Verification{ProviderID: p.ID, CredentialID: lic.ID, Source: credtrack.SourceNursys,
				Result: credtrack.VerifyError, Error: "HTTP 503 after 3 attempts", HTTPStatus: 503, Latency: 10 * time.Millisecond}
			if err := db.RecordVerification(ctxA, v, nil); err != nil {
				t.Fatal(err)
			}
		}
		h, err := db.SourceHealth(ctxB, credtrack.SourceNursys, clock.T.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !h.Failing || h.Calls != 3 || h.Errors != 3 || h.ErrorRate != 1 || h.LastError != "HTTP 503 after 3 attempts" ||
			!h.LastSuccess.IsZero() || h.AvgLatency != 10*time.Millisecond {
			t.Fatalf("health = %+v", h)
		}
		changed, err := db.MakeCheckManual(ctxA, check.ID, "source failing")
		if err != nil || !changed {
			t.Fatalf("MakeCheckManual = %v, %v", changed, err)
		}
		if again, _ := db.MakeCheckManual(ctxA, check.ID, "x"); again {
			t.Fatal("a manual check was made manual twice")
		}
		tasks, err := db.FindChecks(ctxA, credtrack.CheckManual)
		if err != nil || len(tasks) != 1 || tasks[0].ProviderName != "Abigail Okafor" || tasks[0].Reason != "source failing" {
			t.Fatalf("tasks = %+v, %v", tasks, err)
		}
		if other, err := db.FindChecks(ctxB, credtrack.CheckManual); err != nil || len(other) != 0 {
			t.Fatalf("other org sees tasks: %v %v", other, err)
		}
		// A manual verification closes the task and refreshes the credential.
		clock.Advance(time.Hour)
		mv := &credtrack.Verification{ProviderID: p.ID, CredentialID: lic.ID, CheckID: check.ID, Source: credtrack.SourceManual,
			Result: credtrack.VerifyVerified, VerifiedOn: credtrack.DateOf(clock.T), Query: map[string]string{"source": "Missouri board web lookup"}}
		if err := db.RecordVerification(ctxA, mv, nil); err != nil {
			t.Fatal(err)
		}
		if c, _ := db.FindCheck(ctxA, check.ID); c.State != credtrack.CheckClosed || c.VerificationID != mv.ID {
			t.Fatalf("check after manual verification = %+v", c)
		}
		if got, _ := db.FindCredentialByID(ctxA, lic.ID); got.VerifiedBy != "Manual verification" {
			t.Fatalf("verified by %q", got.VerifiedBy)
		}
		// A success resets the failure count.
		if err := db.RecordVerification(ctxA, &credtrack.Verification{ProviderID: p.ID, Source: credtrack.SourceNursys,
			Result: credtrack.VerifyNotFound, HTTPStatus: 200}, nil); err != nil {
			t.Fatal(err)
		}
		if h, _ := db.SourceHealth(ctxA, credtrack.SourceNursys, clock.T.Add(-24*time.Hour)); h.Failing || h.LastSuccess.IsZero() {
			t.Fatalf("health after success = %+v", h)
		}
		// Freshness limit: default 120, changeable by org.manage only.
		if d, err := db.VerificationMaxAgeDays(ctxA); err != nil || d != 120 {
			t.Fatalf("max age = %d, %v", d, err)
		}
		if err := db.SetVerificationMaxAgeDays(ctxA, 90); err != nil {
			t.Fatal(err)
		}
		if d, _ := db.VerificationMaxAgeDays(ctxA); d != 90 {
			t.Fatalf("max age after change = %d", d)
		}
		if d, _ := db.VerificationMaxAgeDays(ctxB); d != 120 {
			t.Fatalf("other org's max age = %d", d)
		}
		coord := storetest.As("u-c", check.OrgID, credtrack.RoleCoordinator)
		if err := db.SetVerificationMaxAgeDays(coord, 30); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Fatalf("coordinator changed the limit: %v", err)
		}
		if db.Backend() == sqlstore.Postgres {
			// Row-level security on the new tenant table.
			if n, err := db.QueryIntAsAppForTest(ctxB, "SELECT count(*) FROM verification_checks"); err != nil || n != 0 {
				t.Fatalf("org B sees %d checks through RLS (%v)", n, err)
			}
			if n, err := db.QueryIntAsAppForTest(context.Background(), "SELECT count(*) FROM verification_checks"); err != nil || n != 0 {
				t.Fatalf("no-org transaction sees %d checks (%v)", n, err)
			}
		}
	})
}
