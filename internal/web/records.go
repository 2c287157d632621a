package web

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/docs"
	"credtrack/internal/httperr"
)

// Records changes provider records and credentials, reveals sensitive
// values on request and lists documents. *sqlstore.DB implements it.
type Records interface {
	credtrack.CredentialService
	// RevealProviderField opens "npi", "ssn" or "dob" (sensitive.reveal),
	// audited before the value is returned.
	RevealProviderField(ctx context.Context, providerID, field string) (string, error)
	// RevealCredentialNumber opens a credential's number, audited.
	RevealCredentialNumber(ctx context.Context, id string) (string, error)
	// FindDocuments lists a provider's documents (audited).
	FindDocuments(ctx context.Context, providerID string) ([]*credtrack.Document, error)
	// UpdateProviderContact changes a provider's email and phone only
	// (provider.write, or own.write on one's own record), audited.
	UpdateProviderContact(ctx context.Context, providerID, email, phone string) error
}

// Documents stores, serves and verifies document files. *docs.Service
// implements it.
type Documents interface {
	Upload(ctx context.Context, u docs.Upload) (*credtrack.Document, error)
	Open(ctx context.Context, id string) (*credtrack.Document, io.ReadCloser, error)
	VerifyFile(ctx context.Context, r io.Reader) (*credtrack.DocumentMatch, error)
	VerifySHA256(ctx context.Context, hexSum string) (*credtrack.DocumentMatch, error)
	Delete(ctx context.Context, id string) error
}

func init() {
	pageNames = append(pageNames, "provider_form", "credential_form", "credential_type", "reveal", "document_verify")
	flashes["provider-created"] = Flash{Kind: "info", Text: "The provider was added."}
	flashes["provider-saved"] = Flash{Kind: "info", Text: "The provider was saved."}
	flashes["contact-saved"] = Flash{Kind: "info", Text: "Your contact details were saved."}
	flashes["credential-pending"] = Flash{Kind: "info", Text: "The credential was saved. It shows as pending verification until your credentialing team verifies it."}
	flashes["provider-deleted"] = Flash{Kind: "info", Text: "The provider and their credentials and documents were deleted."}
	flashes["credential-added"] = Flash{Kind: "info", Text: "The credential was added."}
	flashes["credential-saved"] = Flash{Kind: "info", Text: "The credential was saved."}
	flashes["credential-deleted"] = Flash{Kind: "info", Text: "The credential was deleted. Its documents stay on the provider."}
	flashes["document-uploaded"] = Flash{Kind: "info", Text: "The document was uploaded and encrypted."}
	flashes["document-fraud"] = Flash{Kind: "error", Text: "The document was uploaded, but the same file is on record for another provider: possible fraud. Check the documents marked below."}
	flashes["document-deleted"] = Flash{Kind: "info", Text: "The document was deleted."}
	flashes["confirm-delete"] = Flash{Kind: "error", Text: "Nothing was deleted: tick the confirmation box first."}
}

// notWired answers 503 when the records or documents services are absent.
func (h *Handler) recordsReady(w http.ResponseWriter, r *http.Request, needDocs bool) bool {
	if h.records == nil || (needDocs && h.documents == nil) {
		h.renderError(w, r, credtrack.Errorf(credtrack.EUNAVAILABLE, "This part of credtrack is not available on this server."))
		return false
	}
	return true
}

// pathProvider finds the provider named by the path's {id}; when there is
// none the actor may see, it renders the error and returns false.
func (h *Handler) pathProvider(w http.ResponseWriter, r *http.Request) (*credtrack.Provider, bool) {
	p, err := h.providers.FindProviderByID(r.Context(), r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return nil, false
	}
	return p, true
}

// recordsProvider is recordsReady, then pathProvider.
func (h *Handler) recordsProvider(w http.ResponseWriter, r *http.Request, needDocs bool) (*credtrack.Provider, bool) {
	if !h.recordsReady(w, r, needDocs) {
		return nil, false
	}
	return h.pathProvider(w, r)
}

// ---- Providers: add, edit, delete ----

