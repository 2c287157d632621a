// Package nursys is the adapter for NCSBN's Nursys e-Notify API (nurse
// license and discipline status for the nurses an institution enrolled).
// Every operation is asynchronous: a POST returns a Transaction, and a GET
// with its transactionId returns the results once ProcessingCompleteFlag is
// true. Authentication is by the non-standard headers `username` and
// `password`. The REST base URL is issued with the credentials, so it is
// configuration (nursys-url); the JSON shapes follow the e-Notify
// specification v3.1.2 as the recordings in data/psv/nursys/ show them.
package nursys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/psv/fetch"
)

// Client calls e-Notify.
type Client struct {
	BaseURL  string
	Username string
	Password string
	Fetch    *fetch.Client
	// PollEvery is the wait between result polls (default 2 s), MaxPolls
	// how many polls are made before giving up (default 15).
	PollEvery time.Duration
	MaxPolls  int
}

// New returns a client for baseURL with the given institution credentials.
func New(baseURL, username, password string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Username: username, Password: password,
		Fetch: fetch.New(fetch.Options{RatePerSec: 2, Burst: 2}), PollEvery: 2 * time.Second, MaxPolls: 15}
}

// Time is an e-Notify timestamp; values arrive in several ISO-8601
// variants (7 fractional digits, with or without an offset, or a bare date).
type Time struct{ time.Time }

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02"}

// UnmarshalJSON parses the variants leniently; null and "" are zero.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, l := range timeLayouts {
		if v, err := time.Parse(l, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("nursys: unrecognised time %q", s)
}

// Transaction is the envelope of every submit and retrieve.
type Transaction struct {
	TransactionID          string             `json:"TransactionId"`
	TransactionDate        Time               `json:"TransactionDate"`
	TransactionComment     string             `json:"TransactionComment"`
	TransactionSuccessFlag bool               `json:"TransactionSuccessFlag"`
	TransactionErrors      []TransactionError `json:"TransactionErrors"`
}

// TransactionError is one error of a transaction.
type TransactionError struct {
	ErrorID      int    `json:"ErrorId"`
	ErrorMessage string `json:"ErrorMessage"`
}

// SubmitResponse is the answer to a POST.
type SubmitResponse struct {
	Transaction Transaction `json:"Transaction"`
}

// LookupRequest names one license (jurisdiction, type, number).
type LookupRequest struct {
	JurisdictionAbbreviation string `json:"JurisdictionAbbreviation,omitempty"`
	LicenseType              string `json:"LicenseType,omitempty"`
	LicenseNumber            string `json:"LicenseNumber,omitempty"`
	NcsbnID                  string `json:"NcsbnId,omitempty"`
	RecordID                 string `json:"RecordId,omitempty"`
}

// LookupResult is the answer to GET /nurselookup.
type LookupResult struct {
	ProcessingCompleteFlag bool             `json:"ProcessingCompleteFlag"`
	Transaction            Transaction      `json:"Transaction"`
	NurseLookupResponses   []LookupResponse `json:"NurseLookupResponses"`
}

// LookupResponse is one nurse.
type LookupResponse struct {
	SuccessFlag         bool               `json:"SuccessFlag"`
	Errors              []TransactionError `json:"Errors"`
	FirstName           string             `json:"FirstName"`
	LastName            string             `json:"LastName"`
	NcsbnID             string             `json:"NcsbnId"`
	Messages            []Message          `json:"Messages"`
	NurseLookupLicenses []License          `json:"NurseLookupLicenses"`
}

// Message is a notification message.
type Message struct {
	Message string `json:"Message"`
}

// License is one license of a nurse.
type License struct {
	LastName                 string       `json:"LastName"`
	FirstName                string       `json:"FirstName"`
	LicenseType              string       `json:"LicenseType"`
	JurisdictionAbbreviation string       `json:"JurisdictionAbbreviation"`
	Jurisdiction             string       `json:"Jurisdiction"`
	LicenseNumber            string       `json:"LicenseNumber"`
	Active                   string       `json:"Active"`
	LicenseStatus            string       `json:"LicenseStatus"`
	LicenseOriginalDate      Time         `json:"LicenseOriginalDate"`
	LicenseExpirationDate    Time         `json:"LicenseExpirationDate"`
	CompactStatus            string       `json:"CompactStatus"`
	Disciplines              []Discipline `json:"NurseLookupDisciplines"`
}

// Discipline is a board action on a license.
type Discipline struct {
	JurisdictionAbbreviation string   `json:"JurisdictionAbbreviation"`
	DateActionWasTaken       Time     `json:"DateActionWasTaken"`
	InitialActions           []Action `json:"NurseLookupInitialActions"`
}

// Action is one NPDB-coded action of a discipline.
type Action struct {
	ActionCode        string `json:"ActionCode"`
	ActionDescription string `json:"ActionDescription"`
	ActionStayedFlag  bool   `json:"ActionStayedFlag"`
}

