package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"credtrack"
	"credtrack/internal/api"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// apiClient calls the fixture's handler over real HTTP; every response
// is validated against openapi.json on the way back.
type apiClient struct {
	t    *testing.T
	srv  *httptest.Server
	http *http.Client
	spec *spec
}

func newAPIClient(t *testing.T, f *fixture, s *spec) *apiClient {
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	return &apiClient{t: t, srv: srv, spec: s,
		http: &http.Client{Transport: &checkingTransport{t: t, spec: s, h: f.h}}}
}

// result is one answer.
type result struct {
	code   int
	header http.Header
	body   []byte
	json   map[string]any
	err    error // reading the body failed (an aborted download)
}

func (c *apiClient) call(method, path, token, ctype string, body io.Reader) result {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	r := result{code: res.StatusCode, header: res.Header}
	r.body, r.err = io.ReadAll(res.Body)
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && r.err == nil {
		json.Unmarshal(r.body, &r.json)
	}
	return r
}

func (c *apiClient) get(path, token string) result { return c.call("GET", path, token, "", nil) }

func (c *apiClient) postJSON(path, token, body string) result {
	return c.call("POST", path, token, "application/json", strings.NewReader(body))
}

// want checks the status and, for errors, the stable code.
func (r result) want(t *testing.T, what string, status int, code string) {
	t.Helper()
	if r.code != status {
		t.Errorf("%s = %d %.300s, want %d", what, r.code, r.body, status)
		return
	}
	if code != "" {
		e, _ := r.json["error"].(map[string]any)
		if e == nil || e["code"] != code {
			t.Errorf("%s: error %.300s, want code %q", what, r.body, code)
		}
	}
}

// records fingerprints the record tables, which input that is refused
// must leave as they were.
func records(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	fp, err := db.FingerprintForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fp["providers"] + " " + fp["credentials"] + " " + fp["documents"]
}

