// Package nppes is the adapter for the NPPES NPI Registry API v2.1
// (https://npiregistry.cms.hhs.gov/api/?version=2.1): lookup by NPI,
// search by name, state and taxonomy, and the comparison of a registry
// record with a provider record.
//
// The registry has answered in two generations, and both are parsed (see
// /work/shared/data/psv/FORMATS.md §1.4): `number` as a JSON integer or a
// string; created_epoch/last_updated_epoch as integer seconds or string
// milliseconds; basic.gender or basic.sex; endpoints absent or present;
// empty licenses as "" or null. Validation errors come back with HTTP 200
// and an `Errors` body.
package nppes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/psv/fetch"
)

// DefaultBaseURL is the public registry API.
const DefaultBaseURL = "https://npiregistry.cms.hhs.gov/api/"

// Client calls the registry.
type Client struct {
	// BaseURL is the API endpoint (DefaultBaseURL); tests point it at a
	// local replay server.
	BaseURL string
	Fetch   *fetch.Client
}

// New returns a client for baseURL ("" for the public registry) with the
// registry's polite defaults: 15 s per attempt, 3 attempts, 2 requests a
// second (the registry publishes no limit; CMS asks for restraint).
func New(baseURL string) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &Client{BaseURL: baseURL, Fetch: fetch.New(fetch.Options{RatePerSec: 2, Burst: 2})}
}

// Flex is a JSON value the registry sends as a string or as a number; it
// keeps the digits as text (an NPI as a float would lose nothing, but an
// epoch in milliseconds must not pass through float64 formatting).
type Flex string

// UnmarshalJSON accepts a string, a number or null.
func (f *Flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = Flex(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("nppes: %s is neither a string nor a number", b)
		}
		*f = Flex(n.String())
	}
	return nil
}

// Epoch is a registry timestamp: integer seconds (old generation) or
// string milliseconds (current). Values above 10^11 are milliseconds: in
// seconds that would be the year 5138.
type Epoch struct{ time.Time }

// UnmarshalJSON accepts both generations.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	var f Flex
	if err := f.UnmarshalJSON(b); err != nil {
		return err
	}
	if f == "" {
		e.Time = time.Time{}
		return nil
	}
	n, err := strconv.ParseInt(string(f), 10, 64)
	if err != nil {
		return fmt.Errorf("nppes: epoch %q is not a whole number", string(f))
	}
	if n > 1e11 {
		e.Time = time.UnixMilli(n).UTC()
	} else {
		e.Time = time.Unix(n, 0).UTC()
	}
	return nil
}

// Response is the registry's envelope: results, or Errors.
type Response struct {
	ResultCount int        `json:"result_count"`
	Results     []Result   `json:"results"`
	Errors      []APIError `json:"Errors"`
}

// APIError is one validation error of the registry (HTTP 200).
type APIError struct {
	Field       string `json:"field"`
	Number      Flex   `json:"number"`
	Description string `json:"description"`
}

// Result is one NPI record.
type Result struct {
	Number            Flex         `json:"number"`
	EnumerationType   string       `json:"enumeration_type"` // NPI-1 individual, NPI-2 organization
	CreatedEpoch      Epoch        `json:"created_epoch"`
	LastUpdatedEpoch  Epoch        `json:"last_updated_epoch"`
	Basic             Basic        `json:"basic"`
	Addresses         []Address    `json:"addresses"`
	PracticeLocations []Address    `json:"practiceLocations"`
	Taxonomies        []Taxonomy   `json:"taxonomies"`
	Identifiers       []Identifier `json:"identifiers"`
	OtherNames        []OtherName  `json:"other_names"`
	Endpoints         []Endpoint   `json:"endpoints"` // absent in the old generation
	HasEndpoints      bool         `json:"-"`
}

// Basic holds the names and status of a record.
type Basic struct {
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	MiddleName        string `json:"middle_name"`
	Credential        string `json:"credential"`
	NamePrefix        string `json:"name_prefix"`
	NameSuffix        string `json:"name_suffix"`
	SoleProprietor    string `json:"sole_proprietor"`
	Gender            string `json:"gender"` // old name
	SexCode           string `json:"sex"`    // current name
	EnumerationDate   string `json:"enumeration_date"`
	LastUpdated       string `json:"last_updated"`
	CertificationDate string `json:"certification_date"`
	Status            string `json:"status"`
	Name              string `json:"name"` // old generation only
	OrganizationName  string `json:"organization_name"`
	// Deactivation fields as in the bulk file; the API lists active NPIs
	// only, so they are expected empty, but a record that carries them is
	// reported as deactivated.
	DeactivationDate            string `json:"deactivation_date"`
	DeactivationReasonCode      string `json:"deactivation_reason_code"`
	AuthorizedOfficialFirstName string `json:"authorized_official_first_name"`
	AuthorizedOfficialLastName  string `json:"authorized_official_last_name"`
}

// Sex returns basic.sex, or basic.gender in the older generation.
func (b Basic) Sex() string {
	if b.SexCode != "" {
		return b.SexCode
	}
	return b.Gender
}

