package web

import (
	"cmp"
	"encoding/hex"
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
	Query string
	// SearchedBy describes a search by number, masked ("NPI ending
	// 7893"); "" for the ordinary list.
	SearchedBy      string
	Professions     []option
	Statuses        []option
	CredentialTypes []option
	Expiring        []option
	Sorts           []option
	Rows            []providerRow
	From, To        int
	Total           int
	PrevURL         string // "" on the first page
	NextURL         string // "" on the last page
	Filtered        bool
	CanCreate       bool
}

// expiringChoices are the "expiring within" filter's choices, in days.
var expiringChoices = []int{30, 60, 90, 180, 365}

// sortLabels name the list orders.
var sortLabels = map[credtrack.ProviderSort]string{
	credtrack.SortName:       "Name (A–Z)",
	credtrack.SortNameDesc:   "Name (Z–A)",
	credtrack.SortNextExpiry: "Next expiry",
	credtrack.SortWorstFirst: "Status (worst first)",
	credtrack.SortUpdated:    "Recently changed",
}

// credentialRow is one line of the credentials table on the provider page.
type credentialRow struct {
	ID           string
	TypeLabel    string
	Name         string // the type-specific name or license type, "" if none
	Issuer       string
	Jurisdiction string
	Number       string // masked
	HasNumber    bool
	IssuedOn     credtrack.Date
	ExpiresOn    credtrack.Date
	DaysLeft     string
	Status       string
	VerifiedAt   string
	VerifiedBy   string
	// Stale: never verified, or verified longer ago than the
	// organization's freshness limit (shown when verification is on).
	Stale bool
	Facts []fact // type-specific details, labelled
}

// fact is one labelled value.
type fact struct{ Label, Value string }

// documentRow is one line of the documents table.
type documentRow struct {
	ID, Filename, ContentType, Size, Uploaded, SHA256, Credential string
	PossibleFraud                                                 bool
}

// providerPage is the data of templates/pages/provider.html.
type providerPage struct {
	Page
	ID string
	// BackToList links to the list for roles that may open it.
	BackToList  bool
	Name        string
	Profession  string
	Specialty   string
	Employer    string
	State       string
	Email       string
	Phone       string
	Status      string
	NPI         string // masked
	SSN         string // masked
	HasNPI      bool
	HasSSN      bool
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
	// What the actor may do here. CanReveal covers every sensitive
	// value (staff); CanRevealNumbers the NPI and credential numbers,
	// which a provider may also reveal on their own record.
	CanEdit, CanEditCredentials, CanReveal, CanUpload, CanDeleteDocuments bool
	CanRevealNumbers                                                      bool
	// CanEditContact links a provider to the form for their own email
	// and phone; SelfService says that what they enter awaits verification.
	CanEditContact, SelfService bool
	// Documents is nil when documents are not wired or not readable.
	Documents     []documentRow
	ShowDocuments bool
	MaxUploadMB   int64
	// CredentialChoices attach an upload to one credential.
	CredentialChoices []option
}

// handleProviderIndex lists the organization's providers with search,
// filters, sort and paging. The search box posts to /providers/search
// (handleProviderSearch), which sends name searches back here as ?q=.
func (h *Handler) handleProviderIndex(w http.ResponseWriter, r *http.Request) {
	f, page, err := parseProviderFilters(r.URL.Query())
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.renderProviderList(w, r, f, page, "")
}

// parseProviderFilters reads the list's filters and page from the query
// string or the search form.
func parseProviderFilters(q url.Values) (credtrack.ProviderFilter, int, error) {
	f := credtrack.ProviderFilter{
		Query:          strings.TrimSpace(q.Get("q")),
		Profession:     credtrack.Profession(q.Get("profession")),
		Status:         credtrack.ProviderStatus(q.Get("status")),
		CredentialType: credtrack.CredentialType(q.Get("type")),
		Sort:           credtrack.ProviderSort(q.Get("sort")),
		Limit:          providersPerPage,
	}
	if f.Profession != "" && !slices.Contains(credtrack.Professions, f.Profession) {
		return f, 0, credtrack.Errorf(credtrack.EINVALID, "Unknown profession.")
	}
	if f.Status != "" && !slices.Contains(providerStatuses, f.Status) {
		return f, 0, credtrack.Errorf(credtrack.EINVALID, "Unknown status.")
	}
	if f.CredentialType != "" && !slices.Contains(credtrack.CredentialTypes, f.CredentialType) {
		return f, 0, credtrack.Errorf(credtrack.EINVALID, "Unknown credential type.")
	}
	if f.Sort != "" && sortLabels[f.Sort] == "" {
		return f, 0, credtrack.Errorf(credtrack.EINVALID, "Unknown sort order.")
	}
	if s := q.Get("expiring"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3650 {
			return f, 0, credtrack.Errorf(credtrack.EINVALID, "The expiry window must be a number of days between 1 and 3650.")
		}
		f.ExpiringWithinDays = n
	}
	page := 1
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			return f, 0, credtrack.Errorf(credtrack.EINVALID, "The page number is not valid.")
		}
		page = n
	}
	f.Offset = (page - 1) * providersPerPage
	return f, page, nil
}