// providerForm is the data of templates/pages/provider_form.html.
type providerForm struct {
	Page
	Action      string
	Cancel      string
	New         bool
	P           providerFields
	Professions []option
	Error       string
	// NPIOnFile and the others show the masks beside blank fields that
	// keep the stored value when left blank.
	NPIOnFile, SSNOnFile string
	DOBOnFile            bool
	// ContactOnly shows only the fields a provider maintains on their
	// own record (sqlstore.ContactFields): email and phone.
	ContactOnly bool
}

// providerFields are the form's values.
type providerFields struct {
	FirstName, MiddleName, LastName, Suffix, Email, Phone string
	Profession, Specialty, Employer, State                string
	Active                                                bool
}

func (h *Handler) newProviderForm(w http.ResponseWriter, r *http.Request, title string, f providerFields) providerForm {
	pf := providerForm{Page: h.newPage(w, r, title, "providers"), P: f}
	for _, prof := range credtrack.Professions {
		pf.Professions = append(pf.Professions, option{Value: string(prof), Label: string(prof), Selected: string(prof) == f.Profession})
	}
	return pf
}

func fieldsOf(p *credtrack.Provider) providerFields {
	return providerFields{FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName, Suffix: p.Suffix,
		Email: p.Email, Phone: p.Phone, Profession: string(p.Profession), Specialty: p.Specialty, Employer: p.Employer,
		State: p.State, Active: p.Active}
}

// readProviderForm copies the posted fields onto p. Blank NPI, SSN and
// date of birth keep what p holds (the sensitive values are never put
// back into a form).
func readProviderForm(r *http.Request, p *credtrack.Provider) (providerFields, error) {
	v := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	f := providerFields{FirstName: v("first_name"), MiddleName: v("middle_name"), LastName: v("last_name"), Suffix: v("suffix"),
		Email: v("email"), Phone: v("phone"), Profession: v("profession"), Specialty: v("specialty"), Employer: v("employer"),
		State: strings.ToUpper(v("state")), Active: r.PostForm.Get("active") == "on"}
	p.FirstName, p.MiddleName, p.LastName, p.Suffix = f.FirstName, f.MiddleName, f.LastName, f.Suffix
	p.Email, p.Phone, p.Profession, p.Specialty, p.Employer, p.State = f.Email, f.Phone, credtrack.Profession(f.Profession), f.Specialty, f.Employer, f.State
	p.Active = f.Active
	if npi := strings.ReplaceAll(v("npi"), " ", ""); npi != "" {
		p.NPI = npi
	}
	p.SSN = v("ssn")
	p.DOB = credtrack.Date{}
	if s := v("dob"); s != "" {
		d, err := credtrack.ParseDate(s)
		if err != nil {
			return f, credtrack.Errorf(credtrack.EINVALID, "The date of birth must be a date (YYYY-MM-DD).")
		}
		p.DOB = d
	}
	return f, nil
}

// handleProviderNew shows the empty provider form.
func (h *Handler) handleProviderNew(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, false) {
		return
	}
	pf := h.newProviderForm(w, r, "Add a provider", providerFields{Profession: string(credtrack.ProfRN), Active: true})
	pf.Action, pf.Cancel, pf.New = "/providers", "/providers", true
	h.render(w, r, http.StatusOK, "provider_form", pf)
}

// handleProviderCreate stores a new provider.
func (h *Handler) handleProviderCreate(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, false) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	p := &credtrack.Provider{}
	f, err := readProviderForm(r, p)
	if err == nil {
		err = h.providers.CreateProvider(r.Context(), p)
	}
	if err != nil {
		h.providerFormError(w, r, err, f, "Add a provider", "/providers", "/providers", true, nil)
		return
	}
	h.setFlash(w, "provider-created")
	http.Redirect(w, r, "/providers/"+url.PathEscape(p.ID), http.StatusSeeOther)
}

// providerFormError re-renders the form with the service's message for a
// validation error, or shows the error page for anything else.
func (h *Handler) providerFormError(w http.ResponseWriter, r *http.Request, err error, f providerFields, title, action, cancel string, isNew bool, p *credtrack.Provider) {
	if credtrack.ErrorCode(err) != credtrack.EINVALID {
		h.renderError(w, r, err)
		return
	}
	pf := h.newProviderForm(w, r, title, f)
	pf.Action, pf.Cancel, pf.New, pf.Error = action, cancel, isNew, credtrack.ErrorMessage(err)
	if p != nil {
		pf.NPIOnFile, pf.SSNOnFile, pf.DOBOnFile = maskIf(p.NPILast4), maskIf(p.SSNLast4), p.HasDOB
	}
	h.render(w, r, http.StatusUnprocessableEntity, "provider_form", pf)
}