// Address is a mailing or practice address.
type Address struct {
	Purpose     string `json:"address_purpose"`
	Type        string `json:"address_type"`
	Address1    string `json:"address_1"`
	Address2    string `json:"address_2"`
	City        string `json:"city"`
	State       string `json:"state"`
	PostalCode  string `json:"postal_code"`
	CountryCode string `json:"country_code"`
	Telephone   string `json:"telephone_number"`
	UpdateDate  string `json:"update_date"` // old practiceLocations only
}

// Taxonomy is one specialty with, where licensed, the state license.
type Taxonomy struct {
	Code    string `json:"code"`
	Desc    string `json:"desc"`
	Primary bool   `json:"primary"`
	State   Flex   `json:"state"`   // "" or null when none
	License Flex   `json:"license"` // "" or null when none
	Group   string `json:"taxonomy_group"`
}

// Identifier is another identifier (Medicaid…).
type Identifier struct {
	Code       string `json:"code"`
	Desc       string `json:"desc"`
	Identifier string `json:"identifier"`
	Issuer     Flex   `json:"issuer"`
	State      string `json:"state"`
}

// OtherName is a former, professional or DBA name.
type OtherName struct {
	Type             string `json:"type"`
	Code             Flex   `json:"code"`
	FirstName        string `json:"first_name"`
	LastName         string `json:"last_name"`
	OrganizationName string `json:"organization_name"`
}

// Endpoint is an electronic endpoint (Direct address, FHIR URL…).
type Endpoint struct {
	Type        string `json:"endpointType"`
	TypeDesc    string `json:"endpointTypeDescription"`
	Endpoint    string `json:"endpoint"`
	Description string `json:"endpointDescription"`
	Affiliation string `json:"affiliation"`
	Use         string `json:"use"`
	ContentType string `json:"contentType"`
}

// Parse decodes a registry answer of either generation.
func Parse(body []byte) (*Response, error) {
	var r Response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("nppes: the answer is not a registry response: %w", err)
	}
	// Keep whether endpoints were sent at all (the old generation omits
	// the key), for display.
	var raw struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	if json.Unmarshal(body, &raw) == nil {
		for i := range r.Results {
			if i < len(raw.Results) {
				_, r.Results[i].HasEndpoints = raw.Results[i]["endpoints"]
			}
		}
	}
	return &r, nil
}

// ErrorText joins the registry's validation errors.
func (r *Response) ErrorText() string {
	var parts []string
	for _, e := range r.Errors {
		parts = append(parts, fmt.Sprintf("%s (error %s, field %s)", e.Description, e.Number, e.Field))
	}
	return strings.Join(parts, "; ")
}

// Search is a registry query by name, state and taxonomy. At least one
// criterion besides State is required (the registry refuses a state alone).
type Search struct {
	FirstName       string
	LastName        string
	Organization    string
	State           string
	Taxonomy        string // taxonomy_description, trailing * allowed
	EnumerationType string // NPI-1 or NPI-2
	Limit           int    // 1–200, default 10
	Skip            int    // 0–1000
}

// Answer is a parsed response with the evidence of the call.
type Answer struct {
	*Response
	HTTP *fetch.Response
}

// Lookup asks for one NPI.
func (c *Client) Lookup(ctx context.Context, npi string) (*Answer, error) {
	if !credtrack.ValidNPI(npi) {
		return nil, credtrack.Errorf(credtrack.EINVALID, "an NPI is 10 digits with a valid check digit")
	}
	return c.get(ctx, url.Values{"number": {npi}})
}

// Find runs a search.
func (c *Client) Find(ctx context.Context, s Search) (*Answer, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			q.Set(k, v)
		}
	}
	set("first_name", s.FirstName)
	set("last_name", s.LastName)
	set("organization_name", s.Organization)
	set("state", strings.ToUpper(s.State))
	set("taxonomy_description", s.Taxonomy)
	set("enumeration_type", s.EnumerationType)
	if len(q) == 0 || (len(q) == 1 && q.Has("state")) {
		return nil, credtrack.Errorf(credtrack.EINVALID, "search by a name or a taxonomy; a state alone is not a search")
	}
	if s.Limit > 0 {
		q.Set("limit", strconv.Itoa(min(s.Limit, 200)))
	}
	if s.Skip > 0 {
		q.Set("skip", strconv.Itoa(min(s.Skip, 1000)))
	}
	return c.get(ctx, q)
}

func (c *Client) get(ctx context.Context, q url.Values) (*Answer, error) {
	q.Set("version", "2.1")
	u := c.BaseURL
	if strings.Contains(u, "?") {
		u += "&" + q.Encode()
	} else {
		u += "?" + q.Encode()
	}
	resp, err := c.Fetch.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set("Accept", "application/json")
		}
		return req, err
	})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return &Answer{HTTP: resp}, &fetch.Error{Status: resp.Status, Attempts: resp.Attempts,
			Msg: fmt.Sprintf("the registry answered HTTP %d", resp.Status), Response: resp}
	}
	r, err := Parse(resp.Body)
	if err != nil {
		return &Answer{HTTP: resp}, &fetch.Error{Status: resp.Status, Attempts: resp.Attempts, Msg: err.Error(), Response: resp}
	}
	return &Answer{Response: r, HTTP: resp}, nil
}
