package api

import (
	"net/http"

	"credtrack"
)

// providerPatch is the body of PATCH /api/v1/providers/{id}: the fields
// to change; absent (or null) fields keep their values. npi "" clears the
// NPI; ssn and dob can be replaced but not cleared here.
type providerPatch struct {
	FirstName  *string `json:"first_name"`
	MiddleName *string `json:"middle_name"`
	LastName   *string `json:"last_name"`
	Suffix     *string `json:"suffix"`
	Email      *string `json:"email"`
	Phone      *string `json:"phone"`
	Profession *string `json:"profession"`
	Specialty  *string `json:"specialty"`
	Employer   *string `json:"employer"`
	State      *string `json:"state"`
	NPI        *string `json:"npi"`
	SSN        *string `json:"ssn"`
	DOB        *string `json:"dob"`
	Active     *bool   `json:"active"`
}

func set(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

// handleProviderUpdate changes a provider: 200 with the record (masked).
// Another organization's provider is a 404 before the body is read.
func (h *Handler) handleProviderUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.providerVisible(r, id); err != nil {
		h.error(w, r, err)
		return
	}
	var in providerPatch
	if err := decodeJSON(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	p, err := h.opts.Providers.FindProviderByID(r.Context(), id)
	if err != nil {
		h.error(w, r, err)
		return
	}
	// SSN and DOB are never opened by reads; empty keeps them.
	p.SSN, p.DOB = "", credtrack.Date{}
	set(&p.FirstName, in.FirstName)
	set(&p.MiddleName, in.MiddleName)
	set(&p.LastName, in.LastName)
	set(&p.Suffix, in.Suffix)
	set(&p.Email, in.Email)
	set(&p.Phone, in.Phone)
	set(&p.Specialty, in.Specialty)
	set(&p.Employer, in.Employer)
	set(&p.State, in.State)
	if in.Profession != nil {
		p.Profession = credtrack.Profession(*in.Profession)
	}
	if in.NPI != nil {
		p.NPI = *in.NPI
	}
	if in.SSN != nil {
		if *in.SSN == "" {
			h.error(w, r, credtrack.Errorf(credtrack.EINVALID, "ssn cannot be cleared through the API; leave it out to keep it"))
			return
		}
		p.SSN = *in.SSN
	}
	if in.DOB != nil {
		d, err := credtrack.ParseDate(*in.DOB)
		if err != nil || d.IsZero() {
			h.error(w, r, credtrack.Errorf(credtrack.EINVALID, "dob must be a date as YYYY-MM-DD"))
			return
		}
		p.DOB = d
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	check := providerInput{Suffix: p.Suffix, Email: p.Email, Phone: p.Phone, Specialty: p.Specialty, Employer: p.Employer, State: p.State}
	if _, err := check.provider(); err != nil {
		h.error(w, r, err)
		return
	}
	if err := h.opts.Providers.UpdateProvider(r.Context(), p); err != nil {
		h.error(w, r, err)
		return
	}
	out := toProviderJSON(p, h.statusClock(r))
	out.SSNLast4, out.DOBOnFile = p.SSNLast4, &p.HasDOB
	h.writeJSON(w, out)
}

// handleProviderDelete deletes a provider with its credentials and
// documents (their blobs first, through the document service): 204.
func (h *Handler) handleProviderDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.providerVisible(r, id); err != nil {
		h.error(w, r, err)
		return
	}
	if err := noBody(w, r); err != nil {
		h.error(w, r, err)
		return
	}
	if h.opts.Documents != nil {
		list, err := h.opts.Records.FindDocuments(r.Context(), id)
		if err != nil {
			h.error(w, r, err)
			return
		}
		for _, d := range list {
			if err := h.opts.Documents.Delete(r.Context(), d.ID); err != nil {
				h.error(w, r, err)
				return
			}
		}
	}
	if err := h.opts.Providers.DeleteProvider(r.Context(), id); err != nil {
		h.error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// credentialPatch is the body of PATCH /api/v1/credentials/{id}; absent
// fields keep their values, details (when given) replaces the whole set.
type credentialPatch struct {
	Type         *string            `json:"type"`
	Issuer       *string            `json:"issuer"`
	Jurisdiction *string            `json:"jurisdiction"`
	Number       *string            `json:"number"`
	IssuedOn     *string            `json:"issued_on"`
	ExpiresOn    *string            `json:"expires_on"`
	Notes        *string            `json:"notes"`
	Details      *map[string]string `json:"details"`
}

// handleCredentialUpdate changes a credential: 200 with the record
// (number masked).
func (h *Handler) handleCredentialUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.credentialVisible(r, id); err != nil {
		h.error(w, r, err)
		return
	}
	var in credentialPatch
	if err := decodeJSON(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	if in.Number != nil && *in.Number == "" {
		h.error(w, r, credtrack.Errorf(credtrack.EINVALID, "number cannot be cleared; leave it out to keep it"))
		return
	}
	c, err := h.opts.Credentials.FindCredentialByID(r.Context(), id)
	if err != nil {
		h.error(w, r, err)
		return
	}
	cur := credentialInput{Type: string(c.Type), Issuer: c.Issuer, Jurisdiction: c.Jurisdiction, Number: c.Number,
		IssuedOn: c.IssuedOn.String(), ExpiresOn: c.ExpiresOn.String(), Notes: c.Notes, Details: c.Details}
	set(&cur.Type, in.Type)
	set(&cur.Issuer, in.Issuer)
	set(&cur.Jurisdiction, in.Jurisdiction)
	set(&cur.Number, in.Number)
	set(&cur.IssuedOn, in.IssuedOn)
	set(&cur.ExpiresOn, in.ExpiresOn)
	set(&cur.Notes, in.Notes)
	if in.Details != nil {
		cur.Details = *in.Details
	}
	next, err := cur.credential(c.ProviderID)
	if err != nil {
		h.error(w, r, err)
		return
	}
	next.ID, next.VerifiedAt, next.VerifiedBy = c.ID, c.VerifiedAt, c.VerifiedBy
	if err := h.opts.Credentials.UpdateCredential(r.Context(), next); err != nil {
		h.error(w, r, err)
		return
	}
	h.writeJSON(w, toCredentialJSON(next, h.statusClock(r)))
}

// handleCredentialDelete deletes a credential (its documents stay on the
// provider): 204.
func (h *Handler) handleCredentialDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// Another organization's credential is a 404 whatever the request
	// holds; then a body is refused before anything changes.
	if err := h.credentialVisible(r, id); err != nil {
		h.error(w, r, err)
		return
	}
	if err := noBody(w, r); err != nil {
		h.error(w, r, err)
		return
	}
	if err := h.opts.Credentials.DeleteCredential(r.Context(), id); err != nil {
		h.error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// credentialVisible refuses another organization's (or an unknown)
// credential with 404, returning no data.
func (h *Handler) credentialVisible(r *http.Request, id string) error {
	if h.opts.Records == nil {
		return errNotWired
	}
	return h.opts.Records.CredentialVisible(r.Context(), id)
}