func maskIf(last4 string) string {
	if last4 == "" {
		return ""
	}
	return mask(true, last4)
}

// handleProviderEdit shows the provider form filled with the record.
func (h *Handler) handleProviderEdit(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, false)
	if !ok {
		return
	}
	pf := h.newProviderForm(w, r, "Edit "+p.FullName(), fieldsOf(p))
	pf.Action, pf.Cancel = "/providers/"+url.PathEscape(p.ID)+"/edit", "/providers/"+url.PathEscape(p.ID)
	pf.NPIOnFile, pf.SSNOnFile, pf.DOBOnFile = maskIf(p.NPILast4), maskIf(p.SSNLast4), p.HasDOB
	h.render(w, r, http.StatusOK, "provider_form", pf)
}

// handleProviderUpdate saves the provider form.
func (h *Handler) handleProviderUpdate(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, false)
	if !ok {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	base := "/providers/" + url.PathEscape(p.ID)
	f, err := readProviderForm(r, p)
	if err == nil {
		err = h.providers.UpdateProvider(r.Context(), p)
	}
	if err != nil {
		h.providerFormError(w, r, err, f, "Edit "+p.FullName(), base+"/edit", base, false, p)
		return
	}
	h.setFlash(w, "provider-saved")
	http.Redirect(w, r, base, http.StatusSeeOther)
}

// handleProviderContactEdit shows a provider their own contact details
// (email and phone), the part of their record they maintain themselves.
func (h *Handler) handleProviderContactEdit(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, false)
	if !ok {
		return
	}
	h.renderContactForm(w, r, http.StatusOK, p, providerFields{Email: p.Email, Phone: p.Phone}, "")
}

func (h *Handler) renderContactForm(w http.ResponseWriter, r *http.Request, status int, p *credtrack.Provider, f providerFields, msg string) {
	pf := h.newProviderForm(w, r, "My contact details", f)
	base := "/providers/" + url.PathEscape(p.ID)
	pf.Action, pf.Cancel, pf.ContactOnly, pf.Error = base+"/contact", base, true, msg
	h.render(w, r, status, "provider_form", pf)
}

// handleProviderContactUpdate saves the contact form; the store decides
// whose record the actor may change.
func (h *Handler) handleProviderContactUpdate(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	f := providerFields{Email: strings.TrimSpace(r.PostForm.Get("email")), Phone: strings.TrimSpace(r.PostForm.Get("phone"))}
	if err := h.records.UpdateProviderContact(ctx, p.ID, f.Email, f.Phone); err != nil {
		if credtrack.ErrorCode(err) != credtrack.EINVALID {
			h.renderError(w, r, err)
			return
		}
		h.renderContactForm(w, r, http.StatusUnprocessableEntity, p, f, credtrack.ErrorMessage(err))
		return
	}
	h.setFlash(w, "contact-saved")
	http.Redirect(w, r, "/providers/"+url.PathEscape(p.ID), http.StatusSeeOther)
}

// handleProviderDelete deletes a provider, their documents first (so that
// the encrypted blobs go too), after the confirmation box was ticked.
func (h *Handler) handleProviderDelete(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	base := "/providers/" + url.PathEscape(p.ID)
	if r.PostForm.Get("confirm") != "yes" {
		h.setFlash(w, "confirm-delete")
		http.Redirect(w, r, base, http.StatusSeeOther)
		return
	}
	if h.documents != nil {
		ds, err := h.records.FindDocuments(ctx, p.ID)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		for _, d := range ds {
			if err := h.documents.Delete(ctx, d.ID); err != nil && credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
				h.renderError(w, r, err)
				return
			}
		}
	}
	if err := h.providers.DeleteProvider(ctx, p.ID); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "provider-deleted")
	http.Redirect(w, r, "/providers", http.StatusSeeOther)
}

// ---- Reveal ----

