package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"credtrack"
)

// AuditLog reads the audit log of the organization in the request
// context. *sqlstore.DB implements it; the store checks the permissions
// again and records every look at the log as an event of its own.
type AuditLog interface {
	// FindAuditEvents returns one page of events matching f, newest
	// first, and how many match in all (audit.read).
	FindAuditEvents(ctx context.Context, f credtrack.AuditFilter) ([]*credtrack.AuditEvent, int, error)
	// ExportAuditEvents hands every event matching f to fn, oldest first
	// (audit.read and export.create). It records the export before the
	// first event, and stops at the first error fn returns.
	ExportAuditEvents(ctx context.Context, f credtrack.AuditFilter, format string, fn func(*credtrack.AuditEvent) error) error
	// FindRecordReads returns who read a provider's record or its
	// credentials, newest first. A provider-role user may ask only about
	// the record linked to them; anything else is ENOTFOUND.
	FindRecordReads(ctx context.Context, providerID string) ([]*credtrack.AuditEvent, error)
}

// auditPerPage is the page size of the audit log viewer.
const auditPerPage = 50

// auditMaxPage bounds the page number, and so the OFFSET the store is
// asked for: deep pages of a large log are slow to count past, and an
// auditor looking that far back narrows the dates instead.
const auditMaxPage = 20000

// auditMaxField caps the free-text filter fields. IDs are 26 characters
// and route patterns a few dozen; anything much longer is not a real
// search and is refused rather than sent to the database.
const auditMaxField = 200

// auditTimeLayout is how the viewer shows an event's time: UTC, to the
// second, with the zone written out so nobody reads it as local time.
const auditTimeLayout = "2006-01-02 15:04:05Z"

// exportTimeLayout is the time format of both exports: UTC with the
// microseconds the store keeps, fixed width so the column sorts as text.
const exportTimeLayout = "2006-01-02T15:04:05.000000Z"

// auditOutcomes are the outcomes in the order the filter and the summary
// show them.
var auditOutcomes = []credtrack.Outcome{credtrack.OutcomeSuccess, credtrack.OutcomeFailure, credtrack.OutcomeDenied}

// auditForm is the filter as the user typed it, kept to fill the form
// again and to build the paging and export links.
type auditForm struct {
	Actor      string
	Action     string
	TargetType string
	TargetID   string
	Outcome    string // "" for any
	From, To   string // YYYY-MM-DD or ""
}

// Filtered reports whether any filter is set.
func (f auditForm) Filtered() bool { return f != auditForm{} }

// query returns the filter as URL query values, with page added when it
// is past the first.
func (f auditForm) query(page int) url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{
		{"actor", f.Actor}, {"action", f.Action}, {"target_type", f.TargetType}, {"target_id", f.TargetID},
		{"outcome", f.Outcome}, {"from", f.From}, {"to", f.To},
	} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v
}

