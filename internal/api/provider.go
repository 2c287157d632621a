package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"credtrack"
)

// providerJSON is a provider as the API shows it: sensitive identifiers
// only as their last four characters.
type providerJSON struct {
	ID         string `json:"id"`
	FirstName  string `json:"first_name"`
	MiddleName string `json:"middle_name,omitempty"`
	LastName   string `json:"last_name"`
	Suffix     string `json:"suffix,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Profession string `json:"profession"`
	Specialty  string `json:"specialty,omitempty"`
	Employer   string `json:"employer,omitempty"`
	State      string `json:"state,omitempty"`
	NPILast4   string `json:"npi_last4,omitempty"`
	// SSNLast4 and DOBOnFile are shown on one provider, not in lists.
	SSNLast4  string `json:"ssn_last4,omitempty"`
	DOBOnFile *bool  `json:"dob_on_file,omitempty"`
	// NPI, SSN and DOB are present only when revealed (?reveal=npi,ssn,dob).
	NPI         string           `json:"npi,omitempty"`
	SSN         string           `json:"ssn,omitempty"`
	DOB         string           `json:"dob,omitempty"`
	Active      bool             `json:"active"`
	Status      string           `json:"status"`
	Missing     []string         `json:"missing_credentials"`
	Credentials []credentialJSON `json:"credentials"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
}