// blobCount counts the files in the blob store.
func blobCount(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// multipartBody builds a multipart/form-data body with fields (in order)
// and then a file part.
func multipartBody(t *testing.T, fields [][2]string, fileField, filename string, content []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	if fileField != "" {
		fw, err := mw.CreateFormFile(fileField, filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// pdf returns a PDF-signed document of n bytes whose content depends on seed.
func pdf(n int, seed string) []byte {
	b := []byte("%PDF-1.7\n% " + seed + "\n")
	for len(b) < n {
		b = append(b, seed...)
		b = append(b, byte('0'+len(b)%10))
	}
	return b[:n]
}

var pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// TestAPIWalk exercises every API route over real HTTP on both backends:
// what works, and bad input (malformed JSON, unknown fields, wrong media
// types, bodies over the limits, other organizations' IDs), which must
// answer a stable 4xx code, never a 500, and change nothing. Every
// response is validated against openapi.json, and every operation must
// have been seen succeeding.
func TestAPIWalk(t *testing.T) {
	s := loadSpec(t)
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newFixture(t, db, clock)
		c := newAPIClient(t, f, s)

		// The OpenAPI document is public.
		r := c.get("/api/openapi.json", "")
		r.want(t, "GET /api/openapi.json without a token", 200, "")
		if !bytes.Equal(r.body, api.OpenAPIDocument()) {
			t.Error("the served OpenAPI document is not the embedded one")
		}
		c.get("/api/v1/me", f.coordA).want(t, "me", 200, "")
		c.get("/api/v1/nope", f.coordA).want(t, "unknown route", 404, credtrack.ENOTFOUND)

		providersBadInput(t, c, f)
		pid := providersGood(t, c, f)
		providersSearchWalk(t, c, f)
		cid := credentialsWalk(t, c, f, pid)
		documentsWalk(t, c, f)
		updateDeleteWalk(t, c, f, pid, cid)

		// Every documented operation was seen succeeding. The spec's
		// tally is shared with the other backend's subtest, which may be
		// running in parallel: read it under its lock.
		s.mu.Lock()
		validated := maps.Clone(s.validated)
		s.mu.Unlock()
		for route := range s.operations() {
			ok := false
			for k, n := range validated {
				if n > 0 && strings.HasPrefix(k, route+" 2") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("no successful response of %s was validated", route)
			}
		}
		if strings.Contains(f.logs.String(), "level=ERROR") && !strings.Contains(f.logs.String(), "document download failed") {
			t.Errorf("the API logged errors:\n%s", f.logs.String())
		}
	})
}

func providersBadInput(t *testing.T, c *apiClient, f *fixture) {
	before := records(t, f.db)
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"malformed JSON", "application/json", `{"first_name":`, 400, credtrack.EINVALID},
		{"not JSON", "application/json", `first_name=Ann`, 400, credtrack.EINVALID},
		{"empty body", "application/json", ``, 400, credtrack.EINVALID},
		{"an array", "application/json", `[]`, 400, credtrack.EINVALID},
		{"unknown field", "application/json", `{"first_name":"Ann","last_name":"Lee","password":"x"}`, 400, credtrack.EINVALID},
		{"wrong type", "application/json", `{"first_name":5,"last_name":"Lee"}`, 400, credtrack.EINVALID},
		{"two objects", "application/json", `{"first_name":"Ann","last_name":"Lee"}{}`, 400, credtrack.EINVALID},
		{"no names", "application/json", `{}`, 400, credtrack.EINVALID},
		{"bad NPI", "application/json", `{"first_name":"Ann","last_name":"Lee","npi":"1234567890"}`, 400, credtrack.EINVALID},
		{"bad SSN", "application/json", `{"first_name":"Ann","last_name":"Lee","ssn":"12-34"}`, 400, credtrack.EINVALID},
		{"bad date of birth", "application/json", `{"first_name":"Ann","last_name":"Lee","dob":"1980-13-45"}`, 400, credtrack.EINVALID},
		{"unknown profession", "application/json", `{"first_name":"Ann","last_name":"Lee","profession":"wizard"}`, 400, credtrack.EINVALID},
		{"long name", "application/json", `{"first_name":"` + strings.Repeat("a", 101) + `","last_name":"Lee"}`, 400, credtrack.EINVALID},
		{"over 64 KiB", "application/json", `{"first_name":"Ann","last_name":"Lee","specialty":"` + strings.Repeat("x", 70<<10) + `"}`, 413, credtrack.ETOOLARGE},
		{"form body", "application/x-www-form-urlencoded", `first_name=Ann&last_name=Lee`, 415, credtrack.EUNSUPPORTED},
		{"no media type", "", `{"first_name":"Ann","last_name":"Lee"}`, 415, credtrack.EUNSUPPORTED},
	} {
		r := c.call("POST", "/api/v1/providers", f.coordA, tc.ctype, strings.NewReader(tc.body))
		r.want(t, "create provider with "+tc.name, tc.status, tc.code)
		if strings.Contains(string(r.body), "1980-13-45") || strings.Contains(string(r.body), "1234567890") {
			t.Errorf("create provider with %s: the error echoes the value: %s", tc.name, r.body)
		}
	}
	// Roles that may not write.
	c.postJSON("/api/v1/providers", f.auditorA, `{"first_name":"Ann","last_name":"Lee"}`).want(t, "auditor creates", 403, credtrack.EFORBIDDEN)
	c.postJSON("/api/v1/providers", f.providerRoleA, `{"first_name":"Ann","last_name":"Lee"}`).want(t, "provider token creates", 403, credtrack.EFORBIDDEN)
	c.postJSON("/api/v1/providers", "", `{"first_name":"Ann","last_name":"Lee"}`).want(t, "anonymous creates", 401, credtrack.EUNAUTHORIZED)
	// List parameters.
	for _, q := range []string{"profession=wizard", "status=great", "reveal=npi", "limit=x", "q=" + strings.Repeat("a", 201),
		"credential_type=wand", "expiring_within_days=0", "expiring_within_days=x", "sort=random"} {
		c.get("/api/v1/providers?"+q, f.coordA).want(t, "list ?"+q[:min(len(q), 20)], 400, credtrack.EINVALID)
	}
	if after := records(t, f.db); after != before {
		t.Errorf("refused provider input changed the records:\n%s\n%s", before, after)
	}
}

