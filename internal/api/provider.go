package api

import (
	"net/http"
	"strconv"
	"time"

	"credtrack"
)

// providerJSON is a provider as the API shows it: sensitive identifiers
// only as their last four characters.
type providerJSON struct {
	ID          string           `json:"id"`
	FirstName   string           `json:"first_name"`
	MiddleName  string           `json:"middle_name,omitempty"`
	LastName    string           `json:"last_name"`
	Suffix      string           `json:"suffix,omitempty"`
	Email       string           `json:"email,omitempty"`
	Phone       string           `json:"phone,omitempty"`
	Profession  string           `json:"profession"`
	Specialty   string           `json:"specialty,omitempty"`
	Employer    string           `json:"employer,omitempty"`
	State       string           `json:"state,omitempty"`
	NPILast4    string           `json:"npi_last4,omitempty"`
	Active      bool             `json:"active"`
	Status      string           `json:"status"`
	Missing     []string         `json:"missing_credentials"`
	Credentials []credentialJSON `json:"credentials"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
}

type credentialJSON struct {
	ID           string            `json:"id"`
	ProviderID   string            `json:"provider_id"`
	Type         string            `json:"type"`
	Issuer       string            `json:"issuer,omitempty"`
	Jurisdiction string            `json:"jurisdiction,omitempty"`
	Number       string            `json:"number,omitempty"`
	NumberLast4  string            `json:"number_last4,omitempty"`
	IssuedOn     string            `json:"issued_on,omitempty"`
	ExpiresOn    string            `json:"expires_on,omitempty"`
	Status       string            `json:"status"`
	VerifiedAt   *time.Time        `json:"verified_at,omitempty"`
	VerifiedBy   string            `json:"verified_by,omitempty"`
	Details      map[string]string `json:"details"`
}

// statusClock says on which day and with which expiring window statuses
// are derived, so that the API agrees with the pages and the store's
// status filter: the organization's own window, or 90 days without one.
type statusClock struct {
	today  credtrack.Date
	window int
}

func (h *Handler) statusClock(r *http.Request) statusClock {
	sc := statusClock{today: credtrack.DateOf(h.now()), window: 90}
	if h.opts.Orgs != nil {
		if o, err := h.opts.Orgs.FindOrgByID(r.Context(), credtrack.ActorFromContext(r.Context()).OrgID); err == nil {
			sc.window = o.ExpiringWindowDays
		}
	}
	return sc
}

func toCredentialJSON(c *credtrack.Credential, sc statusClock) credentialJSON {
	out := credentialJSON{ID: c.ID, ProviderID: c.ProviderID, Type: string(c.Type), Issuer: c.Issuer,
		Jurisdiction: c.Jurisdiction, Number: c.Number, NumberLast4: c.NumberLast4, IssuedOn: c.IssuedOn.String(),
		ExpiresOn: c.ExpiresOn.String(), Status: string(c.Status(sc.today, sc.window)), VerifiedBy: c.VerifiedBy, Details: c.Details}
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
		State: p.State, NPILast4: p.NPILast4, Active: p.Active, Status: string(p.Status(sc.today, sc.window)),
		Missing: []string{}, Credentials: []credentialJSON{}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	for _, t := range p.MissingTypes() {
		out.Missing = append(out.Missing, string(t))
	}
	for _, c := range p.Credentials {
		out.Credentials = append(out.Credentials, toCredentialJSON(c, sc))
	}
	return out
}

// handleProviderIndex lists providers: ?q=, ?profession=, ?status=, ?limit=, ?offset=.
func (h *Handler) handleProviderIndex(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := credtrack.ProviderFilter{Query: q.Get("q"), Profession: credtrack.Profession(q.Get("profession")),
		Status: credtrack.ProviderStatus(q.Get("status"))}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), 50); err == nil {
		f.Offset, err = intParam(q.Get("offset"), 0)
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
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
	if err != nil || n < 0 {
		return 0, credtrack.Errorf(credtrack.EINVALID, "limit and offset must be whole numbers ≥ 0")
	}
	return n, nil
}

// handleProviderShow returns one provider with its credentials.
func (h *Handler) handleProviderShow(w http.ResponseWriter, r *http.Request) {
	p, err := h.opts.Providers.FindProviderByID(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.writeJSON(w, toProviderJSON(p, h.statusClock(r)))
}

// handleCredentialShow returns one credential with its number: an audited read.
func (h *Handler) handleCredentialShow(w http.ResponseWriter, r *http.Request) {
	c, err := h.opts.Credentials.FindCredentialByID(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.writeJSON(w, toCredentialJSON(c, h.statusClock(r)))
}

// handleMe describes the calling token.
func (h *Handler) handleMe(w http.ResponseWriter, r *http.Request) {
	a := credtrack.ActorFromContext(r.Context())
	h.writeJSON(w, map[string]string{"token_id": a.ID, "org_id": a.OrgID, "role": string(a.Role)})
}
