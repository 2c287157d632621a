package nppes_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/psv/nppes"
)

// dataDir holds the real registry recordings (see its README.md).
var dataDir = filepath.Join("..", "..", "..", "..", "shared", "data", "psv", "nppes-api")

func recording(t *testing.T, name string) []byte {
	t.Helper()
	p := filepath.Join(dataDir, name)
	if _, err := os.Stat(p); err != nil {
		p = filepath.Join("/work/shared/data/psv/nppes-api", name)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".extract.json") { // one element of results[]: wrap it
		b = append(append([]byte(`{"result_count":1,"results":[`), b...), []byte("]}")...)
	}
	return b
}

// replay is a local registry: it answers from the recordings by the query,
// and can be told to fail the next requests with a status.
type replay struct {
	t     *testing.T
	mu    sync.Mutex
	fail  []int // statuses to answer before the real one
	retry string
	seen  []string
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	rp.seen = append(rp.seen, r.URL.RawQuery)
	var status int
	if len(rp.fail) > 0 {
		status, rp.fail = rp.fail[0], rp.fail[1:]
	}
	rp.mu.Unlock()
	if status != 0 {
		if rp.retry != "" {
			w.Header().Set("Retry-After", rp.retry)
		}
		w.WriteHeader(status)
		w.Write([]byte("<html>Service Unavailable</html>"))
		return
	}
	q := r.URL.Query()
	if q.Get("version") != "2.1" {
		w.Write([]byte(`{"Errors":[{"description":"Unsupported Version","field":"version","number":"17"}]}`))
		return
	}
	var file string
	switch {
	case q.Get("number") == "1720377294":
		file = "ropensci-npi_api-b2f594.json"
	case q.Get("number") == "1568946812":
		file = "ropensci-npi_api-8bdc8b.json"
	case q.Get("number") == "1760485387":
		file = "provider_api-3d40bf.json"
	case q.Get("number") == "1437410099":
		file = "provider_nppes-json_result-1437410099.extract.json"
	case q.Get("number") == "1174270805":
		file = "provider_nppes_type2.json"
	case q.Get("number") != "":
		file = "ropensci-npi_api-a2f836.json" // valid query, no match
	case q.Get("enumeration_type") != "" && len(q) == 2:
		file = "ropensci-npi_api-c85286.json"
	case q.Get("last_name") != "":
		file = "provider_api-3d40bf.json"
	default:
		file = "ropensci-npi_api-8d2d52.json"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(recording(rp.t, file))
}

func newClient(t *testing.T) (*nppes.Client, *replay, *[]time.Duration) {
	rp := &replay{t: t}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	c := nppes.New(srv.URL + "/api/")
	var waits []time.Duration
	c.Fetch.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	c.Fetch.Limiter.SetLimit(1e6) // the limiter itself is tested in TestRateLimitSpacesRequests
	c.Fetch.Limiter.SetBurst(1000)
	return c, rp, &waits
}

func TestParseBothGenerations(t *testing.T) {
	old, err := nppes.Parse(recording(t, "ropensci-npi_api-b2f594.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := old.Results[0]
	if r.Number != "1720377294" || r.CreatedEpoch.Format("2006-01-02") != "2011-04-05" || r.Basic.Sex() != "F" || r.HasEndpoints ||
		r.Basic.Name != "HIZA ELISE" || string(r.Taxonomies[0].License) != "2017-01132" || string(r.Taxonomies[1].License) != "" {
		t.Fatalf("old generation: %+v", r)
	}
	cur, err := nppes.Parse(recording(t, "provider_api-3d40bf.json"))
	if err != nil {
		t.Fatal(err)
	}
	r = cur.Results[0]
	if r.Number != "1760485387" || r.CreatedEpoch.Format("2006-01-02") != "2005-05-27" || r.Basic.Sex() != "M" || !r.HasEndpoints ||
		len(r.Endpoints) != 0 || r.Identifiers[0].Issuer != "" {
		t.Fatalf("current generation: %+v", r)
	}
	ext, err := nppes.Parse(recording(t, "provider_nppes-json_result-1437410099.extract.json"))
	if err != nil {
		t.Fatal(err)
	}
	r = ext.Results[0]
	if r.Basic.Sex() != "F" || r.Basic.Gender != "" || len(r.Endpoints) != 1 || r.Endpoints[0].Type != "DIRECT" ||
		len(r.PracticeLocations) != 5 || len(r.Taxonomies) != 3 || r.LastUpdatedEpoch.Year() < 2023 {
		t.Fatalf("2023+ record: %+v", r)
	}
	org, err := nppes.Parse(recording(t, "provider_nppes_type2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r := org.Results[0]; r.EnumerationType != "NPI-2" || r.Taxonomies[0].License != "" || r.Taxonomies[0].State != "" ||
		r.OtherNames[0].Code != "3" || r.Basic.CertificationDate != "2024-05-20" {
		t.Fatalf("organization record: %+v", r)
	}
	for _, f := range []string{"ropensci-npi_api-8d2d52.json", "ropensci-npi_api-c85286.json"} {
		e, err := nppes.Parse(recording(t, f))
		if err != nil || len(e.Errors) != 1 || e.ErrorText() == "" {
			t.Fatalf("%s: %+v %v", f, e, err)
		}
	}
	none, err := nppes.Parse(recording(t, "ropensci-npi_api-a2f836.json"))
	if err != nil || none.ResultCount != 0 || len(none.Results) != 0 {
		t.Fatalf("no match: %+v %v", none, err)
	}
	for _, f := range []string{"ropensci-npi_api-8bdc8b.json", "provider_nppes_ao.json"} {
		if _, err := nppes.Parse(recording(t, f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func hiza() *credtrack.Provider {
	return &credtrack.Provider{FirstName: "Elise", LastName: "Hiza", NPI: "1720377294", Specialty: "Orthopaedic Surgery",
		Credentials: []*credtrack.Credential{{Type: credtrack.CredStateLicense, Jurisdiction: "NC", Number: "201701132"}}}
}

func verify(t *testing.T, c *nppes.Client, p *credtrack.Provider) *credtrack.SourceResult {
	t.Helper()
	res, err := (&nppes.Source{Client: c}).Verify(context.Background(), &credtrack.VerificationRequest{Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func finding(res *credtrack.SourceResult, field string) credtrack.Finding {
	for _, f := range res.Findings {
		if f.Field == field {
			return f
		}
	}
	return credtrack.Finding{Field: "(none)"}
}

func TestVerifyComparesRegistryWithRecord(t *testing.T) {
	c, rp, _ := newClient(t)
	res := verify(t, c, hiza())
	if res.Result != credtrack.VerifyVerified || res.Evidence.HTTPStatus != 200 || len(res.Evidence.ResponseSHA256) != 32 ||
		len(res.Evidence.Response) == 0 || res.Query["npi"] != "••••7294" {
		t.Fatalf("verify Hiza: %+v", res)
	}
	if !strings.Contains(rp.seen[0], "number=1720377294") || !strings.Contains(rp.seen[0], "version=2.1") {
		t.Fatalf("query sent: %s", rp.seen[0])
	}
	// Each differing fact is its own mismatch.
	p := hiza()
	p.LastName, p.Specialty = "Hizer", "Dermatology"
	p.Credentials = append(p.Credentials, &credtrack.Credential{Type: credtrack.CredStateLicense, Jurisdiction: "SC", Number: "55555"})
	p.Credentials[0].Number = "2017-09999"
	res = verify(t, c, p)
	if res.Result != credtrack.VerifyMismatch {
		t.Fatalf("result %s", res.Result)
	}
	for _, field := range []string{"last_name", "taxonomy"} {
		if f := finding(res, field); f.Match || f.Severity != "mismatch" {
			t.Errorf("%s: %+v", field, f)
		}
	}
	var licenses []credtrack.Finding
	for _, f := range res.Findings {
		if f.Field == "license" {
			licenses = append(licenses, f)
		}
		if strings.Contains(f.Record+f.Source, "2017-09999") || strings.Contains(f.Record+f.Source, "2017-01132") {
			t.Errorf("a finding shows a full license number: %+v", f)
		}
	}
	if len(licenses) != 2 || licenses[0].Match || licenses[0].Source != "••••1132 (NC)" || licenses[1].Match ||
		!strings.Contains(licenses[1].Source, "no license in SC") {
		t.Fatalf("license findings: %+v", licenses)
	}
	if f := finding(res, "first_name"); !f.Match {
		t.Errorf("first name: %+v", f)
	}

	// Current generation, licence in MN, matching despite a leading zero.
	dewey := &credtrack.Provider{FirstName: "Paul", LastName: "Dewey", NPI: "1760485387", Specialty: "Internal Medicine",
		Credentials: []*credtrack.Credential{{Type: credtrack.CredStateLicense, Jurisdiction: "MN", Number: "043634"}}}
	if res := verify(t, c, dewey); res.Result != credtrack.VerifyVerified {
		t.Fatalf("Dewey: %+v", res.Findings)
	}
	// Several licences in several states (FL, WA, NY).
	dc := &credtrack.Provider{FirstName: "Josephine", LastName: "Dela-Cruz", NPI: "1437410099",
		Credentials: []*credtrack.Credential{{Type: credtrack.CredStateLicense, Jurisdiction: "FL", Number: "ME 130202"}}}
	if res := verify(t, c, dc); res.Result != credtrack.VerifyVerified {
		t.Fatalf("Dela Cruz: %+v", res.Findings)
	}
	// An organization's NPI given for a person.
	org := &credtrack.Provider{FirstName: "Timothy", LastName: "Barton", NPI: "1568946812"}
	if res := verify(t, c, org); res.Result != credtrack.VerifyMismatch || finding(res, "enumeration_type").Match {
		t.Fatalf("NPI-2: %+v", res)
	}
	// A valid NPI the registry does not list (deactivated or never issued).
	if res := verify(t, c, &credtrack.Provider{FirstName: "A", LastName: "B", NPI: "1234567893"}); res.Result != credtrack.VerifyNotFound {
		t.Fatalf("unknown NPI: %+v", res)
	}
	// No NPI, or an invalid one: refused before any call.
	n := len(rp.seen)
	for _, npi := range []string{"", "1234567890"} {
		_, err := (&nppes.Source{Client: c}).Verify(context.Background(), &credtrack.VerificationRequest{
			Provider: &credtrack.Provider{FirstName: "A", LastName: "B", NPI: npi}})
		if credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("NPI %q: %v", npi, err)
		}
	}
	if len(rp.seen) != n {
		t.Fatal("an invalid NPI reached the registry")
	}
}

func TestDeactivatedRecordIsExcluded(t *testing.T) {
	r, err := nppes.Parse(recording(t, "provider_api-3d40bf.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec := r.Results[0]
	rec.Basic.Status, rec.Basic.DeactivationDate = "D", "2024-03-01"
	fs, result := nppes.Compare(&credtrack.Provider{FirstName: "Paul", LastName: "Dewey"}, nil, &rec)
	if result != credtrack.VerifyExcluded || fs[len(fs)-1].Field != "deactivation" || fs[len(fs)-1].Match {
		t.Fatalf("deactivated: %s %+v", result, fs)
	}
}

func TestSearchAndErrorsBody(t *testing.T) {
	c, rp, _ := newClient(t)
	ans, err := c.Find(context.Background(), nppes.Search{LastName: "dewey", State: "mn", Taxonomy: "Internal Med*", Limit: 500})
	if err != nil || len(ans.Results) != 1 {
		t.Fatalf("search: %+v %v", ans, err)
	}
	q := rp.seen[len(rp.seen)-1]
	for _, want := range []string{"last_name=dewey", "state=MN", "taxonomy_description=Internal+Med%2A", "limit=200"} {
		if !strings.Contains(q, want) {
			t.Errorf("query %s lacks %s", q, want)
		}
	}
	if _, err := c.Find(context.Background(), nppes.Search{State: "MN"}); credtrack.ErrorCode(err) != credtrack.EINVALID {
		t.Fatalf("state alone: %v", err)
	}
	ans, err = c.Find(context.Background(), nppes.Search{EnumerationType: "NPI-1"})
	if err != nil || len(ans.Errors) != 1 || !strings.Contains(ans.ErrorText(), "requires additional search criteria") {
		t.Fatalf("Errors body: %+v %v", ans, err)
	}
}

func TestRetriesOn5xxAnd429(t *testing.T) {
	c, rp, waits := newClient(t)
	rp.fail = []int{503, 502}
	res := verify(t, c, hiza())
	if res.Result != credtrack.VerifyVerified || len(rp.seen) != 3 {
		t.Fatalf("after two 5xx: %s, %d requests", res.Result, len(rp.seen))
	}
	if len(*waits) != 2 || (*waits)[0] != 500*time.Millisecond || (*waits)[1] != time.Second {
		t.Fatalf("backoff waits = %v", *waits)
	}
	// 429 with Retry-After: the wait follows the header.
	*waits, rp.seen, rp.fail, rp.retry = nil, nil, []int{429}, "3"
	if res := verify(t, c, hiza()); res.Result != credtrack.VerifyVerified || len(*waits) != 1 || (*waits)[0] != 3*time.Second {
		t.Fatalf("429: %s, waits %v", res.Result, *waits)
	}
	// A source that keeps failing: an error result with the evidence of
	// the last answer, and a message without the NPI or the URL.
	*waits, rp.seen, rp.fail, rp.retry = nil, nil, []int{503, 503, 503}, ""
	res = verify(t, c, hiza())
	if res.Result != credtrack.VerifyError || res.Evidence.HTTPStatus != 503 || len(rp.seen) != 3 ||
		res.Error != "HTTP 503 after 3 attempts" {
		t.Fatalf("all 5xx: %+v", res)
	}
	// A 4xx other than 429 is not retried.
	rp.seen, rp.fail = nil, []int{404}
	res = verify(t, c, hiza())
	if res.Result != credtrack.VerifyError || len(rp.seen) != 1 || res.Evidence.HTTPStatus != 404 {
		t.Fatalf("404: %+v, %d requests", res, len(rp.seen))
	}
	// An unreachable registry: no URL (with the NPI) in the message.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	dead := nppes.New(srv.URL)
	dead.Fetch.Sleep = func(context.Context, time.Duration) error { return nil }
	res, err := (&nppes.Source{Client: dead}).Verify(context.Background(), &credtrack.VerificationRequest{Provider: hiza()})
	if err != nil || res.Result != credtrack.VerifyError || strings.Contains(res.Error, "1720377294") || strings.Contains(res.Error, "http") {
		t.Fatalf("unreachable: %+v %v", res, err)
	}
}

// TestRateLimitSpacesRequests: the client-side limiter admits a burst,
// then makes the caller wait for a token (checked through the limiter's
// reservation, not the wall clock).
func TestRateLimitSpacesRequests(t *testing.T) {
	c := nppes.New("http://127.0.0.1:1/")
	lim := c.Fetch.Limiter
	now := time.Now()
	for i := 0; i < lim.Burst(); i++ {
		if !lim.AllowN(now, 1) {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d != 500*time.Millisecond {
		t.Fatalf("next request waits %v, want 500ms at 2 a second", d)
	}
}