func (c *Client) do(ctx context.Context, method, path string, body any) (*fetch.Response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	resp, err := c.Fetch.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("username", c.Username)
		req.Header.Set("password", c.Password)
		return req, nil
	})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK && resp.Status != http.StatusAccepted {
		msg := fmt.Sprintf("e-Notify answered HTTP %d", resp.Status)
		if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
			msg += ": check nursys-username and nursys-password"
		}
		return resp, &fetch.Error{Status: resp.Status, Attempts: resp.Attempts, Msg: msg, Response: resp}
	}
	return resp, nil
}

func txErrors(t Transaction) string {
	var parts []string
	for _, e := range t.TransactionErrors {
		parts = append(parts, fmt.Sprintf("%s (error %d)", strings.TrimSpace(e.ErrorMessage), e.ErrorID))
	}
	return strings.Join(parts, "; ")
}

// Lookup submits one nurse lookup and polls for its result. It returns the
// result and the final HTTP response (the evidence).
func (c *Client) Lookup(ctx context.Context, r LookupRequest) (*LookupResult, *fetch.Response, error) {
	resp, err := c.do(ctx, http.MethodPost, "/nurselookup", map[string]any{"NurseLookupRequests": []LookupRequest{r}})
	if err != nil {
		return nil, resp, err
	}
	var sub SubmitResponse
	if err := json.Unmarshal(resp.Body, &sub); err != nil {
		return nil, resp, &fetch.Error{Status: resp.Status, Msg: "e-Notify's answer is not a Transaction", Response: resp}
	}
	if !sub.Transaction.TransactionSuccessFlag {
		return nil, resp, &fetch.Error{Status: resp.Status, Msg: "e-Notify refused the lookup: " + txErrors(sub.Transaction), Response: resp}
	}
	path := "/nurselookup?transactionId=" + url.QueryEscape(sub.Transaction.TransactionID)
	for poll := 0; poll < c.MaxPolls; poll++ {
		if poll > 0 {
			if err := c.Fetch.Sleep(ctx, c.PollEvery); err != nil {
				return nil, resp, &fetch.Error{Msg: "cancelled while waiting for e-Notify"}
			}
		}
		resp, err = c.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, resp, err
		}
		var res LookupResult
		if err := json.Unmarshal(resp.Body, &res); err != nil {
			return nil, resp, &fetch.Error{Status: resp.Status, Msg: "e-Notify's result is not a nurse lookup result", Response: resp}
		}
		if len(res.Transaction.TransactionErrors) > 0 && !res.Transaction.TransactionSuccessFlag {
			return nil, resp, &fetch.Error{Status: resp.Status, Msg: "e-Notify failed the lookup: " + txErrors(res.Transaction), Response: resp}
		}
		if res.ProcessingCompleteFlag {
			return &res, resp, nil
		}
	}
	return nil, resp, &fetch.Error{Status: resp.Status, Msg: fmt.Sprintf("e-Notify had not finished after %d polls", c.MaxPolls), Response: resp}
}

// LicenseType maps a credential (its details' license_type, else the
// provider's profession) to an e-Notify license type.
func LicenseType(p *credtrack.Provider, c *credtrack.Credential) string {
	if t := strings.ToUpper(strings.TrimSpace(c.Details["license_type"])); t != "" {
		return t
	}
	switch p.Profession {
	case credtrack.ProfRN:
		return "RN"
	case credtrack.ProfLPN:
		return "PN"
	case credtrack.ProfCRNA:
		return "CRNA"
	case credtrack.ProfCNM:
		return "CNM"
	case credtrack.ProfAPRN:
		return "CNP"
	}
	return ""
}

// Source verifies nurse licenses through e-Notify.
type Source struct {
	Client *Client
}

// Name implements credtrack.Source.
func (s *Source) Name() string { return credtrack.SourceNursys }