// revealPage is the data of templates/pages/reveal.html: one sensitive
// value shown once, after the reveal was audited.
type revealPage struct {
	Page
	What     string
	Whose    string
	Value    string
	BackURL  string
	Recorded string
}

var revealLabels = map[string]string{"npi": "NPI", "ssn": "Social Security number", "dob": "Date of birth"}

// handleProviderReveal shows a provider's NPI, SSN or date of birth once.
func (h *Handler) handleProviderReveal(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, false) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	id := r.PathValue("id")
	field := r.PostForm.Get("field")
	v, err := h.records.RevealProviderField(r.Context(), id, field)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if field == "ssn" && len(v) == 9 {
		v = v[:3] + "-" + v[3:5] + "-" + v[5:]
	}
	h.renderReveal(w, r, revealLabels[field], v, "/providers/"+url.PathEscape(id))
}

// handleCredentialReveal shows a credential's number once.
func (h *Handler) handleCredentialReveal(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, false) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	id := r.PathValue("id")
	v, err := h.records.RevealCredentialNumber(r.Context(), id)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	back := "/providers"
	if c, err := h.records.FindCredentialByID(r.Context(), id); err == nil {
		back = "/providers/" + url.PathEscape(c.ProviderID)
		h.renderReveal(w, r, c.Type.Spec().NumberLabel, v, back)
		return
	}
	h.renderReveal(w, r, "Number", v, back)
}

