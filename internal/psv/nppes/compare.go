package nppes

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"credtrack"
	"credtrack/internal/psv/fetch"
)

// Compare checks a registry record against the provider record and the
// provider's state licenses (with their full numbers), and returns one
// finding per fact compared, and the overall result: excluded when the
// record is deactivated, mismatch when any fact differs, else verified.
// License numbers in findings are masked to their last four characters.
func Compare(p *credtrack.Provider, licenses []*credtrack.Credential, r *Result) ([]credtrack.Finding, credtrack.VerificationResult) {
	var out []credtrack.Finding
	mismatch := false
	add := func(f credtrack.Finding) {
		if f.Severity == "" {
			f.Severity = "info"
			if !f.Match {
				f.Severity = "mismatch"
				mismatch = true
			}
		}
		out = append(out, f)
	}
	if r.EnumerationType != "NPI-1" {
		add(credtrack.Finding{Field: "enumeration_type", Record: "individual (NPI-1)", Source: r.EnumerationType,
			Note: "the NPI belongs to an organization, not a person"})
	}
	first, last := normName(p.FirstName), normName(p.LastName)
	add(credtrack.Finding{Field: "last_name", Record: p.LastName, Source: r.Basic.LastName, Match: last == normName(r.Basic.LastName)})
	fm := first == normName(r.Basic.FirstName)
	note := ""
	if !fm {
		// A professional or former name on file also counts.
		for _, o := range r.OtherNames {
			if normName(o.FirstName) == first && normName(o.LastName) == last {
				fm, note = true, "matches the registry's "+strings.ToLower(o.Type)
			}
		}
	}
	add(credtrack.Finding{Field: "first_name", Record: p.FirstName, Source: r.Basic.FirstName, Match: fm, Note: note})

	if strings.TrimSpace(p.Specialty) != "" {
		spec := normName(p.Specialty)
		var descs []string
		match := false
		for _, t := range r.Taxonomies {
			descs = append(descs, t.Desc)
			d := normName(t.Desc)
			if d == spec || strings.Contains(d, spec) || strings.Contains(spec, d) {
				match = true
			}
		}
		add(credtrack.Finding{Field: "taxonomy", Record: p.Specialty, Source: strings.Join(descs, "; "), Match: match})
	} else if pt := primaryTaxonomy(r); pt != nil {
		add(credtrack.Finding{Field: "taxonomy", Record: "", Source: pt.Code + " " + pt.Desc, Match: true, Severity: "info",
			Note: "no specialty on the provider record to compare"})
	}

	for _, c := range licenses {
		if c.Type != credtrack.CredStateLicense {
			continue
		}
		state := strings.ToUpper(strings.TrimSpace(c.Jurisdiction))
		rec := "••••" + credtrack.Last4(c.Number) + " (" + state + ")"
		var inState []Taxonomy
		for _, t := range r.Taxonomies {
			if strings.EqualFold(string(t.State), state) && t.License != "" {
				inState = append(inState, t)
			}
		}
		if len(inState) == 0 {
			add(credtrack.Finding{Field: "license", Record: rec, Source: "no license in " + state,
				Note: "the registry lists no license for this state"})
			continue
		}
		var seen []string
		match := false
		for _, t := range inState {
			seen = append(seen, "••••"+credtrack.Last4(string(t.License)))
			if normLicense(string(t.License)) == normLicense(c.Number) {
				match = true
			}
		}
		add(credtrack.Finding{Field: "license", Record: rec, Source: strings.Join(dedupe(seen), ", ") + " (" + state + ")", Match: match})
	}

	deactivated := r.Basic.DeactivationDate != "" || (r.Basic.Status != "" && r.Basic.Status != "A")
	if deactivated {
		add(credtrack.Finding{Field: "deactivation", Record: "active", Source: "deactivated " + r.Basic.DeactivationDate,
			Note: "status " + r.Basic.Status + " " + r.Basic.DeactivationReasonCode})
		return out, credtrack.VerifyExcluded
	}
	add(credtrack.Finding{Field: "deactivation", Record: "active", Source: "active", Match: true})
	if mismatch {
		return out, credtrack.VerifyMismatch
	}
	return out, credtrack.VerifyVerified
}

func primaryTaxonomy(r *Result) *Taxonomy {
	for i := range r.Taxonomies {
		if r.Taxonomies[i].Primary {
			return &r.Taxonomies[i]
		}
	}
	return nil
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// normName upper-cases, drops punctuation and squeezes spaces, so that
// "Dela Cruz", "DELA-CRUZ" and "dela  cruz." compare equal.
func normName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToUpper(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}

// normLicense keeps letters and digits, upper-cased, without leading
// zeros of the digits: boards and the registry write the same number as
// "2017-01132" and "201701132", or "043634" and "43634".
func normLicense(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "0")
}

// Source verifies a provider's NPI against the registry.
type Source struct {
	Client *Client
}

// Name implements credtrack.Source.
func (s *Source) Name() string { return credtrack.SourceNPPES }

// Verify looks the provider's NPI up (the NPI credential's number when
// the request names one, else the provider's NPI) and compares the record.
// req.Provider.Credentials should hold the provider's state licenses with
// their numbers, for the license comparison.
func (s *Source) Verify(ctx context.Context, req *credtrack.VerificationRequest) (*credtrack.SourceResult, error) {
	npi := req.Provider.NPI
	if req.Credential != nil && req.Credential.Type == credtrack.CredNPI && req.Credential.Number != "" {
		npi = req.Credential.Number
	}
	if npi == "" {
		return nil, credtrack.Errorf(credtrack.EINVALID, "the provider has no NPI on record to look up")
	}
	if !credtrack.ValidNPI(npi) {
		return nil, credtrack.Errorf(credtrack.EINVALID, "the NPI on record is not a valid NPI")
	}
	res := &credtrack.SourceResult{Query: map[string]string{"kind": "lookup", "npi": "••••" + credtrack.Last4(npi), "version": "2.1"}}
	ans, err := s.Client.Lookup(ctx, npi)
	if ans != nil && ans.HTTP != nil {
		res.Evidence = evidence(ans.HTTP)
	}
	if err != nil {
		var fe *fetch.Error
		if errors.As(err, &fe) {
			if fe.Response != nil {
				res.Evidence = evidence(fe.Response)
			}
			res.Result, res.Error = credtrack.VerifyError, fe.Msg
			return res, nil
		}
		return nil, err
	}
	if len(ans.Errors) > 0 {
		res.Result, res.Error = credtrack.VerifyError, "the registry refused the query: "+ans.ErrorText()
		return res, nil
	}
	var found *Result
	for i := range ans.Results {
		if string(ans.Results[i].Number) == npi {
			found = &ans.Results[i]
		}
	}
	if found == nil {
		res.Result = credtrack.VerifyNotFound
		res.Findings = []credtrack.Finding{{Field: "npi", Record: "••••" + credtrack.Last4(npi), Source: "no active record",
			Severity: "mismatch", Note: "the registry lists active NPIs only: a deactivated NPI is not found"}}
		return res, nil
	}
	res.Findings, res.Result = Compare(req.Provider, req.Provider.Credentials, found)
	return res, nil
}

func evidence(r *fetch.Response) credtrack.Evidence {
	return credtrack.Evidence{HTTPStatus: r.Status, Latency: r.Latency, ResponseSHA256: r.SHA256, Response: r.Body, ContentType: r.ContentType}
}