func providersGood(t *testing.T, c *apiClient, f *fixture) string {
	r := c.postJSON("/api/v1/providers", f.coordA, `{"first_name":"Rosa","last_name":"Delgado","profession":"RN","state":"TX",
		"email":"Rosa@Example.org","npi":"1245319599","ssn":"123-45-6789","dob":"1985-04-12"}`)
	r.want(t, "create provider", 201, "")
	id, _ := r.json["id"].(string)
	if r.header.Get("Location") != "/api/v1/providers/"+id || id == "" {
		t.Fatalf("create provider: Location %q, id %q", r.header.Get("Location"), id)
	}
	if r.json["npi_last4"] != "9599" || r.json["ssn_last4"] != "6789" || r.json["dob_on_file"] != true || r.json["email"] != "rosa@example.org" {
		t.Errorf("created provider = %s", r.body)
	}
	for _, secret := range []string{"1245319599", "123456789", "123-45-6789", "1985-04-12"} {
		if bytes.Contains(r.body, []byte(secret)) {
			t.Errorf("the created provider shows %q in full: %s", secret, r.body)
		}
	}
	if r := c.get("/api/v1/providers?q=delg&profession=RN", f.coordA); r.code != 200 || r.json["total"] != 1.0 {
		t.Errorf("search for the new provider = %d %s", r.code, r.body)
	}
	// The fixture's provider holds a DEA registration expiring in a year.
	r2 := c.get("/api/v1/providers?credential_type=dea&expiring_within_days=400&sort=-name", f.coordA)
	if list, _ := r2.json["providers"].([]any); r2.code != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != f.providerID {
		t.Errorf("filter by credential type and expiry = %d %s", r2.code, r2.body)
	}
	if r := c.get("/api/v1/providers?sort=-name", f.coordA); r.code != 200 || r.json["providers"].([]any)[0].(map[string]any)["last_name"] != "Okafor" {
		t.Errorf("?sort=-name = %d %s", r.code, r.body)
	}

	// Reveal: masked by default; in full on request for roles that may.
	r = c.get("/api/v1/providers/"+id, f.coordA)
	r.want(t, "show provider", 200, "")
	if r.json["npi"] != nil || r.json["ssn"] != nil || r.json["dob"] != nil || r.json["ssn_last4"] != "6789" {
		t.Errorf("show without reveal = %s", r.body)
	}
	r = c.get("/api/v1/providers/"+id+"?reveal=npi,ssn&reveal=dob", f.coordA)
	r.want(t, "reveal", 200, "")
	if r.json["npi"] != "1245319599" || r.json["ssn"] != "123456789" || r.json["dob"] != "1985-04-12" {
		t.Errorf("reveal = %s", r.body)
	}
	evs, _, err := f.db.FindAuditEvents(storetest.As("u-aud", f.orgA, credtrack.RoleAuditor),
		credtrack.AuditFilter{Action: "sensitive.revealed", TargetID: id})
	if err != nil || len(evs) != 3 || evs[0].ActorKind != credtrack.ActorToken {
		t.Errorf("reveal audit = %+v, %v", evs, err)
	}
	for _, ev := range evs {
		if ev.Details["field"] == "" || strings.Contains(fmt.Sprint(ev.Details), "1245319599") {
			t.Errorf("reveal event details = %v", ev.Details)
		}
	}
	r = c.get("/api/v1/providers/"+id+"?reveal=npi", f.auditorA)
	r.want(t, "auditor reveals", 403, credtrack.EFORBIDDEN)
	if bytes.Contains(r.body, []byte("1245319599")) || bytes.Contains(r.body, []byte("Delgado")) {
		t.Errorf("the refused reveal shows data: %s", r.body)
	}
	c.get("/api/v1/providers/"+id+"?reveal=password", f.coordA).want(t, "reveal an unknown field", 400, credtrack.EINVALID)
	c.get("/api/v1/providers/"+id+"?reveal=", f.coordA).want(t, "reveal nothing", 400, credtrack.EINVALID)
	r = c.get("/api/v1/providers/"+id+"?reveal=npi", f.coordB)
	r.want(t, "org B reveals org A's provider", 404, credtrack.ENOTFOUND)
	if bytes.Contains(r.body, []byte("9599")) || bytes.Contains(r.body, []byte("Delgado")) {
		t.Errorf("org B's 404 shows data: %s", r.body)
	}
	if evs, _, _ := f.db.FindAuditEvents(storetest.As("u-aud", f.orgA, credtrack.RoleAuditor),
		credtrack.AuditFilter{Action: "sensitive.revealed", TargetID: id}); len(evs) != 3 {
		t.Errorf("refused reveals were recorded as reveals: %d events", len(evs))
	}
	return id
}