func (h *Handler) renderReveal(w http.ResponseWriter, r *http.Request, what, value, back string) {
	if value == "" {
		value = "(none on file)"
	}
	p := revealPage{Page: h.newPage(w, r, what, "providers"), What: what, Value: value, BackURL: back,
		Recorded: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	h.render(w, r, http.StatusOK, "reveal", p)
}

// ---- Credentials: add, edit, delete ----

// credentialTypePage is the data of templates/pages/credential_type.html.
type credentialTypePage struct {
	Page
	ProviderID, ProviderName string
	Types                    []option
}

// credentialForm is the data of templates/pages/credential_form.html.
type credentialForm struct {
	Page
	Action, Cancel string
	DeleteAction   string // "" on a new credential
	New            bool
	TypeLabel      string
	Type           string
	Spec           credtrack.CredentialSpec
	ProviderName   string
	Error          string
	// Common fields.
	Issuer, Jurisdiction, IssuedOn, ExpiresOn, Notes, VerifiedOn, VerifiedBy string
	NumberOnFile                                                             string // mask, on edit
	Fields                                                                   []formField
	// SelfService is a provider editing their own record: no verification
	// fields (the store keeps what they enter pending verification).
	SelfService bool
	// VerifiedLocked says why a provider sees no delete button: the
	// credential is verified, and only staff remove it.
	VerifiedLocked bool
}

// formField is one type-specific input.
type formField struct {
	credtrack.DetailField
	Name    string // the input's name: "d_" + key
	Value   string
	Checked bool
	Choices []option // enum, multi and document choices
}

func credentialFormFields(spec credtrack.CredentialSpec, details map[string]string, docs []*credtrack.Document) []formField {
	var out []formField
	for _, f := range spec.Fields {
		ff := formField{DetailField: f, Name: "d_" + f.Key, Value: details[f.Key], Checked: details[f.Key] == "true"}
		switch f.Kind {
		case credtrack.FieldEnum:
			for _, o := range f.Options {
				ff.Choices = append(ff.Choices, option{Value: o, Label: o, Selected: o == ff.Value})
			}
		case credtrack.FieldMulti:
			have := strings.Split(ff.Value, ",")
			for _, o := range f.Options {
				ff.Choices = append(ff.Choices, option{Value: o, Label: o, Selected: slices.Contains(have, o)})
			}
		case credtrack.FieldDocument:
			for _, d := range docs {
				ff.Choices = append(ff.Choices, option{Value: d.ID, Label: d.Filename + " (" + d.CreatedAt.UTC().Format(credtrack.DateLayout) + ")",
					Selected: d.ID == ff.Value})
			}
		}
		out = append(out, ff)
	}
	return out
}

// readCredentialForm copies the posted fields onto c. A blank number
// keeps the stored one on edit (the store's rule).
func readCredentialForm(r *http.Request, c *credtrack.Credential) error {
	v := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	spec := c.Type.Spec()
	c.Issuer, c.Jurisdiction, c.Notes = v("issuer"), strings.ToUpper(v("jurisdiction")), v("notes")
	c.Number = v("number")
	var err error
	if c.IssuedOn, err = credtrack.ParseDate(v("issued_on")); err != nil {
		return credtrack.Errorf(credtrack.EINVALID, "%s: use a date (YYYY-MM-DD).", spec.IssuedLabel)
	}
	if c.ExpiresOn, err = credtrack.ParseDate(v("expires_on")); err != nil {
		return credtrack.Errorf(credtrack.EINVALID, "%s: use a date (YYYY-MM-DD).", spec.ExpiresLabel)
	}
	verifiedOn, err := credtrack.ParseDate(v("verified_on"))
	if err != nil {
		return credtrack.Errorf(credtrack.EINVALID, "Verified on: use a date (YYYY-MM-DD).")
	}
	by := v("verified_by")
	switch {
	case verifiedOn.IsZero() && by == "":
		c.VerifiedAt, c.VerifiedBy = time.Time{}, ""
	case verifiedOn.IsZero() || by == "":
		return credtrack.Errorf(credtrack.EINVALID, "A verification needs both its date and its source.")
	case !c.VerifiedAt.IsZero() && credtrack.DateOf(c.VerifiedAt) == verifiedOn:
		c.VerifiedBy = by // same day: keep the recorded time
	default:
		c.VerifiedAt, c.VerifiedBy = verifiedOn.Time.Add(12*time.Hour), by
	}
	c.Details = map[string]string{}
	for _, f := range spec.Fields {
		switch f.Kind {
		case credtrack.FieldBool:
			if r.PostForm.Get("d_"+f.Key) == "on" {
				c.Details[f.Key] = "true"
			} else {
				c.Details[f.Key] = "false"
			}
		case credtrack.FieldMulti:
			c.Details[f.Key] = strings.Join(r.PostForm["d_"+f.Key], ",")
		default:
			c.Details[f.Key] = v("d_" + f.Key)
		}
	}
	return nil
}

func (h *Handler) newCredentialForm(w http.ResponseWriter, r *http.Request, c *credtrack.Credential, providerName string, docs []*credtrack.Document) credentialForm {
	spec := c.Type.Spec()
	title := "Add a " + strings.ToLower(c.Type.Label())
	if c.ID != "" {
		title = "Edit " + strings.ToLower(c.Type.Label())
	}
	cf := credentialForm{Page: h.newPage(w, r, title, "providers"), TypeLabel: c.Type.Label(), Type: string(c.Type), Spec: spec,
		ProviderName: providerName, Issuer: c.Issuer, Jurisdiction: c.Jurisdiction, IssuedOn: c.IssuedOn.String(),
		ExpiresOn: c.ExpiresOn.String(), Notes: c.Notes, VerifiedBy: c.VerifiedBy,
		Fields:      credentialFormFields(spec, c.Details, docs),
		SelfService: selfService(credtrack.ActorFromContext(r.Context()))}
	if !c.VerifiedAt.IsZero() {
		cf.VerifiedOn = credtrack.DateOf(c.VerifiedAt).String()
	}
	return cf
}

// selfService reports that a maintains credentials only through the
// "own record" permission: a provider on their own record.
func selfService(a credtrack.Actor) bool {
	return !a.Can(credtrack.PermCredentialWrite) && a.Can(credtrack.PermOwnRecordWrite)
}

// documentsFor lists a provider's documents for the certificate choice,
// or nil when documents are not available.
func (h *Handler) documentsFor(ctx context.Context, providerID string, spec credtrack.CredentialSpec) []*credtrack.Document {
	if h.documents == nil || !slices.ContainsFunc(spec.Fields, func(f credtrack.DetailField) bool { return f.Kind == credtrack.FieldDocument }) {
		return nil
	}
	ds, err := h.records.FindDocuments(ctx, providerID)
	if err != nil {
		return nil
	}
	return ds
}

// handleCredentialNew shows the type picker, or with ?type= the form for
// that type.
func (h *Handler) handleCredentialNew(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, false)
	if !ok {
		return
	}
	typ := credtrack.CredentialType(r.URL.Query().Get("type"))
	if typ == "" {
		tp := credentialTypePage{Page: h.newPage(w, r, "Add a credential", "providers"), ProviderID: p.ID, ProviderName: p.FullName()}
		for _, t := range credtrack.CredentialTypes {
			tp.Types = append(tp.Types, option{Value: string(t), Label: t.Label()})
		}
		h.render(w, r, http.StatusOK, "credential_type", tp)
		return
	}
	if !slices.Contains(credtrack.CredentialTypes, typ) {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Unknown credential type."))
		return
	}
	c := &credtrack.Credential{Type: typ, ProviderID: p.ID}
	if typ == credtrack.CredStateLicense || typ == credtrack.CredDEA {
		c.Jurisdiction = p.State
	}
	cf := h.newCredentialForm(w, r, c, p.FullName(), h.documentsFor(r.Context(), p.ID, typ.Spec()))
	cf.Action, cf.Cancel, cf.New = "/providers/"+url.PathEscape(p.ID)+"/credentials", "/providers/"+url.PathEscape(p.ID), true
	h.render(w, r, http.StatusOK, "credential_form", cf)
}

