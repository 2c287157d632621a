package nursys_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/psv/nursys"
)

func recording(t *testing.T, name string) []byte {
	b, err := os.ReadFile("/work/shared/data/psv/nursys/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// lookupResult is a nurse lookup result in the e-Notify v3.1.2 shape
// (field names from the specification as the go-nursys SDK models them;
// no real result payload is public, so the values are made up).
const lookupResult = `{
  "ProcessingCompleteFlag": true,
  "Transaction": {"TransactionId": "a523e0d4-01e1-4c8d-8dd9-54b269c315b7", "TransactionDate": "2024-01-04T10:18:40.1234567-06:00",
    "TransactionComment": "", "TransactionSuccessFlag": true, "TransactionErrors": []},
  "NurseLookupResponses": [{
    "SuccessFlag": true, "FirstName": "ABIGAIL", "LastName": "OKAFOR", "NcsbnId": "12345678",
    "NurseLookupRequest": {"JurisdictionAbbreviation": "MO", "LicenseType": "RN", "LicenseNumber": "2004012345"},
    "NurseLookupLicenses": [{
      "LastName": "OKAFOR", "FirstName": "ABIGAIL", "LicenseType": "RN", "JurisdictionAbbreviation": "MO",
      "Jurisdiction": "Missouri", "LicenseNumber": "2004012345", "Active": "Yes", "LicenseStatus": "Current",
      "LicenseOriginalDate": "2004-06-01T00:00:00", "LicenseExpirationDate": "2027-04-30T00:00:00",
      "CompactStatus": "Multistate", "NurseLookupDisciplines": []
    }]
  }]
}`

type replay struct {
	mu      sync.Mutex
	polls   int
	pending int // polls answered "not complete" first
	result  string
	headers http.Header
	fail    []int
	bodies  []string
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.headers = r.Header.Clone()
	b, _ := io.ReadAll(r.Body)
	rp.bodies = append(rp.bodies, string(b))
	if len(rp.fail) > 0 {
		s := rp.fail[0]
		rp.fail = rp.fail[1:]
		w.WriteHeader(s)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/nurselookup":
		if r.Header.Get("password") != "s3cret-pass" {
			w.Write(recording(nil, "go-nursys_ChangePasswordSubmitResponseMessage_Failed.json"))
			return
		}
		w.Write(recording(nil, "go-nursys_Generic_SubmitResponseMessage.json"))
	case r.Method == http.MethodGet && r.URL.Path == "/nurselookup" &&
		r.URL.Query().Get("transactionId") == "a523e0d4-01e1-4c8d-8dd9-54b269c315b7":
		rp.polls++
		if rp.polls <= rp.pending {
			w.Write([]byte(`{"ProcessingCompleteFlag": false, "Transaction": {"TransactionId": "a523e0d4-01e1-4c8d-8dd9-54b269c315b7",
				"TransactionSuccessFlag": true, "TransactionErrors": []}, "NurseLookupResponses": []}`))
			return
		}
		w.Write([]byte(rp.result))
	default:
		http.NotFound(w, r)
	}
}

func setup(t *testing.T, password string) (*nursys.Source, *replay) {
	rp := &replay{result: lookupResult, pending: 1}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	c := nursys.New(srv.URL+"/", "inst-user", password)
	c.Fetch.Sleep = func(context.Context, time.Duration) error { return nil }
	c.Fetch.Limiter.SetLimit(1e6)
	return &nursys.Source{Client: c}, rp
}

func nurse() (*credtrack.Provider, *credtrack.Credential) {
	p := &credtrack.Provider{FirstName: "Abigail", LastName: "Okafor", Profession: credtrack.ProfRN}
	c := &credtrack.Credential{ID: "cred1", Type: credtrack.CredStateLicense, Jurisdiction: "MO", Number: "2004012345",
		ExpiresOn: credtrack.Date{Time: time.Date(2027, 4, 30, 0, 0, 0, 0, time.UTC)}}
	return p, c
}

func TestRecordedTransactionsParse(t *testing.T) {
	var ok, failed nursys.SubmitResponse
	if err := json.Unmarshal(recording(t, "go-nursys_Generic_SubmitResponseMessage.json"), &ok); err != nil {
		t.Fatal(err)
	}
	if !ok.Transaction.TransactionSuccessFlag || ok.Transaction.TransactionDate.Year() != 2024 ||
		ok.Transaction.TransactionDate.Nanosecond() != 966883900 {
		t.Fatalf("transaction: %+v", ok)
	}
	if err := json.Unmarshal(recording(t, "go-nursys_ChangePasswordSubmitResponseMessage_Failed.json"), &failed); err != nil {
		t.Fatal(err)
	}
	if failed.Transaction.TransactionSuccessFlag || failed.Transaction.TransactionErrors[0].ErrorID != 210 {
		t.Fatalf("failed transaction: %+v", failed)
	}
}

func TestNurseLookupVerifies(t *testing.T) {
	src, rp := setup(t, "s3cret-pass")
	p, c := nurse()
	res, err := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c})
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != credtrack.VerifyVerified || rp.polls != 2 || res.Evidence.HTTPStatus != 200 || len(res.Evidence.ResponseSHA256) != 32 {
		t.Fatalf("result %+v after %d polls", res, rp.polls)
	}
	if rp.headers.Get("username") != "inst-user" || rp.headers.Get("password") != "s3cret-pass" {
		t.Fatalf("auth headers: %v", rp.headers)
	}
	if !strings.Contains(rp.bodies[0], `"NurseLookupRequests":[{"JurisdictionAbbreviation":"MO","LicenseType":"RN","LicenseNumber":"2004012345","RecordId":"cred1"}]`) {
		t.Fatalf("submit body: %s", rp.bodies[0])
	}
	for k, v := range res.Query {
		if strings.Contains(v, "2004012345") || strings.Contains(v, "s3cret") {
			t.Fatalf("query %s holds a secret or the full number", k)
		}
	}
	// A lapsed license is excluded; a different expiry date is a mismatch.
	rp.result = strings.Replace(strings.Replace(lookupResult, `"Active": "Yes"`, `"Active": "No"`, 1), "Current", "Lapsed", 1)
	rp.polls = 0
	if res, _ := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); res.Result != credtrack.VerifyExcluded {
		t.Fatalf("lapsed: %+v", res)
	}
	rp.result, rp.polls = strings.Replace(lookupResult, "2027-04-30", "2025-04-30", 1), 0
	if res, _ := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); res.Result != credtrack.VerifyMismatch {
		t.Fatalf("expiry differs: %+v", res)
	}
	// Not in the results: not found.
	rp.result, rp.polls = strings.ReplaceAll(lookupResult, "2004012345", "1999000001"), 0
	if res, _ := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); res.Result != credtrack.VerifyNotFound {
		t.Fatalf("other license: %+v", res)
	}
	// Retries on 5xx apply to e-Notify too.
	rp.result, rp.polls, rp.fail = lookupResult, 0, []int{503}
	if res, _ := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); res.Result != credtrack.VerifyVerified {
		t.Fatalf("after a 503: %+v", res)
	}
}

func TestNurseLookupRefused(t *testing.T) {
	src, _ := setup(t, "wrong")
	p, c := nurse()
	res, err := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c})
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != credtrack.VerifyError || !strings.Contains(res.Error, "error 210") || strings.Contains(res.Error, "wrong") {
		t.Fatalf("refused: %+v", res)
	}
	// A physician's license is not for Nursys.
	p.Profession = credtrack.ProfMD
	if _, err := src.Verify(context.Background(), &credtrack.VerificationRequest{Provider: p, Credential: c}); credtrack.ErrorCode(err) != credtrack.EINVALID {
		t.Fatalf("MD license: %v", err)
	}
}