// url returns path with the filter (and page) as its query string.
func (f auditForm) url(path string, page int) string {
	if q := f.query(page).Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

// auditQuery is a parsed request of the viewer or of an export.
type auditQuery struct {
	form   auditForm
	filter credtrack.AuditFilter
	page   int
}

// parseAuditQuery turns the query string of /audit and its exports into
// an AuditFilter. Dates are whole UTC days and "to" is inclusive, so the
// filter's To is the midnight after it. Every problem is an EINVALID error
// whose message says what to fix; nothing is read from the log then.
func parseAuditQuery(q url.Values) (auditQuery, error) {
	var aq auditQuery
	f := &aq.form
	f.Actor = strings.TrimSpace(q.Get("actor"))
	f.Action = strings.TrimSpace(q.Get("action"))
	f.TargetType = strings.TrimSpace(q.Get("target_type"))
	f.TargetID = strings.TrimSpace(q.Get("target_id"))
	f.Outcome = strings.TrimSpace(q.Get("outcome"))
	f.From = strings.TrimSpace(q.Get("from"))
	f.To = strings.TrimSpace(q.Get("to"))
	if f.Action == "any" {
		f.Action = ""
	}
	if f.Outcome == "any" {
		f.Outcome = ""
	}
	for name, v := range map[string]string{"actor ID": f.Actor, "target type": f.TargetType, "target ID": f.TargetID} {
		if len(v) > auditMaxField {
			return aq, credtrack.Errorf(credtrack.EINVALID, "The %s filter is too long (at most %d characters).", name, auditMaxField)
		}
	}
	if f.Action != "" && !slices.ContainsFunc(credtrack.AuditActions, func(a credtrack.AuditAction) bool { return a.Name == f.Action }) {
		return aq, credtrack.Errorf(credtrack.EINVALID, "Unknown action. Choose one from the list.")
	}
	if f.Outcome != "" && !slices.Contains(auditOutcomes, credtrack.Outcome(f.Outcome)) {
		return aq, credtrack.Errorf(credtrack.EINVALID, "Unknown outcome. Use success, failure or denied.")
	}
	from, err := parseAuditDate(f.From, "start")
	if err != nil {
		return aq, err
	}
	to, err := parseAuditDate(f.To, "end")
	if err != nil {
		return aq, err
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return aq, credtrack.Errorf(credtrack.EINVALID, "The start date %s is after the end date %s.", f.From, f.To)
	}
	aq.page = 1
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > auditMaxPage {
			return aq, credtrack.Errorf(credtrack.EINVALID, "The page number is not valid (1 to %d).", auditMaxPage)
		}
		aq.page = n
	}
	aq.filter = credtrack.AuditFilter{
		ActorID:    f.Actor,
		Action:     f.Action,
		TargetType: f.TargetType,
		TargetID:   f.TargetID,
		Outcome:    credtrack.Outcome(f.Outcome),
		From:       from,
		Limit:      auditPerPage,
		Offset:     (aq.page - 1) * auditPerPage,
	}
	if !to.IsZero() {
		aq.filter.To = to.AddDate(0, 0, 1)
	}
	return aq, nil
}

// parseAuditDate parses a YYYY-MM-DD form date as the start of that UTC
// day. which names the field in the error message.
func parseAuditDate(s, which string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(credtrack.DateLayout, s)
	if err != nil {
		return time.Time{}, credtrack.Errorf(credtrack.EINVALID, "The %s date must be a date like 2026-01-31.", which)
	}
	return t, nil
}

// optionGroup is an <optgroup> of a filter <select>.
type optionGroup struct {
	Label   string
	Options []option
}

// detailChip is one key=value pair of an event's details. A long ID
// value is shortened like the ID columns, in full in the tooltip.
type detailChip struct {
	Key, Value, Short string
}

// auditRow is one line of the audit table. Everything is formatted here;
// the template only writes strings.
type auditRow struct {
	At           string // auditTimeLayout
	AtISO        string // RFC 3339, for <time datetime>
	ActorKind    string
	ActorID      string // in full, for the tooltip
	ActorShort   string
	ActorRole    string
	ActorURL     string // the log filtered to this actor; "" without an ID
	Action       string
	TargetType   string
	TargetID     string
	TargetShort  string
	TargetURL    string // the log filtered to this target; "" without an ID
	Outcome      string
	IP           string
	RequestID    string
	RequestShort string
	Details      []detailChip
}

// outcomeCount is one tile of the summary above the table, with its
// segment of the stacked bar (in per mille of the bar's width, so the
// SVG needs no inline style).
type outcomeCount struct {
	Outcome string
	Count   int
	X, W    int
}

// auditPage is the data of templates/pages/audit.html.
type auditPage struct {
	Page
	Form         auditForm
	ActionGroups []optionGroup
	Outcomes     []option
	Rows         []auditRow
	Summary      []outcomeCount
	From, To     int
	Total        int
	PrevURL      string // "" on the first page
	NextURL      string // "" on the last page
	ExportCSV    string
	ExportJSONL  string
}