func credentialsWalk(t *testing.T, c *apiClient, f *fixture, pid string) string {
	path := "/api/v1/providers/" + pid + "/credentials"
	r := c.get(path, f.coordA)
	r.want(t, "list credentials", 200, "")
	if list, _ := r.json["credentials"].([]any); len(list) != 0 {
		t.Errorf("new provider's credentials = %s", r.body)
	}
	before := records(t, f.db)
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"malformed JSON", `{"type":"npi",`, 400, credtrack.EINVALID},
		{"unknown field", `{"type":"npi","number":"1245319599","color":"red"}`, 400, credtrack.EINVALID},
		{"unknown type", `{"type":"wizardry"}`, 400, credtrack.EINVALID},
		{"bad NPI check digit", `{"type":"npi","number":"1245319598"}`, 400, credtrack.EINVALID},
		{"bad DEA check digit", `{"type":"dea","number":"BB1388567"}`, 400, credtrack.EINVALID},
		{"license without a state", `{"type":"state_license","number":"RN123"}`, 400, credtrack.EINVALID},
		{"bad date", `{"type":"other","number":"X","expires_on":"31/12/2030"}`, 400, credtrack.EINVALID},
		{"expiry before issue", `{"type":"other","number":"X","issued_on":"2030-01-01","expires_on":"2029-01-01"}`, 400, credtrack.EINVALID},
		{"details of the wrong type", `{"type":"other","details":{"hours":5}}`, 400, credtrack.EINVALID},
		{"over 64 KiB", `{"type":"other","notes":"` + strings.Repeat("n", 70<<10) + `"}`, 413, credtrack.ETOOLARGE},
	} {
		c.postJSON(path, f.coordA, tc.body).want(t, "create credential with "+tc.name, tc.status, tc.code)
	}
	// Another organization's provider: 404 whatever the body.
	for _, body := range []string{`{"type":"npi","number":"1245319599"}`, `{`, `{}`} {
		r := c.postJSON(path, f.coordB, body)
		r.want(t, "org B adds a credential to org A's provider", 404, credtrack.ENOTFOUND)
	}
	c.postJSON("/api/v1/providers/"+credtrack.NewID()+"/credentials", f.coordA, `{"type":"other"}`).want(t, "unknown provider", 404, credtrack.ENOTFOUND)
	c.postJSON(path, f.auditorA, `{"type":"other"}`).want(t, "auditor adds a credential", 403, credtrack.EFORBIDDEN)
	c.get(path, f.coordB).want(t, "org B lists org A's credentials", 404, credtrack.ENOTFOUND)
	if after := records(t, f.db); after != before {
		t.Errorf("refused credential input changed the records:\n%s\n%s", before, after)
	}

	r = c.postJSON(path, f.coordA, `{"type":"state_license","number":"RN-778812","jurisdiction":"TX","issuer":"Texas BON",
		"issued_on":"2020-01-01","expires_on":"2031-06-30","notes":"compact","details":{"license_type":"RN","compact":"yes"}}`)
	r.want(t, "create credential", 201, "")
	cid, _ := r.json["id"].(string)
	if r.header.Get("Location") != "/api/v1/credentials/"+cid || r.json["number_last4"] != "8812" || r.json["number"] != nil {
		t.Errorf("created credential = %s (Location %q)", r.body, r.header.Get("Location"))
	}
	if r := c.get(path, f.coordA); r.code != 200 || len(r.json["credentials"].([]any)) != 1 || bytes.Contains(r.body, []byte("RN-778812")) {
		t.Errorf("list credentials = %d %s", r.code, r.body)
	}
	r = c.get("/api/v1/credentials/"+cid+"?reveal=number", f.coordA)
	if r.code != 200 || r.json["number"] != "RN-778812" {
		t.Errorf("reveal the number = %d %s", r.code, r.body)
	}
	evs, _, err := f.db.FindAuditEvents(storetest.As("u-aud", f.orgA, credtrack.RoleAuditor),
		credtrack.AuditFilter{Action: "sensitive.revealed", TargetID: cid})
	if err != nil || len(evs) != 1 || evs[0].Details["field"] != "number" {
		t.Errorf("number reveal audit = %+v, %v", evs, err)
	}
	r = c.get("/api/v1/credentials/"+cid+"?reveal=number", f.auditorA)
	r.want(t, "auditor reveals a number", 403, credtrack.EFORBIDDEN)
	c.get("/api/v1/credentials/"+cid+"?reveal=ssn", f.coordA).want(t, "reveal ssn of a credential", 400, credtrack.EINVALID)
	r = c.get("/api/v1/credentials/"+cid+"?reveal=number", f.coordB)
	r.want(t, "org B reveals org A's credential", 404, credtrack.ENOTFOUND)
	if bytes.Contains(r.body, []byte("8812")) {
		t.Errorf("org B's 404 shows the number: %s", r.body)
	}
	return cid
}