// Verify looks the credential's license up and compares it.
func (s *Source) Verify(ctx context.Context, req *credtrack.VerificationRequest) (*credtrack.SourceResult, error) {
	c := req.Credential
	if c == nil || c.Type != credtrack.CredStateLicense {
		return nil, credtrack.Errorf(credtrack.EINVALID, "Nursys verifies nursing licenses: choose a state license")
	}
	lt := LicenseType(req.Provider, c)
	if lt == "" {
		return nil, credtrack.Errorf(credtrack.EINVALID, "Nursys covers nurses only (RN, PN, APRN types); set the license type")
	}
	state := strings.ToUpper(strings.TrimSpace(c.Jurisdiction))
	res := &credtrack.SourceResult{Query: map[string]string{"kind": "nurse_lookup", "jurisdiction": state, "license_type": lt,
		"license": "••••" + credtrack.Last4(c.Number)}}
	out, resp, err := s.Client.Lookup(ctx, LookupRequest{JurisdictionAbbreviation: state, LicenseType: lt, LicenseNumber: c.Number, RecordID: c.ID})
	if resp != nil {
		res.Evidence = credtrack.Evidence{HTTPStatus: resp.Status, Latency: resp.Latency, ResponseSHA256: resp.SHA256,
			Response: resp.Body, ContentType: resp.ContentType}
	}
	if err != nil {
		var fe *fetch.Error
		if !errors.As(err, &fe) {
			return nil, err
		}
		if fe.Response != nil {
			r := fe.Response
			res.Evidence = credtrack.Evidence{HTTPStatus: r.Status, Latency: r.Latency, ResponseSHA256: r.SHA256, Response: r.Body, ContentType: r.ContentType}
		}
		res.Result, res.Error = credtrack.VerifyError, fe.Msg
		return res, nil
	}
	var lic *License
	var nurse *LookupResponse
	for i := range out.NurseLookupResponses {
		n := &out.NurseLookupResponses[i]
		if !n.SuccessFlag {
			continue
		}
		for j := range n.NurseLookupLicenses {
			l := &n.NurseLookupLicenses[j]
			if strings.EqualFold(l.JurisdictionAbbreviation, state) && normLicense(l.LicenseNumber) == normLicense(c.Number) {
				lic, nurse = l, n
			}
		}
	}
	if lic == nil {
		res.Result = credtrack.VerifyNotFound
		note := ""
		for _, n := range out.NurseLookupResponses {
			for _, e := range n.Errors {
				note = strings.TrimSpace(e.ErrorMessage)
			}
		}
		res.Findings = []credtrack.Finding{{Field: "license", Record: "••••" + credtrack.Last4(c.Number) + " (" + state + ")",
			Source: "not found", Severity: "mismatch", Note: note}}
		return res, nil
	}
	res.Findings, res.Result = compare(req.Provider, c, nurse, lic)
	return res, nil
}

func compare(p *credtrack.Provider, c *credtrack.Credential, n *LookupResponse, l *License) ([]credtrack.Finding, credtrack.VerificationResult) {
	var out []credtrack.Finding
	result := credtrack.VerifyVerified
	add := func(f credtrack.Finding) {
		f.Severity = "info"
		if !f.Match {
			f.Severity = "mismatch"
			if result == credtrack.VerifyVerified {
				result = credtrack.VerifyMismatch
			}
		}
		out = append(out, f)
	}
	last, first := l.LastName, l.FirstName
	if last == "" {
		last, first = n.LastName, n.FirstName
	}
	add(credtrack.Finding{Field: "last_name", Record: p.LastName, Source: last, Match: strings.EqualFold(strings.TrimSpace(p.LastName), strings.TrimSpace(last))})
	add(credtrack.Finding{Field: "first_name", Record: p.FirstName, Source: first, Match: strings.EqualFold(strings.TrimSpace(p.FirstName), strings.TrimSpace(first))})
	add(credtrack.Finding{Field: "license", Record: "••••" + credtrack.Last4(c.Number) + " (" + c.Jurisdiction + ")",
		Source: "••••" + credtrack.Last4(l.LicenseNumber) + " (" + l.JurisdictionAbbreviation + ")", Match: true})
	active := strings.EqualFold(l.Active, "yes") || strings.EqualFold(l.Active, "y") || strings.EqualFold(l.Active, "active")
	f := credtrack.Finding{Field: "status", Record: "active", Source: strings.TrimSpace(l.Active + " " + l.LicenseStatus), Match: active}
	add(f)
	if !l.LicenseExpirationDate.IsZero() {
		exp := credtrack.DateOf(l.LicenseExpirationDate.Time)
		add(credtrack.Finding{Field: "expires_on", Record: c.ExpiresOn.String(), Source: exp.String(),
			Match: c.ExpiresOn.IsZero() || c.ExpiresOn.Equal(exp.Time),
			Note:  map[bool]string{true: "no expiry date on the record", false: ""}[c.ExpiresOn.IsZero()]})
	}
	for _, d := range l.Disciplines {
		var acts []string
		stayed := true
		for _, a := range d.InitialActions {
			acts = append(acts, a.ActionDescription)
			stayed = stayed && a.ActionStayedFlag
		}
		add(credtrack.Finding{Field: "discipline", Record: "none", Source: d.JurisdictionAbbreviation + " " +
			credtrack.DateOf(d.DateActionWasTaken.Time).String() + ": " + strings.Join(acts, ", "), Match: false,
			Note: map[bool]string{true: "all actions stayed", false: "review the board order"}[stayed]})
	}
	if l.CompactStatus != "" {
		out = append(out, credtrack.Finding{Field: "compact_status", Source: l.CompactStatus, Match: true, Severity: "info"})
	}
	if !active {
		result = credtrack.VerifyExcluded
	}
	return out, result
}

func normLicense(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "0")
}