// handleAuditIndex shows one page of the organization's audit log with
// filters, a summary of the page's outcomes and export links.
func (h *Handler) handleAuditIndex(w http.ResponseWriter, r *http.Request) {
	aq, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if h.auditLog == nil {
		h.renderError(w, r, errNoAuditLog)
		return
	}
	evs, total, err := h.auditLog.FindAuditEvents(r.Context(), aq.filter)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	form := aq.form
	p := auditPage{
		Page:        h.newPage(w, r, "Audit log", "audit"),
		Form:        form,
		Total:       total,
		ExportCSV:   form.url("/audit/export.csv", 1),
		ExportJSONL: form.url("/audit/export.jsonl", 1),
	}
	p.ActionGroups = actionGroups(form.Action)
	for _, o := range auditOutcomes {
		p.Outcomes = append(p.Outcomes, option{Value: string(o), Label: string(o), Selected: string(o) == form.Outcome})
	}
	counts := map[credtrack.Outcome]int{}
	for _, ev := range evs {
		counts[ev.Outcome]++
		row := auditRow{
			At: ev.At.UTC().Format(auditTimeLayout), AtISO: ev.At.UTC().Format(time.RFC3339),
			ActorKind: string(ev.ActorKind), ActorID: ev.ActorID, ActorShort: shortID(ev.ActorID), ActorRole: string(ev.ActorRole),
			Action:     ev.Action,
			TargetType: ev.TargetType, TargetID: ev.TargetID, TargetShort: shortID(ev.TargetID),
			Outcome: string(ev.Outcome), IP: ev.IP, RequestID: ev.RequestID, RequestShort: shortID(ev.RequestID),
		}
		if ev.ActorID != "" {
			f := form
			f.Actor = ev.ActorID
			row.ActorURL = f.url("/audit", 1)
		}
		if ev.TargetID != "" {
			f := form
			f.TargetType, f.TargetID = ev.TargetType, ev.TargetID
			row.TargetURL = f.url("/audit", 1)
		}
		for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
			row.Details = append(row.Details, detailChip{Key: k, Value: ev.Details[k], Short: shortID(ev.Details[k])})
		}
		p.Rows = append(p.Rows, row)
	}
	p.Summary = outcomeSummary(counts, len(evs))
	if len(evs) > 0 {
		p.From, p.To = aq.filter.Offset+1, aq.filter.Offset+len(evs)
	}
	if aq.page > 1 {
		p.PrevURL = form.url("/audit", min(aq.page-1, max(1, (total+auditPerPage-1)/auditPerPage)))
	}
	if aq.filter.Offset+len(evs) < total && aq.page < auditMaxPage {
		p.NextURL = form.url("/audit", aq.page+1)
	}
	h.render(w, r, http.StatusOK, "audit", p)
}

// errNoAuditLog is shown when the handler was built without an AuditLog.
var errNoAuditLog = credtrack.Errorf(credtrack.EUNAVAILABLE, "The audit log is not available on this server.")

// actionGroups lists the catalogue of actions for the filter, grouped by
// category in the catalogue's order.
func actionGroups(selected string) []optionGroup {
	var groups []optionGroup
	for _, a := range credtrack.AuditActions {
		i := slices.IndexFunc(groups, func(g optionGroup) bool { return g.Label == a.Category })
		if i < 0 {
			groups = append(groups, optionGroup{Label: a.Category})
			i = len(groups) - 1
		}
		groups[i].Options = append(groups[i].Options, option{Value: a.Name, Label: a.Name, Selected: a.Name == selected})
	}
	return groups
}

// outcomeSummary counts the outcomes of one page and lays out the
// stacked bar. n is the number of events on the page.
func outcomeSummary(counts map[credtrack.Outcome]int, n int) []outcomeCount {
	var out []outcomeCount
	x := 0
	for _, o := range auditOutcomes {
		c := outcomeCount{Outcome: string(o), Count: counts[o], X: x}
		if n > 0 {
			c.W = counts[o] * 1000 / n
		}
		x += c.W
		out = append(out, c)
	}
	return out
}

// shortID abbreviates a long random identifier (a user, token or request
// ID) to its first eight characters; the full value goes in a tooltip.
// Anything that is not a plain identifier (a job name, a route pattern)
// is shown in full, because it is meaningful as written.
func shortID(s string) string {
	if len(s) <= 12 || strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) {
		return s
	}
	return s[:8] + "…"
}

// exportFormat is one downloadable form of the audit log.
type exportFormat struct {
	name        string // passed to the store, recorded in the export event
	ext         string
	contentType string
	// begin writes what precedes the first event and returns the
	// function that writes one event and the one that ends the file.
	begin func(w *bufio.Writer) (write func(*credtrack.AuditEvent) error, end func() error)
}

// The two export formats, one per export route.
var (
	exportCSV   = exportFormat{name: "csv", ext: "csv", contentType: "text/csv; charset=utf-8", begin: beginCSV}
	exportJSONL = exportFormat{name: "jsonl", ext: "jsonl", contentType: "application/x-ndjson", begin: beginJSONL}
)

// handleAuditExportCSV streams the filtered audit log as CSV.
func (h *Handler) handleAuditExportCSV(w http.ResponseWriter, r *http.Request) {
	h.exportAudit(w, r, exportCSV)
}