func documentsWalk(t *testing.T, c *apiClient, f *fixture) {
	up := "/api/v1/providers/" + f.providerID + "/documents"
	before, blobsBefore := records(t, f.db), blobCount(t, f.blobDir)

	// Refused uploads leave no row and no blob.
	ct, body := multipartBody(t, nil, "file", "notes.txt", []byte("just text, not a PDF"))
	c.call("POST", up, f.coordA, ct, body).want(t, "upload a text file", 415, credtrack.EUNSUPPORTED)
	c.call("POST", up+"?filename=a.pdf", f.coordA, "application/pdf", bytes.NewReader([]byte("<html>"))).want(t, "raw HTML named PDF", 415, credtrack.EUNSUPPORTED)
	c.call("POST", up, f.coordA, "application/pdf", bytes.NewReader(pdf(testMaxDocumentSize+1, "big"))).want(t, "raw over the limit", 413, credtrack.ETOOLARGE)
	ct, body = multipartBody(t, nil, "file", "big.pdf", pdf(testMaxDocumentSize+1, "big"))
	c.call("POST", up, f.coordA, ct, body).want(t, "multipart over the limit", 413, credtrack.ETOOLARGE)
	ct, body = multipartBody(t, [][2]string{{"credential_id", f.credentialID}}, "", "", nil)
	c.call("POST", up, f.coordA, ct, body).want(t, "multipart without a file", 400, credtrack.EINVALID)
	ct, body = multipartBody(t, [][2]string{{"comment", "hi"}}, "file", "a.pdf", pdf(100, "x"))
	c.call("POST", up, f.coordA, ct, body).want(t, "multipart with an unknown field", 400, credtrack.EINVALID)
	c.call("POST", up, f.coordA, "multipart/form-data", strings.NewReader("x")).want(t, "multipart without a boundary", 400, credtrack.EINVALID)
	c.call("POST", up, f.coordA, "multipart/form-data; boundary=zzz", strings.NewReader("--zzz\r\nbroken")).want(t, "broken multipart", 400, credtrack.EINVALID)
	c.call("POST", up, f.coordA, "text/plain", strings.NewReader("x")).want(t, "text/plain body", 415, credtrack.EUNSUPPORTED)
	c.call("POST", up, f.coordA, "application/json", strings.NewReader("{}")).want(t, "JSON body", 415, credtrack.EUNSUPPORTED)
	c.call("POST", up+"?credential_id="+credtrack.NewID(), f.coordA, "application/pdf", bytes.NewReader(pdf(100, "x"))).want(t, "unknown credential", 404, credtrack.ENOTFOUND)
	c.call("POST", up, f.auditorA, "application/pdf", bytes.NewReader(pdf(100, "x"))).want(t, "auditor uploads", 403, credtrack.EFORBIDDEN)
	c.call("POST", up, f.coordB, "application/pdf", bytes.NewReader(pdf(100, "x"))).want(t, "org B uploads to org A's provider", 404, credtrack.ENOTFOUND)
	if after := records(t, f.db); after != before {
		t.Errorf("refused uploads changed the records:\n%s\n%s", before, after)
	}
	if n := blobCount(t, f.blobDir); n != blobsBefore {
		t.Errorf("refused uploads left %d blobs", n-blobsBefore)
	}

	// A multipart upload attached to a credential, and a raw PNG.
	content := pdf(200<<10, "license scan") // several 64 KiB chunks
	sum := sha256.Sum256(content)
	ct, body = multipartBody(t, [][2]string{{"credential_id", f.credentialID}}, "file", "DEA certificate.pdf", content)
	r := c.call("POST", up, f.coordA, ct, body)
	r.want(t, "multipart upload", 201, "")
	docID, _ := r.json["id"].(string)
	if r.json["sha256"] != hex.EncodeToString(sum[:]) || r.json["content_type"] != "application/pdf" ||
		r.json["credential_id"] != f.credentialID || r.json["filename"] != "DEA certificate.pdf" || r.json["size"] != float64(len(content)) {
		t.Errorf("uploaded document = %s", r.body)
	}
	png := append(append([]byte{}, pngHead...), bytes.Repeat([]byte{7}, 1000)...)
	r = c.call("POST", up+"?filename=badge.png", f.coordA, "application/octet-stream", bytes.NewReader(png))
	r.want(t, "raw upload", 201, "")
	pngID, _ := r.json["id"].(string)
	if r.json["content_type"] != "image/png" || r.json["filename"] != "badge.png" || r.header.Get("Location") != "/api/v1/documents/"+pngID {
		t.Errorf("raw upload = %s", r.body)
	}

	// Listing and records.
	r = c.get(up, f.auditorA)
	if list, _ := r.json["documents"].([]any); r.code != 200 || len(list) != 2 {
		t.Errorf("list documents = %d %s", r.code, r.body)
	}
	c.get(up, f.coordB).want(t, "org B lists org A's documents", 404, credtrack.ENOTFOUND)
	r = c.get("/api/v1/documents/"+docID, f.auditorA)
	if r.code != 200 || r.json["id"] != docID || r.json["sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("document record = %d %s", r.code, r.body)
	}

	// Download: the bytes, the size and the fingerprint.
	r = c.get("/api/v1/documents/"+docID+"/content", f.auditorA)
	if r.code != 200 || r.err != nil || !bytes.Equal(r.body, content) {
		t.Errorf("download = %d, %d bytes, %v", r.code, len(r.body), r.err)
	}
	if got := r.header.Get("Repr-Digest"); got != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
		t.Errorf("Repr-Digest = %q", got)
	}
	if r.header.Get("Content-Length") != strconv.Itoa(len(content)) || r.header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download headers = %v", r.header)
	}

	// Another organization sees none of it.
	for _, p := range []string{"/api/v1/documents/" + docID, "/api/v1/documents/" + docID + "/content"} {
		r := c.get(p, f.coordB)
		r.want(t, "org B GET "+p, 404, credtrack.ENOTFOUND)
		if bytes.Contains(r.body, []byte("license scan")) || bytes.Contains(r.body, []byte("DEA certificate")) {
			t.Errorf("org B's 404 shows the document: %s", r.body)
		}
	}
	c.call("DELETE", "/api/v1/documents/"+docID, f.coordB, "", nil).want(t, "org B deletes org A's document", 404, credtrack.ENOTFOUND)

	// Verification by fingerprint, by file and by raw body.
	verify := "/api/v1/documents/verify"
	r = c.postJSON(verify, f.coordA, `{"sha256":"`+strings.ToUpper(hex.EncodeToString(sum[:]))+`"}`)
	if docs, _ := r.json["documents"].([]any); r.code != 200 || r.json["matched"] != true || len(docs) != 1 ||
		docs[0].(map[string]any)["id"] != docID {
		t.Errorf("verify by fingerprint = %d %s", r.code, r.body)
	}
	ct, body = multipartBody(t, nil, "file", "whatever.bin", content)
	if r := c.call("POST", verify, f.auditorA, ct, body); r.code != 200 || r.json["matched"] != true {
		t.Errorf("verify by file = %d %s", r.code, r.body)
	}
	if r := c.call("POST", verify, f.coordA, "application/octet-stream", bytes.NewReader(png)); r.code != 200 || r.json["matched"] != true {
		t.Errorf("verify by raw body = %d %s", r.code, r.body)
	}
	if r := c.call("POST", verify, f.coordA, "application/pdf", bytes.NewReader(pdf(300, "forged"))); r.code != 200 || r.json["matched"] != false {
		t.Errorf("verify an unknown file = %d %s", r.code, r.body)
	}
	// Org B asks about org A's fingerprint: no match, nothing of org A.
	r = c.postJSON(verify, f.coordB, `{"sha256":"`+hex.EncodeToString(sum[:])+`"}`)
	if r.code != 200 || r.json["matched"] != false || bytes.Contains(r.body, []byte(docID)) {
		t.Errorf("org B verifies org A's fingerprint = %d %s", r.code, r.body)
	}
	for _, bad := range []string{`{"sha256":"abc"}`, `{}`, `{"sha256":"` + strings.Repeat("g", 64) + `"}`, `{"sha":"x"}`, `{`} {
		c.postJSON(verify, f.coordA, bad).want(t, "verify "+bad, 400, credtrack.EINVALID)
	}
	c.call("POST", verify, f.coordA, "application/pdf", bytes.NewReader(pdf(testMaxDocumentSize+1, "big"))).want(t, "verify over the limit", 413, credtrack.ETOOLARGE)
	c.call("POST", verify, f.coordA, "text/csv", strings.NewReader("a,b")).want(t, "verify text/csv", 415, credtrack.EUNSUPPORTED)
	c.postJSON(verify, f.providerRoleA, `{"sha256":"`+hex.EncodeToString(sum[:])+`"}`).want(t, "provider token verifies", 403, credtrack.EFORBIDDEN)

	// The same file for another provider is flagged.
	other := &credtrack.Provider{FirstName: "Ida", LastName: "Twin", Profession: credtrack.ProfRN, Active: true}
	if err := f.db.CreateProvider(f.ctxA, other); err != nil {
		t.Fatal(err)
	}
	r = c.call("POST", "/api/v1/providers/"+other.ID+"/documents?filename=copy.png", f.coordA, "image/png", bytes.NewReader(png))
	if r.code != 201 || r.json["possible_fraud"] != true {
		t.Errorf("the same file for another provider = %d %s", r.code, r.body)
	}
	if r := c.call("POST", verify, f.coordA, "image/png", bytes.NewReader(png)); r.json["possible_fraud"] != true || len(r.json["documents"].([]any)) != 2 {
		t.Errorf("verify a file on two providers = %d %s", r.code, r.body)
	}

	// A blob altered at rest: the download fails its check. The change
	// is past the first 64 KiB chunk, so the first bytes have gone out
	// and the connection is aborted rather than ended cleanly.
	var blobPath string
	filepath.WalkDir(f.blobDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == docID {
			blobPath = p
		}
		return nil
	})
	orig, err := os.ReadFile(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), orig...)
	bad[len(bad)-40] ^= 1
	if err := os.WriteFile(blobPath, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r = c.get("/api/v1/documents/"+docID+"/content", f.coordA)
	if r.err == nil || bytes.Equal(r.body, content) {
		t.Errorf("download of an altered blob ended cleanly: %d, %d bytes", r.code, len(r.body))
	}
	if err := os.WriteFile(blobPath, orig, 0o600); err != nil {
		t.Fatal(err)
	}

	// Deletion.
	c.call("DELETE", "/api/v1/documents/"+docID, f.auditorA, "", nil).want(t, "auditor deletes", 403, credtrack.EFORBIDDEN)
	c.call("DELETE", "/api/v1/documents/"+docID, f.coordA, "application/json", strings.NewReader("{}")).want(t, "delete with a body", 400, credtrack.EINVALID)
	c.call("DELETE", "/api/v1/documents/"+docID, f.coordA, "", nil).want(t, "delete", 204, "")
	c.call("DELETE", "/api/v1/documents/"+docID, f.coordA, "", nil).want(t, "delete again", 404, credtrack.ENOTFOUND)
	c.get("/api/v1/documents/"+docID, f.coordA).want(t, "deleted document", 404, credtrack.ENOTFOUND)
	if _, err := os.Stat(blobPath); !os.IsNotExist(err) {
		t.Errorf("the deleted document's blob is still there: %v", err)
	}
}