// handleCredentialCreate stores a new credential.
func (h *Handler) handleCredentialCreate(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	typ := credtrack.CredentialType(r.PostForm.Get("type"))
	if !slices.Contains(credtrack.CredentialTypes, typ) {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Choose a credential type."))
		return
	}
	base := "/providers/" + url.PathEscape(p.ID)
	c := &credtrack.Credential{Type: typ, ProviderID: p.ID}
	err := readCredentialForm(r, c)
	if err == nil {
		err = h.records.CreateCredential(ctx, c)
	}
	if err != nil {
		if credtrack.ErrorCode(err) != credtrack.EINVALID {
			h.renderError(w, r, err)
			return
		}
		cf := h.newCredentialForm(w, r, c, p.FullName(), h.documentsFor(ctx, p.ID, typ.Spec()))
		cf.Action, cf.Cancel, cf.New, cf.Error = base+"/credentials", base, true, credtrack.ErrorMessage(err)
		h.render(w, r, http.StatusUnprocessableEntity, "credential_form", cf)
		return
	}
	if selfService(credtrack.ActorFromContext(ctx)) {
		h.setFlash(w, "credential-pending")
	} else {
		h.setFlash(w, "credential-added")
	}
	http.Redirect(w, r, base, http.StatusSeeOther)
}

// handleCredentialEdit shows the credential form filled with the record;
// the number stays masked and a blank number keeps it.
func (h *Handler) handleCredentialEdit(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, false) {
		return
	}
	ctx := r.Context()
	c, err := h.records.FindCredentialByID(ctx, r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p, err := h.providers.FindProviderByID(ctx, c.ProviderID)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	cf := h.newCredentialForm(w, r, c, p.FullName(), h.documentsFor(ctx, p.ID, c.Type.Spec()))
	cf.Action, cf.Cancel = "/credentials/"+url.PathEscape(c.ID)+"/edit", "/providers/"+url.PathEscape(p.ID)
	cf.DeleteAction = "/credentials/" + url.PathEscape(c.ID) + "/delete"
	if cf.SelfService && !c.VerifiedAt.IsZero() {
		// The store refuses a provider's delete of a verified credential.
		cf.DeleteAction, cf.VerifiedLocked = "", true
	}
	cf.NumberOnFile = maskIf(c.NumberLast4)
	if cf.NumberOnFile == "" && c.Number != "" {
		cf.NumberOnFile = "••••"
	}
	h.render(w, r, http.StatusOK, "credential_form", cf)
}