// handleAuditExportJSONL streams the filtered audit log as JSON Lines.
func (h *Handler) handleAuditExportJSONL(w http.ResponseWriter, r *http.Request) {
	h.exportAudit(w, r, exportJSONL)
}

// exportAudit streams every event matching the request's filter, oldest
// first, as a download. Nothing is written until the store hands over
// the first event (or finishes without any), so a refusal or an outage
// before that is an ordinary error page with its proper status. The
// events are written as they arrive, never collected, so memory does not
// grow with the log.
func (h *Handler) exportAudit(w http.ResponseWriter, r *http.Request, fmtx exportFormat) {
	aq, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if h.auditLog == nil {
		h.renderError(w, r, errNoAuditLog)
		return
	}
	f := aq.filter
	f.Limit, f.Offset = 0, 0 // an export is the whole selection, not a page

	var (
		bw    *bufio.Writer
		write func(*credtrack.AuditEvent) error
		end   func() error
	)
	start := func() {
		hd := w.Header()
		hd.Set("Content-Type", fmtx.contentType)
		hd.Set("Content-Disposition", `attachment; filename="audit-`+h.today().Format("20060102")+`.`+fmtx.ext+`"`)
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		bw = bufio.NewWriterSize(w, 32<<10)
		write, end = fmtx.begin(bw)
	}
	err = h.auditLog.ExportAuditEvents(r.Context(), f, fmtx.name, func(ev *credtrack.AuditEvent) error {
		if bw == nil {
			start()
		}
		return write(ev)
	})
	if err == nil {
		if bw == nil { // no event matched: still a file, with its header row
			start()
		}
		err = end()
		if err == nil {
			err = bw.Flush()
		}
	}
	if err == nil {
		return
	}
	if bw == nil {
		h.renderError(w, r, err)
		return
	}
	// Part of the file is on its way with status 200. Abort the
	// connection so that the download fails visibly instead of leaving a
	// truncated file that looks complete. (A client that went away lands
	// here too; it no longer cares.)
	if !errors.Is(err, context.Canceled) {
		h.logger.ErrorContext(r.Context(), "web: audit export failed midway", "format", fmtx.name, "err", err,
			"request_id", w.Header().Get("X-Request-ID"))
	}
	panic(http.ErrAbortHandler)
}

// csvHeader is the first row of the CSV export.
var csvHeader = []string{"time", "org_id", "seq", "actor_kind", "actor_id", "actor_role", "action",
	"target_type", "target_id", "outcome", "ip", "user_agent", "request_id", "details", "hash"}

// beginCSV writes the header row and returns the row writer.
func beginCSV(w *bufio.Writer) (func(*credtrack.AuditEvent) error, func() error) {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader) // errors stick in cw and surface from cw.Error
	write := func(ev *credtrack.AuditEvent) error {
		details, err := json.Marshal(nonNil(ev.Details))
		if err != nil {
			return err
		}
		rec := []string{
			ev.At.UTC().Format(exportTimeLayout), ev.OrgID, strconv.FormatInt(ev.Seq, 10),
			string(ev.ActorKind), ev.ActorID, string(ev.ActorRole), ev.Action, ev.TargetType, ev.TargetID,
			string(ev.Outcome), ev.IP, ev.UserAgent, ev.RequestID, string(details), hex.EncodeToString(ev.Hash),
		}
		for i := range rec {
			rec[i] = csvSafe(rec[i])
		}
		return cw.Write(rec)
	}
	end := func() error {
		cw.Flush()
		return cw.Error()
	}
	return write, end
}

// csvSafe defuses spreadsheet formula injection: a cell that starts with
// = + - @ or a tab or carriage return is taken as a formula by Excel and
// LibreOffice, so it gets a leading apostrophe, which they show as text.
// User agents, target IDs and details are partly chosen by whoever made
// the request, so any cell may carry one.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// jsonlEvent is one line of the JSON Lines export.
type jsonlEvent struct {
	ID         string            `json:"id"`
	Time       string            `json:"time"`
	OrgID      string            `json:"org_id"`
	Seq        int64             `json:"seq"`
	ActorKind  string            `json:"actor_kind"`
	ActorID    string            `json:"actor_id"`
	ActorRole  string            `json:"actor_role"`
	Action     string            `json:"action"`
	TargetType string            `json:"target_type"`
	TargetID   string            `json:"target_id"`
	Outcome    string            `json:"outcome"`
	IP         string            `json:"ip"`
	UserAgent  string            `json:"user_agent"`
	RequestID  string            `json:"request_id"`
	Details    map[string]string `json:"details"`
	PrevHash   string            `json:"prev_hash"`
	Hash       string            `json:"hash"`
}

