package web

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"credtrack"
)

// providersPerPage is the page size of the provider list.
const providersPerPage = 50

// defaultWindowDays is the expiring window when no OrgService is wired.
const defaultWindowDays = 90

// providerRow is one line of the provider list.
type providerRow struct {
	ID          string
	Name        string
	Profession  string
	Specialty   string
	State       string
	NPI         string // masked
	Status      string
	NextExpiry  credtrack.Date
	NextDays    string
	NextExpired bool
}

// option is one choice of a filter <select>.
type option struct {
	Value, Label string
	Selected     bool
}

// providersPage is the data of templates/pages/providers.html.
type providersPage struct {
	Page
	Query       string
	Professions []option
	Statuses    []option
	Rows        []providerRow
	From, To    int
	Total       int
	PrevURL     string // "" on the first page
	NextURL     string // "" on the last page
	Filtered    bool
}

// credentialRow is one line of the credentials table on the provider page.
type credentialRow struct {
	TypeLabel    string
	Issuer       string
	Jurisdiction string
	Number       string // masked
	IssuedOn     credtrack.Date
	ExpiresOn    credtrack.Date
	DaysLeft     string
	Status       string
	VerifiedAt   string
	VerifiedBy   string
	// Stale: never verified, or verified longer ago than the
	// organization's freshness limit (shown when verification is on).
	Stale bool
}

// providerPage is the data of templates/pages/provider.html.
type providerPage struct {
	Page
	// BackToList links to the list for roles that may open it.
	BackToList  bool
	Name        string
	Profession  string
	Specialty   string
	Employer    string
	State       string
	Status      string
	NPI         string // masked
	SSN         string // masked
	DOBOnFile   bool
	Credentials []credentialRow
	Missing     []string
	Timeline    timeline
	// ReadsURL links to "who has read this record" when the actor may
	// see it; "" otherwise.
	ReadsURL string
	// VerificationsURL links to the verification history and the Verify
	// actions when verification is on and the actor may see them.
	VerificationsURL string
}

// handleProviderIndex lists the organization's providers with search,
// filters and paging.
func (h *Handler) handleProviderIndex(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := credtrack.ProviderFilter{
		Query:      strings.TrimSpace(q.Get("q")),
		Profession: credtrack.Profession(q.Get("profession")),
		Status:     credtrack.ProviderStatus(q.Get("status")),
		Limit:      providersPerPage,
	}
	if f.Profession != "" && !slices.Contains(credtrack.Professions, f.Profession) {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Unknown profession."))
		return
	}
	if f.Status != "" && !slices.Contains(providerStatuses, f.Status) {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Unknown status."))
		return
	}
	page := 1
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The page number is not valid."))
			return
		}
		page = n
	}
	f.Offset = (page - 1) * providersPerPage

	ps, total, err := h.providers.FindProviders(r.Context(), f)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	window, err := h.windowDays(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	today := h.today()

	p := providersPage{
		Page:     h.newPage(w, r, "Providers", "providers"),
		Query:    f.Query,
		Total:    total,
		Filtered: f.Query != "" || f.Profession != "" || f.Status != "",
	}
	for _, prof := range credtrack.Professions {
		p.Professions = append(p.Professions, option{Value: string(prof), Label: string(prof), Selected: prof == f.Profession})
	}
	for _, s := range providerStatuses {
		p.Statuses = append(p.Statuses, option{Value: string(s), Label: statusLabel(string(s)), Selected: s == f.Status})
	}
	for _, pr := range ps {
		row := providerRow{
			ID: pr.ID, Name: pr.FullName(), Profession: string(pr.Profession), Specialty: pr.Specialty,
			State: pr.State, NPI: mask(pr.NPILast4 != "", pr.NPILast4), Status: string(pr.Status(today, window)),
		}
		if next := nextExpiry(pr.Credentials); !next.IsZero() {
			d := next.DaysUntil(today)
			row.NextExpiry, row.NextDays, row.NextExpired = next, daysLeft(d), d < 0
		}
		p.Rows = append(p.Rows, row)
	}
	if len(ps) > 0 {
		p.From, p.To = f.Offset+1, f.Offset+len(ps)
	}
	if page > 1 {
		p.PrevURL = pageURL(f, page-1)
	}
	if f.Offset+len(ps) < total {
		p.NextURL = pageURL(f, page+1)
	}
	h.render(w, r, http.StatusOK, "providers", p)
}

// pageURL is the list URL for another page with the same filters.
func pageURL(f credtrack.ProviderFilter, page int) string {
	v := url.Values{}
	if f.Query != "" {
		v.Set("q", f.Query)
	}
	if f.Profession != "" {
		v.Set("profession", string(f.Profession))
	}
	if f.Status != "" {
		v.Set("status", string(f.Status))
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/providers"
	}
	return "/providers?" + v.Encode()
}