// updateDeleteWalk changes and deletes records: bad input and other
// organizations' IDs are refused without a change.
func updateDeleteWalk(t *testing.T, c *apiClient, f *fixture, pid, cid string) {
	patch := func(path, token, ctype, body string) result {
		return c.call("PATCH", path, token, ctype, strings.NewReader(body))
	}
	pp, cp := "/api/v1/providers/"+pid, "/api/v1/credentials/"+cid
	before := records(t, f.db)
	for _, tc := range []struct {
		name, path, ctype, body string
		status                  int
		code                    string
	}{
		{"malformed JSON", pp, "application/json", `{"last_name":`, 400, credtrack.EINVALID},
		{"unknown field", pp, "application/json", `{"last_name":"X","org_id":"other"}`, 400, credtrack.EINVALID},
		{"wrong type", pp, "application/json", `{"active":"yes"}`, 400, credtrack.EINVALID},
		{"empty last name", pp, "application/json", `{"last_name":""}`, 400, credtrack.EINVALID},
		{"bad NPI", pp, "application/json", `{"npi":"1245319598"}`, 400, credtrack.EINVALID},
		{"clear SSN", pp, "application/json", `{"ssn":""}`, 400, credtrack.EINVALID},
		{"bad date of birth", pp, "application/json", `{"dob":"yesterday"}`, 400, credtrack.EINVALID},
		{"over 64 KiB", pp, "application/json", `{"employer":"` + strings.Repeat("e", 70<<10) + `"}`, 413, credtrack.ETOOLARGE},
		{"form body", pp, "application/x-www-form-urlencoded", `last_name=X`, 415, credtrack.EUNSUPPORTED},
		{"credential: malformed JSON", cp, "application/json", `{`, 400, credtrack.EINVALID},
		{"credential: unknown field", cp, "application/json", `{"provider_id":"x"}`, 400, credtrack.EINVALID},
		{"credential: unknown type", cp, "application/json", `{"type":"wand"}`, 400, credtrack.EINVALID},
		{"credential: clear number", cp, "application/json", `{"number":""}`, 400, credtrack.EINVALID},
		{"credential: bad date", cp, "application/json", `{"expires_on":"2030-02-30"}`, 400, credtrack.EINVALID},
		{"credential: expiry before issue", cp, "application/json", `{"expires_on":"2019-01-01"}`, 400, credtrack.EINVALID},
		{"credential: unknown detail", cp, "application/json", `{"details":{"wand":"oak"}}`, 400, credtrack.EINVALID},
	} {
		patch(tc.path, f.coordA, tc.ctype, tc.body).want(t, "PATCH with "+tc.name, tc.status, tc.code)
	}
	// Other organizations' IDs: 404 whatever the body.
	for _, p := range []string{pp, cp} {
		for _, body := range []string{`{"last_name":"Hijacked"}`, `{`, `{}`} {
			r := patch(p, f.coordB, "application/json", body)
			r.want(t, "org B PATCH "+p, 404, credtrack.ENOTFOUND)
			if bytes.Contains(r.body, []byte("Delgado")) || bytes.Contains(r.body, []byte("8812")) {
				t.Errorf("org B's 404 shows data: %s", r.body)
			}
		}
		c.call("DELETE", p, f.coordB, "", nil).want(t, "org B DELETE "+p, 404, credtrack.ENOTFOUND)
		c.call("DELETE", p, f.coordA, "application/json", strings.NewReader("{}")).want(t, "DELETE with a body "+p, 400, credtrack.EINVALID)
	}
	patch(pp, f.auditorA, "application/json", `{"last_name":"X"}`).want(t, "auditor PATCH", 403, credtrack.EFORBIDDEN)
	c.call("DELETE", pp, f.auditorA, "", nil).want(t, "auditor DELETE", 403, credtrack.EFORBIDDEN)
	if after := records(t, f.db); after != before {
		t.Errorf("refused changes changed the records:\n%s\n%s", before, after)
	}

	// Changes.
	r := patch(pp, f.coordA, "application/json", `{"last_name":"Delgado-Ruiz","specialty":"ICU","ssn":"987-65-4321"}`)
	r.want(t, "PATCH provider", 200, "")
	if r.json["last_name"] != "Delgado-Ruiz" || r.json["specialty"] != "ICU" || r.json["first_name"] != "Rosa" ||
		r.json["npi_last4"] != "9599" || r.json["ssn_last4"] != "4321" || r.json["dob_on_file"] != true {
		t.Errorf("changed provider = %s", r.body)
	}
	if bytes.Contains(r.body, []byte("987654321")) || bytes.Contains(r.body, []byte("1245319599")) {
		t.Errorf("the changed provider shows a full value: %s", r.body)
	}
	if r := c.get(pp+"?reveal=ssn,dob", f.coordA); r.json["ssn"] != "987654321" || r.json["dob"] != "1985-04-12" {
		t.Errorf("after the change, reveal = %s", r.body)
	}
	r = patch(cp, f.coordA, "application/json", `{"expires_on":"2032-06-30","notes":"renewed"}`)
	r.want(t, "PATCH credential", 200, "")
	if r.json["expires_on"] != "2032-06-30" || r.json["notes"] != "renewed" || r.json["number_last4"] != "8812" || r.json["number"] != nil ||
		r.json["jurisdiction"] != "TX" {
		t.Errorf("changed credential = %s", r.body)
	}
	if r := c.get(cp+"?reveal=number", f.coordA); r.json["number"] != "RN-778812" {
		t.Errorf("the number after the change = %s", r.body)
	}

	// Deletion: the credential, then the provider with a document.
	c.call("DELETE", cp, f.coordA, "", nil).want(t, "DELETE credential", 204, "")
	c.get(cp, f.coordA).want(t, "deleted credential", 404, credtrack.ENOTFOUND)
	blobs := blobCount(t, f.blobDir)
	c.call("POST", pp+"/documents?filename=id.pdf", f.coordA, "application/pdf", bytes.NewReader(pdf(2000, "photo id"))).want(t, "upload before delete", 201, "")
	c.call("DELETE", pp, f.coordA, "", nil).want(t, "DELETE provider", 204, "")
	c.get(pp, f.coordA).want(t, "deleted provider", 404, credtrack.ENOTFOUND)
	c.call("DELETE", pp, f.coordA, "", nil).want(t, "DELETE provider again", 404, credtrack.ENOTFOUND)
	if n := blobCount(t, f.blobDir); n != blobs {
		t.Errorf("deleting the provider left its document's blob: %d blobs, want %d", n, blobs)
	}
}