// beginJSONL returns the writer of one JSON object per line.
func beginJSONL(w *bufio.Writer) (func(*credtrack.AuditEvent) error, func() error) {
	enc := json.NewEncoder(w) // Encode ends each object with a newline
	write := func(ev *credtrack.AuditEvent) error {
		return enc.Encode(jsonlEvent{
			ID: ev.ID, Time: ev.At.UTC().Format(exportTimeLayout), OrgID: ev.OrgID, Seq: ev.Seq,
			ActorKind: string(ev.ActorKind), ActorID: ev.ActorID, ActorRole: string(ev.ActorRole),
			Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID, Outcome: string(ev.Outcome),
			IP: ev.IP, UserAgent: ev.UserAgent, RequestID: ev.RequestID, Details: nonNil(ev.Details),
			PrevHash: hex.EncodeToString(ev.PrevHash), Hash: hex.EncodeToString(ev.Hash),
		})
	}
	return write, func() error { return nil }
}

// nonNil returns m, or an empty map for nil, so details are always a
// JSON object and never null.
func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// readRow is one line of the "who has read this record" table.
type readRow struct {
	At         string
	AtISO      string
	ActorKind  string
	ActorID    string
	ActorShort string
	ActorRole  string
	Action     string
	What       string // the action in words
	IP         string
	// You marks the reads made by the person looking.
	You bool
}

// recordReadsPage is the data of templates/pages/record_reads.html.
type recordReadsPage struct {
	Page
	ProviderID string
	// LogURL links to the full audit log of the record, for roles that
	// may open the log.
	LogURL string
	Rows   []readRow
}

// readActions describes the actions FindRecordReads returns.
var readActions = map[string]string{ // #nosec G101 -- audit action names and their descriptions, not credentials
	"provider.read":       "Opened the record",
	"credential.read":     "Viewed a credential number",
	"document.downloaded": "Downloaded a document",
}

// handleRecordReads shows who read a provider's record: for staff with
// audit.read any record, for a provider their own. The store decides;
// any other record is a 404 from it, like a record that does not exist.
func (h *Handler) handleRecordReads(w http.ResponseWriter, r *http.Request) {
	if h.auditLog == nil {
		h.renderError(w, r, errNoAuditLog)
		return
	}
	ctx := r.Context()
	a := credtrack.ActorFromContext(ctx)
	id := r.PathValue("id")
	// The provider's name is deliberately not fetched: that would be a
	// read of the record, which would then show up in this very list.
	evs, err := h.auditLog.FindRecordReads(ctx, id)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := recordReadsPage{Page: h.newPage(w, r, "Who has read this record", "providers"), ProviderID: id}
	if a.Can(credtrack.PermAuditRead) {
		p.LogURL = auditForm{TargetType: "provider", TargetID: id}.url("/audit", 1)
	}
	for _, ev := range evs {
		what := readActions[ev.Action]
		if what == "" {
			what = ev.Action
		}
		p.Rows = append(p.Rows, readRow{
			At: ev.At.UTC().Format(auditTimeLayout), AtISO: ev.At.UTC().Format(time.RFC3339),
			ActorKind: string(ev.ActorKind), ActorID: ev.ActorID, ActorShort: shortID(ev.ActorID), ActorRole: string(ev.ActorRole),
			Action: ev.Action, What: what, IP: ev.IP,
			You: a.Kind == credtrack.ActorUser && ev.ActorKind == credtrack.ActorUser && ev.ActorID == a.ID,
		})
	}
	h.render(w, r, http.StatusOK, "record_reads", p)
}

// mayReadRecordReads reports whether the actor may see who read the
// provider record linked to ownerUserID: staff with audit.read, or the
// provider it belongs to. It only decides whether to show the link; the
// store enforces the same rule on the page itself.
func mayReadRecordReads(a credtrack.Actor, ownerUserID string) bool {
	return a.Can(credtrack.PermAuditRead) ||
		(a.Can(credtrack.PermOwnAuditRead) && a.Kind == credtrack.ActorUser && a.ID != "" && ownerUserID == a.ID)
}