// handleProviderShow shows one provider's file. Another organization's
// ID is a 404 from the store, rendered without any of the record.
func (h *Handler) handleProviderShow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a := credtrack.ActorFromContext(ctx)
	pr, err := h.providers.FindProviderByID(ctx, r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	// The route also admits provider-role members for their own record;
	// anyone else's record looks exactly like a missing one.
	if !a.Can(credtrack.PermProviderRead) && (a.ID == "" || pr.UserID != a.ID) {
		h.renderError(w, r, credtrack.Errorf(credtrack.ENOTFOUND, "Provider not found."))
		return
	}
	window, err := h.windowDays(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	today := h.today()

	creds := slices.Clone(pr.Credentials)
	slices.SortStableFunc(creds, byExpiry)

	p := providerPage{
		Page:       h.newPage(w, r, pr.FullName(), "providers"),
		BackToList: a.Can(credtrack.PermProviderRead),
		Name:       pr.FullName(),
		Profession: string(pr.Profession),
		Specialty:  pr.Specialty,
		Employer:   pr.Employer,
		State:      pr.State,
		Status:     string(pr.Status(today, window)),
		NPI:        mask(pr.NPILast4 != "", pr.NPILast4),
		SSN:        mask(pr.SSNLast4 != "", pr.SSNLast4),
		DOBOnFile:  pr.HasDOB,
		Timeline:   newTimeline(creds, today, window),
	}
	if h.auditLog != nil && mayReadRecordReads(a, pr.UserID) {
		p.ReadsURL = "/providers/" + url.PathEscape(pr.ID) + "/reads"
	}
	maxAge := 0
	if h.verifier != nil {
		if maxAge, err = h.verifier.MaxAgeDays(ctx); err != nil {
			h.renderError(w, r, err)
			return
		}
		if a.Can(credtrack.PermProviderRead) {
			p.VerificationsURL = "/providers/" + url.PathEscape(pr.ID) + "/verifications"
		}
	}
	for _, c := range creds {
		row := credentialRow{
			TypeLabel: c.Type.Label(), Issuer: c.Issuer, Jurisdiction: c.Jurisdiction,
			Number: mask(c.Number != "" || c.NumberLast4 != "", c.NumberLast4), IssuedOn: c.IssuedOn, ExpiresOn: c.ExpiresOn,
			Status: string(c.Status(today, window)), VerifiedBy: c.VerifiedBy,
		}
		if !c.ExpiresOn.IsZero() {
			row.DaysLeft = daysLeft(c.ExpiresOn.DaysUntil(today))
		}
		if !c.VerifiedAt.IsZero() {
			row.VerifiedAt = c.VerifiedAt.UTC().Format(credtrack.DateLayout)
		}
		row.Stale = maxAge > 0 && !c.VerifiedAt.IsZero() && c.Stale(credtrack.Now(), maxAge)
		p.Credentials = append(p.Credentials, row)
	}
	for _, t := range pr.MissingTypes() {
		p.Missing = append(p.Missing, t.Label())
	}
	h.render(w, r, http.StatusOK, "provider", p)
}

// windowDays returns the organization's "expiring" window, so that the
// statuses shown here agree with the reminders the jobs send.
func (h *Handler) windowDays(r *http.Request) (int, error) {
	if h.orgs == nil {
		return defaultWindowDays, nil
	}
	org, err := h.orgs.FindOrgByID(r.Context(), credtrack.ActorFromContext(r.Context()).OrgID)
	if err != nil {
		return 0, err
	}
	if org.ExpiringWindowDays <= 0 {
		return defaultWindowDays, nil
	}
	return org.ExpiringWindowDays, nil
}

// byExpiry orders credentials by expiry date, soonest first; credentials
// without an expiry date go last, by type.
func byExpiry(a, b *credtrack.Credential) int {
	switch {
	case a.ExpiresOn.IsZero() && !b.ExpiresOn.IsZero():
		return 1
	case !a.ExpiresOn.IsZero() && b.ExpiresOn.IsZero():
		return -1
	}
	return cmp.Or(a.ExpiresOn.Compare(b.ExpiresOn.Time), cmp.Compare(a.Type.Label(), b.Type.Label()))
}

// nextExpiry returns the earliest expiry date among cs, expired ones
// included (they are the most urgent), or the zero Date.
func nextExpiry(cs []*credtrack.Credential) credtrack.Date {
	var next credtrack.Date
	for _, c := range cs {
		if !c.ExpiresOn.IsZero() && (next.IsZero() || c.ExpiresOn.Before(next.Time)) {
			next = c.ExpiresOn
		}
	}
	return next
}

// mask shows a sensitive identifier as "••••" plus its last four
// characters. present tells whether there is an identifier at all (a dash
// when not); last4 is "" when the value is too short to show any of it.
// The full value never reaches a template.
func mask(present bool, last4 string) string {
	switch {
	case !present:
		return "—"
	case last4 == "":
		return "••••"
	}
	return "••••" + last4
}

// daysLeft describes how far away an expiry date is.
func daysLeft(d int) string {
	switch {
	case d == 0:
		return "today"
	case d == 1:
		return "1 day"
	case d == -1:
		return "1 day ago"
	case d < 0:
		return fmt.Sprintf("%d days ago", -d)
	}
	return fmt.Sprintf("%d days", d)
}