// renderProviderList renders one page of the list. searchedBy, when not
// empty, describes a search by number (masked); such a result is not
// paged, because a page link would have to carry the number in its URL.
func (h *Handler) renderProviderList(w http.ResponseWriter, r *http.Request, f credtrack.ProviderFilter, page int, searchedBy string) {
	ps, total, err := h.providers.FindProviders(r.Context(), f)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	window, req, err := h.orgRules(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	today := h.today()
	a := credtrack.ActorFromContext(r.Context())

	p := providersPage{
		Page:       h.newPage(w, r, "Providers", "providers"),
		Query:      f.Query,
		SearchedBy: searchedBy,
		Total:      total,
		Filtered: f.Query != "" || f.Profession != "" || f.Status != "" || f.CredentialType != "" || f.ExpiringWithinDays > 0 ||
			searchedBy != "",
		CanCreate: h.records != nil && a.Can(credtrack.PermProviderWrite),
	}
	for _, prof := range credtrack.Professions {
		p.Professions = append(p.Professions, option{Value: string(prof), Label: string(prof), Selected: prof == f.Profession})
	}
	for _, s := range providerStatuses {
		p.Statuses = append(p.Statuses, option{Value: string(s), Label: statusLabel(string(s)), Selected: s == f.Status})
	}
	for _, t := range credtrack.CredentialTypes {
		p.CredentialTypes = append(p.CredentialTypes, option{Value: string(t), Label: t.Label(), Selected: t == f.CredentialType})
	}
	for _, d := range expiringChoices {
		p.Expiring = append(p.Expiring, option{Value: strconv.Itoa(d), Label: fmt.Sprintf("%d days", d), Selected: d == f.ExpiringWithinDays})
	}
	if f.ExpiringWithinDays > 0 && !slices.Contains(expiringChoices, f.ExpiringWithinDays) {
		p.Expiring = append(p.Expiring, option{Value: strconv.Itoa(f.ExpiringWithinDays), Label: fmt.Sprintf("%d days", f.ExpiringWithinDays), Selected: true})
	}
	for _, s := range credtrack.ProviderSorts {
		p.Sorts = append(p.Sorts, option{Value: string(s), Label: sortLabels[s], Selected: s == f.Sort || (f.Sort == "" && s == credtrack.SortName)})
	}
	for _, pr := range ps {
		row := providerRow{
			ID: pr.ID, Name: pr.FullName(), Profession: string(pr.Profession), Specialty: pr.Specialty,
			State: pr.State, NPI: mask(pr.NPILast4 != "", pr.NPILast4), Status: string(pr.StatusWith(today, window, req)),
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
	if searchedBy != "" {
		p.Query = "" // never echo a searched number into the page
	} else {
		if page > 1 {
			p.PrevURL = pageURL(f, page-1)
		}
		if f.Offset+len(ps) < total {
			p.NextURL = pageURL(f, page+1)
		}
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
	if f.CredentialType != "" {
		v.Set("type", string(f.CredentialType))
	}
	if f.ExpiringWithinDays > 0 {
		v.Set("expiring", strconv.Itoa(f.ExpiringWithinDays))
	}
	if f.Sort != "" && f.Sort != credtrack.SortName {
		v.Set("sort", string(f.Sort))
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
	pr, ok := h.pathProvider(w, r)
	if !ok {
		return
	}
	// The route also admits provider-role members for their own record;
	// anyone else's record looks exactly like a missing one.
	if !a.Can(credtrack.PermProviderRead) && (a.ID == "" || pr.UserID != a.ID) {
		h.renderError(w, r, credtrack.Errorf(credtrack.ENOTFOUND, "Provider not found."))
		return
	}
	window, req, err := h.orgRules(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	today := h.today()

	creds := slices.Clone(pr.Credentials)
	slices.SortStableFunc(creds, byExpiry)

	p := providerPage{
		Page:       h.newPage(w, r, pr.FullName(), "providers"),
		ID:         pr.ID,
		BackToList: a.Can(credtrack.PermProviderRead),
		Name:       pr.FullName(),
		Profession: string(pr.Profession),
		Specialty:  pr.Specialty,
		Employer:   pr.Employer,
		State:      pr.State,
		Email:      pr.Email,
		Phone:      pr.Phone,
		Status:     string(pr.StatusWith(today, window, req)),
		NPI:        mask(pr.NPILast4 != "", pr.NPILast4),
		SSN:        mask(pr.SSNLast4 != "", pr.SSNLast4),
		HasNPI:     pr.NPILast4 != "" || pr.NPI != "",
		HasSSN:     pr.SSNLast4 != "",
		DOBOnFile:  pr.HasDOB,
		Timeline:   newTimeline(creds, today, window),
	}
	if h.records != nil {
		// A provider on their own record (the only one this page shows
		// them) maintains contact details and credentials, and may reveal
		// their NPI and credential numbers; the store enforces the same.
		own := a.ID != "" && pr.UserID == a.ID && a.Kind == credtrack.ActorUser
		p.CanEdit = a.Can(credtrack.PermProviderWrite)
		p.CanEditContact = !p.CanEdit && own && a.Can(credtrack.PermOwnRecordWrite)
		p.CanEditCredentials = a.Can(credtrack.PermCredentialWrite) || (own && a.Can(credtrack.PermOwnRecordWrite))
		p.CanReveal = a.Can(credtrack.PermSensitiveReveal)
		p.CanRevealNumbers = p.CanReveal || (own && a.Can(credtrack.PermOwnRecordRead))
		p.SelfService = !a.Can(credtrack.PermCredentialWrite) && p.CanEditCredentials
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
	labels := map[string]string{}
	for _, c := range creds {
		spec := c.Type.Spec()
		row := credentialRow{
			ID: c.ID, TypeLabel: c.Type.Label(), Issuer: c.Issuer, Jurisdiction: c.Jurisdiction,
			Number: mask(c.Number != "" || c.NumberLast4 != "", c.NumberLast4), HasNumber: c.Number != "" || c.NumberLast4 != "",
			IssuedOn: c.IssuedOn, ExpiresOn: c.ExpiresOn,
			Status: string(c.Status(today, window)), VerifiedBy: c.VerifiedBy,
			Name: cmp.Or(c.Details["name"], c.Details["license_type"], c.Details["specialty"], c.Details["course"], c.Details["topic"]),
		}
		if !row.HasNumber {
			row.Number = "—"
		}
		for _, f := range spec.Fields {
			if v := c.Details[f.Key]; v != "" && f.Kind != credtrack.FieldDocument {
				row.Facts = append(row.Facts, fact{Label: f.Label, Value: detailText(f, v)})
			}
		}
		if !c.ExpiresOn.IsZero() {
			row.DaysLeft = daysLeft(c.ExpiresOn.DaysUntil(today))
		}
		if !c.VerifiedAt.IsZero() {
			row.VerifiedAt = c.VerifiedAt.UTC().Format(credtrack.DateLayout)
		}
		row.Stale = maxAge > 0 && !c.VerifiedAt.IsZero() && c.Stale(credtrack.Now(), maxAge)
		p.Credentials = append(p.Credentials, row)
		label := c.Type.Label()
		if row.Name != "" {
			label += " · " + row.Name
		}
		labels[c.ID] = label
		p.CredentialChoices = append(p.CredentialChoices, option{Value: c.ID, Label: label})
	}
	for _, t := range pr.MissingFrom(req) {
		p.Missing = append(p.Missing, t.Label())
	}
	if h.records != nil && h.documents != nil && (a.Can(credtrack.PermDocumentRead) || a.Can(credtrack.PermOwnRecordRead)) {
		ds, err := h.records.FindDocuments(ctx, pr.ID)
		if err != nil && credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			h.renderError(w, r, err)
			return
		}
		p.ShowDocuments = err == nil
		for _, d := range ds {
			p.Documents = append(p.Documents, documentRow{
				ID: d.ID, Filename: d.Filename, ContentType: d.ContentType, Size: humanSize(d.Size),
				Uploaded: d.CreatedAt.UTC().Format(credtrack.DateLayout), SHA256: hex.EncodeToString(d.SHA256),
				Credential: labels[d.CredentialID], PossibleFraud: d.PossibleFraud,
			})
		}
		ownWrite := a.Kind == credtrack.ActorUser && a.ID != "" && pr.UserID == a.ID && a.Can(credtrack.PermOwnRecordWrite)
		p.CanUpload = a.Can(credtrack.PermDocumentWrite) || ownWrite
		p.CanDeleteDocuments = a.Can(credtrack.PermDocumentWrite) || ownWrite
		p.MaxUploadMB = h.maxUpload >> 20
	}
	h.render(w, r, http.StatusOK, "provider", p)
}

// detailText shows a type-specific value for people.
func detailText(f credtrack.DetailField, v string) string {
	switch f.Kind {
	case credtrack.FieldBool:
		if v == "true" {
			return "Yes"
		}
		return "No"
	case credtrack.FieldMoney:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return v
		}
		return "$" + groupThousands(n)
	case credtrack.FieldMulti:
		return strings.ReplaceAll(v, ",", ", ")
	}
	return v
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// humanSize shows a byte count in KB or MB.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+1<<9)>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// orgRules returns the organization's "expiring" window and its
// required-credential set, so that the statuses shown here agree with the
// list filters and the reminders the jobs send.
func (h *Handler) orgRules(r *http.Request) (int, credtrack.RequiredCredentialSet, error) {
	if h.orgs == nil {
		return defaultWindowDays, nil, nil
	}
	org, err := h.orgs.FindOrgByID(r.Context(), credtrack.ActorFromContext(r.Context()).OrgID)
	if err != nil {
		return 0, nil, err
	}
	if org.ExpiringWindowDays <= 0 {
		return defaultWindowDays, org.RequiredCredentials, nil
	}
	return org.ExpiringWindowDays, org.RequiredCredentials, nil
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