type credentialJSON struct {
	ID           string `json:"id"`
	ProviderID   string `json:"provider_id"`
	Type         string `json:"type"`
	Issuer       string `json:"issuer,omitempty"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	// Number is present only when revealed (?reveal=number).
	Number      string            `json:"number,omitempty"`
	NumberLast4 string            `json:"number_last4,omitempty"`
	IssuedOn    string            `json:"issued_on,omitempty"`
	ExpiresOn   string            `json:"expires_on,omitempty"`
	Status      string            `json:"status"`
	VerifiedAt  *time.Time        `json:"verified_at,omitempty"`
	VerifiedBy  string            `json:"verified_by,omitempty"`
	Notes       string            `json:"notes,omitempty"`
	Details     map[string]string `json:"details"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// statusClock says on which day and with which expiring window statuses
// are derived, so that the API agrees with the pages and the store's
// status filter: the organization's own window, or 90 days without one.
type statusClock struct {
	today    credtrack.Date
	window   int
	required credtrack.RequiredCredentialSet
}

func (h *Handler) statusClock(r *http.Request) statusClock {
	sc := statusClock{today: credtrack.DateOf(h.now()), window: 90}
	if h.opts.Orgs != nil {
		if o, err := h.opts.Orgs.FindOrgByID(r.Context(), credtrack.ActorFromContext(r.Context()).OrgID); err == nil {
			sc.window, sc.required = o.ExpiringWindowDays, o.RequiredCredentials
		}
	}
	return sc
}

func toCredentialJSON(c *credtrack.Credential, sc statusClock) credentialJSON {
	out := credentialJSON{ID: c.ID, ProviderID: c.ProviderID, Type: string(c.Type), Issuer: c.Issuer,
		Jurisdiction: c.Jurisdiction, NumberLast4: c.NumberLast4, IssuedOn: c.IssuedOn.String(),
		ExpiresOn: c.ExpiresOn.String(), Status: string(c.Status(sc.today, sc.window)), VerifiedBy: c.VerifiedBy, Notes: c.Notes, Details: c.Details,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if !c.VerifiedAt.IsZero() {
		t := c.VerifiedAt
		out.VerifiedAt = &t
	}
	if out.Details == nil {
		out.Details = map[string]string{}
	}
	return out
}

func toProviderJSON(p *credtrack.Provider, sc statusClock) providerJSON {
	out := providerJSON{ID: p.ID, FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName, Suffix: p.Suffix,
		Email: p.Email, Phone: p.Phone, Profession: string(p.Profession), Specialty: p.Specialty, Employer: p.Employer,
		State: p.State, NPILast4: p.NPILast4, Active: p.Active, Status: string(p.StatusWith(sc.today, sc.window, sc.required)),
		Missing: []string{}, Credentials: []credentialJSON{}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	for _, t := range p.MissingFrom(sc.required) {
		out.Missing = append(out.Missing, string(t))
	}
	for _, c := range p.Credentials {
		out.Credentials = append(out.Credentials, toCredentialJSON(c, sc))
	}
	return out
}

// providerStatuses are the values ?status= takes.
var providerStatuses = []credtrack.ProviderStatus{credtrack.ProviderExpired, credtrack.ProviderMissing,
	credtrack.ProviderExpiring, credtrack.ProviderPending, credtrack.ProviderCompliant, credtrack.ProviderInactive}

// handleProviderIndex lists providers: ?q=, ?profession=, ?status=,
// ?credential_type=, ?expiring_within_days=, ?sort=, ?limit=, ?offset=.
func (h *Handler) handleProviderIndex(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("reveal") {
		h.error(w, r, credtrack.Errorf(credtrack.EINVALID, "reveal is available on one provider at a time, not on the list"))
		return
	}
	f := credtrack.ProviderFilter{Query: q.Get("q"), Profession: credtrack.Profession(q.Get("profession")),
		Status: credtrack.ProviderStatus(q.Get("status"))}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), 50); err == nil {
		f.Offset, err = intParam(q.Get("offset"), 0)
	}
	if err == nil && f.Profession != "" && !slices.Contains(credtrack.Professions, f.Profession) {
		err = credtrack.Errorf(credtrack.EINVALID, "unknown profession in ?profession=")
	}
	if err == nil && f.Status != "" && !slices.Contains(providerStatuses, f.Status) {
		err = credtrack.Errorf(credtrack.EINVALID, "unknown status in ?status=")
	}
	if t := q.Get("credential_type"); err == nil && t != "" {
		f.CredentialType = credtrack.CredentialType(t)
		if !slices.Contains(credtrack.CredentialTypes, f.CredentialType) {
			err = credtrack.Errorf(credtrack.EINVALID, "unknown credential type in ?credential_type=")
		}
	}
	if d := q.Get("expiring_within_days"); err == nil && d != "" {
		f.ExpiringWithinDays, err = strconv.Atoi(d)
		if err != nil || f.ExpiringWithinDays < 1 || f.ExpiringWithinDays > 3660 {
			err = credtrack.Errorf(credtrack.EINVALID, "?expiring_within_days= is a whole number of days from 1 to 3660")
		}
	}
	if so := q.Get("sort"); err == nil && so != "" {
		f.Sort = credtrack.ProviderSort(so)
		if !slices.Contains(credtrack.ProviderSorts, f.Sort) {
			err = credtrack.Errorf(credtrack.EINVALID, "unknown order in ?sort=")
		}
	}
	if err == nil && len(f.Query) > 200 {
		err = credtrack.Errorf(credtrack.EINVALID, "?q= is limited to 200 characters")
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.listProviders(w, r, f)
}

// providerSearch is the body of POST /api/v1/providers/search: the list's
// filters plus the exact-match lookups. The numbers travel in the body
// because query strings end up in access logs, proxies and browser
// history.
type providerSearch struct {
	NPI                string `json:"npi"`
	DEA                string `json:"dea"`
	License            string `json:"license"`
	LicenseState       string `json:"license_state"`
	Q                  string `json:"q"`
	Profession         string `json:"profession"`
	Status             string `json:"status"`
	CredentialType     string `json:"credential_type"`
	ExpiringWithinDays int    `json:"expiring_within_days"`
	Sort               string `json:"sort"`
	Limit              int    `json:"limit"`
	Offset             int    `json:"offset"`
}

// handleProviderSearch finds providers by NPI, DEA number or license
// number (exact match, through the blind indexes) with the list's
// filters, answering in the list's shape. Audited as "provider.listed"
// with the kind of lookup, never the number.
func (h *Handler) handleProviderSearch(w http.ResponseWriter, r *http.Request) {
	var in providerSearch
	if err := decodeJSON(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	f := credtrack.ProviderFilter{NPI: in.NPI, DEA: in.DEA, License: in.License, LicenseState: in.LicenseState,
		Query: in.Q, Profession: credtrack.Profession(in.Profession), Status: credtrack.ProviderStatus(in.Status),
		CredentialType: credtrack.CredentialType(in.CredentialType), ExpiringWithinDays: in.ExpiringWithinDays,
		Sort: credtrack.ProviderSort(in.Sort), Limit: in.Limit, Offset: in.Offset}
	var err error
	switch {
	case f.NPI == "" && f.DEA == "" && f.License == "":
		err = credtrack.Errorf(credtrack.EINVALID, "give npi, dea or license to search by; list by name with GET /api/v1/providers")
	case f.Limit < 0 || f.Offset < 0:
		err = credtrack.Errorf(credtrack.EINVALID, "limit and offset are whole numbers of at least 0")
	case f.Profession != "" && !slices.Contains(credtrack.Professions, f.Profession):
		err = credtrack.Errorf(credtrack.EINVALID, "unknown profession")
	case f.Status != "" && !slices.Contains(providerStatuses, f.Status):
		err = credtrack.Errorf(credtrack.EINVALID, "unknown status")
	case f.CredentialType != "" && !slices.Contains(credtrack.CredentialTypes, f.CredentialType):
		err = credtrack.Errorf(credtrack.EINVALID, "unknown credential type")
	case f.ExpiringWithinDays != 0 && (f.ExpiringWithinDays < 1 || f.ExpiringWithinDays > 3660):
		err = credtrack.Errorf(credtrack.EINVALID, "expiring_within_days is a whole number of days from 1 to 3660")
	case f.Sort != "" && !slices.Contains(credtrack.ProviderSorts, f.Sort):
		err = credtrack.Errorf(credtrack.EINVALID, "unknown sort order")
	case len(f.Query) > 200:
		err = credtrack.Errorf(credtrack.EINVALID, "q is limited to 200 characters")
	}
	if err == nil {
		err = f.NormalizeLookups() // the store does it too; this answers a typo before any read
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.listProviders(w, r, f)
}

// listProviders answers one page of providers matching f.
func (h *Handler) listProviders(w http.ResponseWriter, r *http.Request, f credtrack.ProviderFilter) {
	list, total, err := h.opts.Providers.FindProviders(r.Context(), f)
	if err != nil {
		h.error(w, r, err)
		return
	}
	sc := h.statusClock(r)
	items := make([]providerJSON, 0, len(list))
	for _, p := range list {
		items = append(items, toProviderJSON(p, sc))
	}
	limit := f.Limit // report the limit the store applied: 0 means its default
	if limit <= 0 {
		limit = 50
	}
	h.writeJSON(w, map[string]any{"providers": items, "total": total, "limit": min(limit, 500), "offset": f.Offset})
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1_000_000_000 {
		return 0, credtrack.Errorf(credtrack.EINVALID, "limit and offset must be whole numbers ≥ 0")
	}
	return n, nil
}

// revealParam parses ?reveal=a,b into the fields asked for, each one of
// allowed. It refuses unknown names (EINVALID) and, when any field is
// asked for, a token whose role may not reveal (EFORBIDDEN, audited as a
// denial). No parameter means nothing is revealed.
func (h *Handler) revealParam(r *http.Request, targetType, targetID string, allowed ...string) ([]string, error) {
	q := r.URL.Query()
	if !q.Has("reveal") {
		return nil, nil
	}
	var fields []string
	for _, v := range q["reveal"] {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !slices.Contains(allowed, f) {
				return nil, credtrack.Errorf(credtrack.EINVALID, "?reveal= takes %s", strings.Join(allowed, ", "))
			}
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
	}
	if len(fields) == 0 {
		return nil, credtrack.Errorf(credtrack.EINVALID, "?reveal= takes %s", strings.Join(allowed, ", "))
	}
	if err := credtrack.Authorize(r.Context(), credtrack.PermSensitiveReveal); err != nil {
		h.audit(r.Context(), &credtrack.AuditEvent{Action: "authz.denied", TargetType: targetType, TargetID: targetID,
			Outcome: credtrack.OutcomeDenied, Details: map[string]string{"reveal": strings.Join(fields, ",")}})
		return nil, credtrack.Errorf(credtrack.EFORBIDDEN, "this token's role may not reveal full sensitive values")
	}
	return fields, nil
}

// handleProviderShow returns one provider with its credentials, sensitive
// values masked; ?reveal=npi,ssn,dob adds them in full for roles with
// sensitive.reveal, audited as "sensitive.revealed".
func (h *Handler) handleProviderShow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	reveal, err := h.revealParam(r, "provider", id, "npi", "ssn", "dob")
	if err != nil {
		h.error(w, r, err)
		return
	}
	p, err := h.opts.Providers.FindProviderByID(r.Context(), id)
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := toProviderJSON(p, h.statusClock(r))
	out.SSNLast4, out.DOBOnFile = p.SSNLast4, &p.HasDOB
	if len(reveal) > 0 {
		if h.opts.Records == nil {
			h.error(w, r, errNotWired)
			return
		}
		vals := map[string]string{}
		for _, field := range reveal {
			v, err := h.opts.Records.RevealProviderField(r.Context(), id, field)
			if err != nil {
				h.error(w, r, err)
				return
			}
			vals[field] = v
		}
		out.NPI, out.SSN, out.DOB = vals["npi"], vals["ssn"], vals["dob"]
	}
	h.writeJSON(w, out)
}

// errNotWired answers routes whose service this installation did not
// configure.
var errNotWired = credtrack.Errorf(credtrack.EUNAVAILABLE, "this part of the API is not configured on this server")

// providerInput is the body of POST /api/v1/providers. Dates are strings
// so that a bad date of birth is refused without echoing it.
type providerInput struct {
	FirstName  string `json:"first_name"`
	MiddleName string `json:"middle_name"`
	LastName   string `json:"last_name"`
	Suffix     string `json:"suffix"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	Profession string `json:"profession"`
	Specialty  string `json:"specialty"`
	Employer   string `json:"employer"`
	State      string `json:"state"`
	NPI        string `json:"npi"`
	SSN        string `json:"ssn"`
	DOB        string `json:"dob"`
	Active     *bool  `json:"active"`
}

// checkLengths refuses over-long free-text fields (the store limits names).
func checkLengths(fields map[string]string, max int) error {
	for name, v := range fields {
		if len(v) > max {
			return credtrack.Errorf(credtrack.EINVALID, "%s is limited to %d characters", name, max)
		}
	}
	return nil
}

func (in *providerInput) provider() (*credtrack.Provider, error) {
	if err := checkLengths(map[string]string{"suffix": in.Suffix, "email": in.Email, "phone": in.Phone,
		"specialty": in.Specialty, "employer": in.Employer, "state": in.State}, 200); err != nil {
		return nil, err
	}
	p := &credtrack.Provider{FirstName: in.FirstName, MiddleName: in.MiddleName, LastName: in.LastName, Suffix: in.Suffix,
		Email: in.Email, Phone: in.Phone, Profession: credtrack.Profession(in.Profession), Specialty: in.Specialty,
		Employer: in.Employer, State: in.State, NPI: strings.TrimSpace(in.NPI), SSN: strings.TrimSpace(in.SSN), Active: true}
	if in.Active != nil {
		p.Active = *in.Active
	}
	if in.DOB != "" {
		d, err := credtrack.ParseDate(in.DOB)
		if err != nil {
			return nil, credtrack.Errorf(credtrack.EINVALID, "dob must be a date as YYYY-MM-DD")
		}
		p.DOB = d
	}
	return p, nil
}

// handleProviderCreate adds a provider: 201 with the new record (masked)
// and its Location.
func (h *Handler) handleProviderCreate(w http.ResponseWriter, r *http.Request) {
	var in providerInput
	if err := decodeJSON(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	p, err := in.provider()
	if err == nil {
		err = h.opts.Providers.CreateProvider(r.Context(), p)
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := toProviderJSON(p, h.statusClock(r))
	hasDOB := !p.DOB.IsZero()
	out.NPILast4, out.SSNLast4, out.DOBOnFile = credtrack.Last4(p.NPI), credtrack.Last4(p.SSN), &hasDOB
	w.Header().Set("Location", "/api/v1/providers/"+p.ID)
	h.writeJSONStatus(w, http.StatusCreated, out)
}

// handleProviderCredentials lists one provider's credentials, numbers
// masked.
func (h *Handler) handleProviderCredentials(w http.ResponseWriter, r *http.Request) {
	p, err := h.opts.Providers.FindProviderByID(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	sc := h.statusClock(r)
	items := make([]credentialJSON, 0, len(p.Credentials))
	for _, c := range p.Credentials {
		items = append(items, toCredentialJSON(c, sc))
	}
	h.writeJSON(w, map[string]any{"credentials": items})
}

// credentialInput is the body of POST /api/v1/providers/{id}/credentials.
type credentialInput struct {
	Type         string            `json:"type"`
	Issuer       string            `json:"issuer"`
	Jurisdiction string            `json:"jurisdiction"`
	Number       string            `json:"number"`
	IssuedOn     string            `json:"issued_on"`
	ExpiresOn    string            `json:"expires_on"`
	Notes        string            `json:"notes"`
	Details      map[string]string `json:"details"`
}

func (in *credentialInput) credential(providerID string) (*credtrack.Credential, error) {
	if err := checkLengths(map[string]string{"issuer": in.Issuer, "jurisdiction": in.Jurisdiction}, 200); err != nil {
		return nil, err
	}
	if err := checkLengths(map[string]string{"notes": in.Notes}, 4000); err != nil {
		return nil, err
	}
	if len(in.Details) > 50 {
		return nil, credtrack.Errorf(credtrack.EINVALID, "details is limited to 50 fields")
	}
	for k, v := range in.Details {
		if k == "" || len(k) > 64 || len(v) > 500 {
			return nil, credtrack.Errorf(credtrack.EINVALID, "details keys are 1–64 characters and values at most 500")
		}
	}
	c := &credtrack.Credential{ProviderID: providerID, Type: credtrack.CredentialType(in.Type), Issuer: in.Issuer,
		Jurisdiction: in.Jurisdiction, Number: in.Number, Notes: in.Notes, Details: in.Details}
	var err error
	if c.IssuedOn, err = credtrack.ParseDate(in.IssuedOn); err != nil {
		return nil, credtrack.Errorf(credtrack.EINVALID, "issued_on must be a date as YYYY-MM-DD")
	}
	if c.ExpiresOn, err = credtrack.ParseDate(in.ExpiresOn); err != nil {
		return nil, credtrack.Errorf(credtrack.EINVALID, "expires_on must be a date as YYYY-MM-DD")
	}
	return c, nil
}

// handleCredentialCreate adds a credential to a provider: 201 with the
// new record (number masked). Another organization's provider is a 404
// before the body is read.
func (h *Handler) handleCredentialCreate(w http.ResponseWriter, r *http.Request) {
	providerID := r.PathValue("id")
	if err := h.providerVisible(r, providerID); err != nil {
		h.error(w, r, err)
		return
	}
	var in credentialInput
	if err := decodeJSON(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	c, err := in.credential(providerID)
	if err == nil {
		err = h.opts.Credentials.CreateCredential(r.Context(), c)
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/credentials/"+c.ID)
	h.writeJSONStatus(w, http.StatusCreated, toCredentialJSON(c, h.statusClock(r)))
}

// providerVisible refuses another organization's (or an unknown)
// provider with 404 before a body is accepted for it.
func (h *Handler) providerVisible(r *http.Request, id string) error {
	if h.opts.Records == nil {
		return errNotWired
	}
	return h.opts.Records.ProviderVisible(r.Context(), id)
}

// handleCredentialShow returns one credential, its number masked;
// ?reveal=number adds the full number for roles with sensitive.reveal,
// audited as "sensitive.revealed" before it is sent.
func (h *Handler) handleCredentialShow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	reveal, err := h.revealParam(r, "credential", id, "number")
	if err != nil {
		h.error(w, r, err)
		return
	}
	c, err := h.opts.Credentials.FindCredentialByID(r.Context(), id)
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := toCredentialJSON(c, h.statusClock(r))
	if len(reveal) > 0 {
		if h.opts.Records == nil {
			h.error(w, r, errNotWired)
			return
		}
		// Opened again by the reveal, which is recorded before the value
		// is returned (and refused if it cannot be recorded).
		if out.Number, err = h.opts.Records.RevealCredentialNumber(r.Context(), id); err != nil {
			h.error(w, r, err)
			return
		}
	}
	h.writeJSON(w, out)
}

// handleMe describes the calling token.
func (h *Handler) handleMe(w http.ResponseWriter, r *http.Request) {
	a := credtrack.ActorFromContext(r.Context())
	h.writeJSON(w, map[string]string{"token_id": a.ID, "org_id": a.OrgID, "role": string(a.Role)})
}