// handleCredentialUpdate saves the credential form.
func (h *Handler) handleCredentialUpdate(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, false) {
		return
	}
	ctx := r.Context()
	c, err := h.records.FindCredentialByID(ctx, r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	last4 := c.NumberLast4
	hadNumber := c.Number != ""
	c.Number = ""
	err = readCredentialForm(r, c)
	if err == nil {
		err = h.records.UpdateCredential(ctx, c)
	}
	base := "/providers/" + url.PathEscape(c.ProviderID)
	if err != nil {
		if credtrack.ErrorCode(err) != credtrack.EINVALID {
			h.renderError(w, r, err)
			return
		}
		cf := h.newCredentialForm(w, r, c, "", h.documentsFor(ctx, c.ProviderID, c.Type.Spec()))
		cf.Action, cf.Cancel, cf.Error = "/credentials/"+url.PathEscape(c.ID)+"/edit", base, credtrack.ErrorMessage(err)
		cf.DeleteAction = "/credentials/" + url.PathEscape(c.ID) + "/delete"
		if cf.SelfService && !c.VerifiedAt.IsZero() {
			cf.DeleteAction, cf.VerifiedLocked = "", true
		}
		if hadNumber {
			cf.NumberOnFile = cmpMask(last4)
		}
		h.render(w, r, http.StatusUnprocessableEntity, "credential_form", cf)
		return
	}
	if selfService(credtrack.ActorFromContext(ctx)) {
		h.setFlash(w, "credential-pending")
	} else {
		h.setFlash(w, "credential-saved")
	}
	http.Redirect(w, r, base, http.StatusSeeOther)
}

func cmpMask(last4 string) string {
	if last4 == "" {
		return "••••"
	}
	return mask(true, last4)
}

// handleCredentialDelete deletes a credential after the confirmation box
// was ticked.
func (h *Handler) handleCredentialDelete(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, false) {
		return
	}
	ctx := r.Context()
	c, err := h.records.FindCredentialByID(ctx, r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	base := "/providers/" + url.PathEscape(c.ProviderID)
	if r.PostForm.Get("confirm") != "yes" {
		h.setFlash(w, "confirm-delete")
		http.Redirect(w, r, "/credentials/"+url.PathEscape(c.ID)+"/edit", http.StatusSeeOther)
		return
	}
	if err := h.records.DeleteCredential(ctx, c.ID); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "credential-deleted")
	http.Redirect(w, r, base, http.StatusSeeOther)
}

// ---- Documents ----

// multipartOverhead is what a multipart body may add to a file's size
// (boundaries, headers, the small fields before the file).
const multipartOverhead = 64 << 10

// handleDocumentUpload streams a multipart upload into the document
// service: the file part is read straight from the request, never
// buffered whole, and is encrypted on its way to the blob store. Fields
// must come before the file (the page's form puts them there).
func (h *Handler) handleDocumentUpload(w http.ResponseWriter, r *http.Request) {
	p, ok := h.recordsProvider(w, r, true)
	if !ok {
		return
	}
	ctx := r.Context()
	base := "/providers/" + url.PathEscape(p.ID)
	mr, err := r.MultipartReader()
	if err != nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Choose a file to upload."))
		return
	}
	var credentialID string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Choose a file to upload."))
			return
		}
		if err != nil {
			h.renderError(w, r, uploadError(err))
			return
		}
		switch part.FormName() {
		case "credential_id":
			b, err := io.ReadAll(io.LimitReader(part, 200))
			if err != nil {
				h.renderError(w, r, uploadError(err))
				return
			}
			credentialID = strings.TrimSpace(string(b))
		case "file":
			if part.FileName() == "" {
				h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Choose a file to upload."))
				return
			}
			d, err := h.documents.Upload(ctx, docs.Upload{ProviderID: p.ID, CredentialID: credentialID,
				Filename: part.FileName(), Body: part})
			if err != nil {
				h.renderError(w, r, uploadError(err))
				return
			}
			if d.PossibleFraud {
				h.setFlash(w, "document-fraud")
			} else {
				h.setFlash(w, "document-uploaded")
			}
			http.Redirect(w, r, base+"#documents", http.StatusSeeOther)
			return
		}
		part.Close()
	}
}

// uploadError turns a body that is over its limit into ETOOLARGE.
func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return credtrack.Errorf(credtrack.ETOOLARGE, "The file is larger than the upload limit.")
	}
	var e *credtrack.Error
	if errors.As(err, &e) {
		return err
	}
	return credtrack.Errorf(credtrack.EINVALID, "The upload could not be read.")
}

// handleDocumentDownload streams a document, decrypted, with the checks of
// the docs package comment: Content-Length from the record, and an aborted
// connection (never a clean end) if decryption or the fingerprint fails
// after bytes were sent.
func (h *Handler) handleDocumentDownload(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, true) {
		return
	}
	d, rc, err := h.documents.Open(r.Context(), r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	defer rc.Close()
	hd := w.Header()
	hd.Set("Content-Type", d.ContentType)
	hd.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		h.logger.ErrorContext(r.Context(), "web: document download failed", "document_id", d.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// handleDocumentDelete deletes a document and its blob.
func (h *Handler) handleDocumentDelete(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, true) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	back := "/providers"
	if pid := r.PostForm.Get("provider_id"); pid != "" {
		back = "/providers/" + url.PathEscape(pid) + "#documents"
	}
	if err := h.documents.Delete(r.Context(), r.PathValue("id")); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "document-deleted")
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// verifyPage is the data of templates/pages/document_verify.html.
type verifyPage struct {
	Page
	Checked       bool
	SHA256        string
	Matches       []verifyMatch
	PossibleFraud bool
	Error         string
	MaxUploadMB   int64
}

// verifyMatch is one document on record with the fingerprint.
type verifyMatch struct {
	DocumentID, Filename, ProviderID, ContentType, Size, Uploaded string
	ProviderName                                                  string
}

// handleDocumentVerifyForm shows the "verify a document" page.
func (h *Handler) handleDocumentVerifyForm(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, true) {
		return
	}
	h.render(w, r, http.StatusOK, "document_verify", verifyPage{Page: h.newPage(w, r, "Verify a document", "verify"), MaxUploadMB: h.maxUpload >> 20})
}

// handleDocumentVerify checks a file (multipart, streamed and hashed) or a
// SHA-256 (form field) against the organization's documents.
func (h *Handler) handleDocumentVerify(w http.ResponseWriter, r *http.Request) {
	if !h.recordsReady(w, r, true) {
		return
	}
	ctx := r.Context()
	p := verifyPage{MaxUploadMB: h.maxUpload >> 20}
	var m *credtrack.DocumentMatch
	var err error
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		m, err = h.verifyMultipart(ctx, r)
	} else {
		if err = parseForm(r); err == nil {
			p.SHA256 = strings.TrimSpace(r.PostForm.Get("sha256"))
			m, err = h.documents.VerifySHA256(ctx, p.SHA256)
		}
	}
	p.Page = h.newPage(w, r, "Verify a document", "verify")
	if err != nil {
		switch credtrack.ErrorCode(err) {
		case credtrack.EINVALID, credtrack.ETOOLARGE:
			p.Error = credtrack.ErrorMessage(err)
			h.render(w, r, httperr.Status(credtrack.ErrorCode(err)), "document_verify", p)
		default:
			h.renderError(w, r, err)
		}
		return
	}
	p.Checked, p.SHA256, p.PossibleFraud = true, hex.EncodeToString(m.SHA256), m.PossibleFraud
	names := map[string]string{}
	for _, d := range m.Documents {
		vm := verifyMatch{DocumentID: d.ID, Filename: d.Filename, ProviderID: d.ProviderID, ContentType: d.ContentType,
			Size: humanSize(d.Size), Uploaded: d.CreatedAt.UTC().Format(credtrack.DateLayout)}
		if n, ok := names[d.ProviderID]; ok {
			vm.ProviderName = n
		} else if pr, err := h.providers.FindProviderByID(ctx, d.ProviderID); err == nil {
			vm.ProviderName, names[d.ProviderID] = pr.FullName(), pr.FullName()
		}
		p.Matches = append(p.Matches, vm)
	}
	h.render(w, r, http.StatusOK, "document_verify", p)
}

func (h *Handler) verifyMultipart(ctx context.Context, r *http.Request) (*credtrack.DocumentMatch, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, credtrack.Errorf(credtrack.EINVALID, "Choose a file or enter a SHA-256 fingerprint.")
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, credtrack.Errorf(credtrack.EINVALID, "Choose a file or enter a SHA-256 fingerprint.")
		}
		if err != nil {
			return nil, uploadError(err)
		}
		if part.FormName() == "file" && part.FileName() != "" {
			m, err := h.documents.VerifyFile(ctx, part)
			if err != nil {
				return nil, uploadError(err)
			}
			return m, nil
		}
		part.Close()
	}
}
