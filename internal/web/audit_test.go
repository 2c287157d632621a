package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
)

// fakeAuditLog is an in-memory AuditLog. Like the store, it scopes by the
// organization of the actor in ctx and checks the permissions itself; it
// records every filter it is asked for.
type fakeAuditLog struct {
	mu      sync.Mutex
	events  []*credtrack.AuditEvent // oldest first, as appended
	owners  map[string]string       // provider ID → linked user ID
	filters []credtrack.AuditFilter // every filter of Find and Export
	formats []string                // every export format
	reads   []string                // provider IDs asked about
	err     error                   // returned by every call when set
	// failAfter makes an export fail after handing out this many events.
	failAfter int
}

// errMidway is the export failure after the first events.
var errMidway = errors.New("sqlstore: connection reset (internal detail)")

// fixtureTime is when the fixture events happen: the day before testToday.
var fixtureTime = time.Date(2026, 5, 31, 8, 15, 0, 0, time.UTC)

func newFakeAuditLog(providers []*credtrack.Provider) *fakeAuditLog {
	f := &fakeAuditLog{owners: map[string]string{}}
	for _, p := range providers {
		if p.OrgID == "org-a" {
			f.owners[p.ID] = p.UserID
		}
	}
	coord := credtrack.Actor{Kind: credtrack.ActorUser, ID: "UCOORD0000000000000000000A", OrgID: "org-a", Role: credtrack.RoleCoordinator}
	f.add(coord, "auth.login.succeeded", "user", coord.ID, credtrack.OutcomeSuccess, map[string]string{"method": "password"})
	f.add(coord, "provider.read", "provider", "p-gia", credtrack.OutcomeSuccess, nil)
	nurse := credtrack.Actor{Kind: credtrack.ActorUser, ID: "u-nurse", OrgID: "org-a", Role: credtrack.RoleProvider}
	f.add(nurse, "provider.read", "provider", "p-gia", credtrack.OutcomeSuccess, nil)
	f.add(nurse, "authz.denied", "route", "GET /providers", credtrack.OutcomeDenied, nil)
	// Whoever makes a request chooses its user agent and, in part, what
	// lands in target IDs and details: the export must defuse formulas.
	anon := credtrack.Actor{Kind: credtrack.ActorAnonymous, OrgID: "org-a"}
	ev := f.add(anon, "auth.login.failed", "user", "+SUM(A1)", credtrack.OutcomeFailure,
		map[string]string{"reason": "wrong password", "note": "=1+1"})
	ev.UserAgent = `=HYPERLINK("http://evil.example","click")`
	// Another organization's event, which nobody in org-a may see.
	f.add(credtrack.Actor{Kind: credtrack.ActorUser, ID: "u-zed", OrgID: "org-b", Role: credtrack.RoleOwner},
		"provider.read", "provider", "p-zed", credtrack.OutcomeSuccess, nil)
	return f
}

// add appends an event for actor a, a minute after the previous one, and
// links it into a hash chain so the export has hashes to show.
func (f *fakeAuditLog) add(a credtrack.Actor, action, targetType, targetID string, o credtrack.Outcome, details map[string]string) *credtrack.AuditEvent {
	n := len(f.events)
	ev := &credtrack.AuditEvent{
		ID: fmt.Sprintf("EV%024d", n+1), OrgID: a.OrgID, Seq: int64(n + 1), At: fixtureTime.Add(time.Duration(n) * time.Minute),
		ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role, Action: action, TargetType: targetType, TargetID: targetID,
		Outcome: o, IP: "192.0.2.10", UserAgent: "test-browser/1.0", RequestID: fmt.Sprintf("%032x", n+1), Details: details,
		PrevHash: make([]byte, 32), Hash: make([]byte, 32),
	}
	if n > 0 {
		copy(ev.PrevHash, f.events[n-1].Hash)
	}
	ev.Hash[0], ev.Hash[31] = byte(n+1), 0xab
	f.events = append(f.events, ev)
	return ev
}

// match returns org's events that pass f, oldest first.
func (f *fakeAuditLog) match(org string, flt credtrack.AuditFilter) []*credtrack.AuditEvent {
	var out []*credtrack.AuditEvent
	for _, ev := range f.events {
		if ev.OrgID != org ||
			(flt.ActorID != "" && ev.ActorID != flt.ActorID) ||
			(flt.Action != "" && ev.Action != flt.Action) ||
			(flt.TargetType != "" && ev.TargetType != flt.TargetType) ||
			(flt.TargetID != "" && ev.TargetID != flt.TargetID) ||
			(flt.Outcome != "" && ev.Outcome != flt.Outcome) ||
			(!flt.From.IsZero() && ev.At.Before(flt.From)) ||
			(!flt.To.IsZero() && !ev.At.Before(flt.To)) {
			continue
		}
		out = append(out, ev)
	}
	return out
}

func (f *fakeAuditLog) FindAuditEvents(ctx context.Context, flt credtrack.AuditFilter) ([]*credtrack.AuditEvent, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	if f.err != nil {
		return nil, 0, f.err
	}
	if err := credtrack.Authorize(ctx, credtrack.PermAuditRead); err != nil {
		return nil, 0, err
	}
	all := f.match(credtrack.ActorFromContext(ctx).OrgID, flt)
	slices.Reverse(all) // newest first
	lo := min(flt.Offset, len(all))
	hi := min(lo+flt.Limit, len(all))
	return all[lo:hi], len(all), nil
}

func (f *fakeAuditLog) ExportAuditEvents(ctx context.Context, flt credtrack.AuditFilter, format string, fn func(*credtrack.AuditEvent) error) error {
	f.mu.Lock()
	f.filters = append(f.filters, flt)
	f.formats = append(f.formats, format)
	err, failAfter := f.err, f.failAfter
	evs := f.match(credtrack.ActorFromContext(ctx).OrgID, flt)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	for _, p := range []credtrack.Permission{credtrack.PermAuditRead, credtrack.PermExportCreate} {
		if err := credtrack.Authorize(ctx, p); err != nil {
			return err
		}
	}
	for i, ev := range evs {
		if failAfter > 0 && i == failAfter {
			return errMidway
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeAuditLog) FindRecordReads(ctx context.Context, providerID string) ([]*credtrack.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, providerID)
	if f.err != nil {
		return nil, f.err
	}
	a := credtrack.ActorFromContext(ctx)
	owner, ok := f.owners[providerID]
	if !ok || a.OrgID != "org-a" ||
		!(a.Can(credtrack.PermAuditRead) || (a.Can(credtrack.PermOwnAuditRead) && a.Kind == credtrack.ActorUser && owner == a.ID)) {
		return nil, credtrack.Errorf(credtrack.ENOTFOUND, "not found")
	}
	var out []*credtrack.AuditEvent
	for _, ev := range slices.Backward(f.events) {
		if ev.OrgID == a.OrgID && ev.TargetType == "provider" && ev.TargetID == providerID &&
			(ev.Action == "provider.read" || ev.Action == "credential.read") {
			out = append(out, ev)
		}
	}
	return out, nil
}

// calls returns how many Find and Export calls reached the fake.
func (f *fakeAuditLog) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.filters)
}

// lastFilter returns the filter of the last Find or Export call.
func (f *fakeAuditLog) lastFilter(t *testing.T) credtrack.AuditFilter {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.filters) == 0 {
		t.Fatal("the audit log was never asked")
	}
	return f.filters[len(f.filters)-1]
}

func utcDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestAuditIndex_FilterParsing(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		want        credtrack.AuditFilter
	}{
		{"none", "", credtrack.AuditFilter{Limit: 50}},
		{"any is no filter", "?action=any&outcome=any", credtrack.AuditFilter{Limit: 50}},
		{"empty values", "?actor=&action=&target_type=&target_id=&outcome=&from=&to=", credtrack.AuditFilter{Limit: 50}},
		{"everything",
			"?actor=+u-coord+&action=provider.read&target_type=provider&target_id=p-gia&outcome=denied&from=2026-05-01&to=2026-05-30&page=3",
			credtrack.AuditFilter{ActorID: "u-coord", Action: "provider.read", TargetType: "provider", TargetID: "p-gia",
				Outcome: credtrack.OutcomeDenied, From: utcDay(2026, 5, 1), To: utcDay(2026, 5, 31), Limit: 50, Offset: 100}},
		// "to" is inclusive: the filter ends at the following midnight,
		// across a month and a year end too.
		{"one day", "?from=2026-12-31&to=2026-12-31",
			credtrack.AuditFilter{From: utcDay(2026, 12, 31), To: utcDay(2027, 1, 1), Limit: 50}},
		{"only to", "?to=2026-02-28", credtrack.AuditFilter{To: utcDay(2026, 3, 1), Limit: 50}},
		{"outcome", "?outcome=failure", credtrack.AuditFilter{Outcome: credtrack.OutcomeFailure, Limit: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			rec := e.get(t, "/audit"+tc.query, "auditor@example.com")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d:\n%s", rec.Code, rec.Body.String())
			}
			if got := e.alog.lastFilter(t); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("filter\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestAuditIndex_BadFilterIs400(t *testing.T) {
	e := newEnv(t, true)
	for _, tc := range []struct{ query, want string }{
		{"?from=2026-13-01", "start date must be a date like"},
		{"?to=yesterday", "end date must be a date like"},
		{"?from=31/05/2026", "start date must be a date like"},
		{"?from=2026-06-02&to=2026-06-01", "is after the end date"},
		{"?outcome=maybe", "Unknown outcome"},
		{"?action=credential.deleted.forever", "Unknown action"},
		{"?page=0", "page number is not valid"},
		{"?page=x", "page number is not valid"},
		{"?page=99999999", "page number is not valid"},
		{"?actor=" + strings.Repeat("a", 201), "too long"},
	} {
		for _, path := range []string{"/audit", "/audit/export.csv", "/audit/export.jsonl"} {
			rec := e.get(t, path+tc.query, "auditor@example.com")
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%s%.40s: status %d, want 400 with %q", path, tc.query, rec.Code, tc.want)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Content-Disposition") != "" {
				t.Errorf("%s%.40s: not the HTML error page", path, tc.query)
			}
			if strings.Contains(rec.Body.String(), "UCOORD") {
				t.Errorf("%s%.40s: the error page shows events", path, tc.query)
			}
		}
	}
	if n := e.alog.calls(); n != 0 {
		t.Errorf("the audit log was asked %d times for invalid filters", n)
	}
}

func TestAuditIndex_Page(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/audit", "auditor@example.com")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"Showing 1–5 of 5",
		`<time datetime="2026-05-31T08:15:00Z">2026-05-31 08:15:00Z</time>`,
		// Long IDs are shortened, the full value in the tooltip.
		`title="UCOORD0000000000000000000A (show only this actor)">UCOORD00…</a>`,
		`<span class="actor-role">coordinator</span>`,
		`<td class="mono audit-action">auth.login.succeeded</td>`,
		`<span class="badge badge-outcome badge-outcome-success">success</span>`,
		`<span class="badge badge-outcome badge-outcome-failure">failure</span>`,
		`<span class="badge badge-outcome badge-outcome-denied">denied</span>`,
		`<li class="chip"><span class="chip-key">method</span>=<span class="chip-value">password</span></li>`,
		`<span class="target-type">route</span>`, "GET /providers", // a route is shown whole
		`<span title="00000000000000000000000000000001">00000000…</span>`, // request ID
		`<optgroup label="authentication">`, `<option value="auth.login.succeeded">`,
		`<a class="button button-quiet" id="export-csv" href="/audit/export.csv"`,
		`href="/audit/export.jsonl"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "u-zed") || strings.Contains(body, "p-zed") {
		t.Error("another organization's event is shown")
	}
	// Newest first.
	if strings.Index(body, "auth.login.failed") > strings.Index(body, "auth.login.succeeded</td>") {
		t.Error("events are not newest first")
	}
	// The summary counts the page's outcomes.
	for outcome, n := range map[string]int{"success": 3, "failure": 1, "denied": 1} {
		re := regexp.MustCompile(`id="otile-` + outcome + `"><span class="otile-count">(\d+)</span>`)
		if m := re.FindStringSubmatch(body); m == nil || m[1] != fmt.Sprint(n) {
			t.Errorf("summary tile %s = %v, want %d", outcome, m, n)
		}
	}
	if !strings.Contains(body, `<rect class="obar-success" x="0" y="0" width="600" height="10">`) ||
		!strings.Contains(body, `<rect class="obar-denied" x="800" y="0" width="200" height="10">`) {
		t.Error("outcome bar not proportional")
	}

	// Filters stay in the form and travel to the export links.
	body = e.get(t, "/audit?action=auth.login.succeeded&outcome=success&from=2026-05-01&to=2026-05-31", "auditor@example.com").Body.String()
	if !strings.Contains(body, "Showing 1–1 of 1") || !strings.Contains(body, `<option value="auth.login.succeeded" selected>`) ||
		!strings.Contains(body, `<option value="success" selected>`) || !strings.Contains(body, `value="2026-05-31"`) {
		t.Error("filter not applied or not kept in the form")
	}
	const q = "?action=auth.login.succeeded&amp;from=2026-05-01&amp;outcome=success&amp;to=2026-05-31"
	for _, want := range []string{`href="/audit/export.csv` + q + `"`, `href="/audit/export.jsonl` + q + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("export link lacks the filters: want %s", want)
		}
	}
	body = e.get(t, "/audit?outcome=denied&from=2026-06-01", "auditor@example.com").Body.String()
	if !strings.Contains(body, "No events match these filters.") || !strings.Contains(body, `href="/audit">Clear</a>`) {
		t.Error("empty result has no explanation or no way back")
	}
}

func TestAuditIndex_Paging(t *testing.T) {
	e := newEnv(t, true)
	a := credtrack.Actor{Kind: credtrack.ActorUser, ID: "u-coord", OrgID: "org-a", Role: credtrack.RoleCoordinator}
	for range 117 {
		e.alog.add(a, "provider.listed", "provider", "", credtrack.OutcomeSuccess, map[string]string{"results": "7"})
	}
	body := e.get(t, "/audit?action=provider.listed", "auditor@example.com").Body.String()
	if !strings.Contains(body, "Showing 1–50 of 117") || !strings.Contains(body, `href="/audit?action=provider.listed&amp;page=2" rel="next"`) ||
		strings.Contains(body, `rel="prev"`) {
		t.Error("first page")
	}
	body = e.get(t, "/audit?action=provider.listed&page=3", "auditor@example.com").Body.String()
	if !strings.Contains(body, "Showing 101–117 of 117") || strings.Contains(body, `rel="next"`) ||
		!strings.Contains(body, `href="/audit?action=provider.listed&amp;page=2" rel="prev"`) {
		t.Error("last page")
	}
	if f := e.alog.lastFilter(t); f.Offset != 100 || f.Limit != 50 {
		t.Errorf("page 3 asked for %+v", f)
	}
	// Past the end: say so and link back to the last page.
	body = e.get(t, "/audit?action=provider.listed&page=9", "auditor@example.com").Body.String()
	if !strings.Contains(body, "this page is past the end") || !strings.Contains(body, `href="/audit?action=provider.listed&amp;page=3"`) {
		t.Error("past-the-end page")
	}
}

// readCSV parses an export and fails the test unless it is valid CSV.
func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(body))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, body)
	}
	return recs
}

func TestAuditExportCSV(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/audit/export.csv?from=2026-05-01&page=4", "auditor@example.com")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d:\n%s", rec.Code, rec.Body.String())
	}
	for k, want := range map[string]string{
		"Content-Type":        "text/csv; charset=utf-8",
		"Content-Disposition": `attachment; filename="audit-20260601.csv"`,
		"Cache-Control":       "no-store",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// An export is the whole selection: no page, no limit.
	if f := e.alog.lastFilter(t); !reflect.DeepEqual(f, credtrack.AuditFilter{From: utcDay(2026, 5, 1)}) {
		t.Errorf("export filter %+v", f)
	}
	if e.alog.formats[0] != "csv" {
		t.Errorf("format %q", e.alog.formats[0])
	}
	recs := readCSV(t, rec.Body.String())
	if !slices.Equal(recs[0], csvHeader) || strings.Join(recs[0], ",") !=
		"time,org_id,seq,actor_kind,actor_id,actor_role,action,target_type,target_id,outcome,ip,user_agent,request_id,details,hash" {
		t.Errorf("header %v", recs[0])
	}
	if len(recs) != 6 {
		t.Fatalf("%d rows, want header + 5 (org-a only)", len(recs))
	}
	col := func(name string) int { return slices.Index(csvHeader, name) }
	first := recs[1] // oldest first
	if first[col("time")] != "2026-05-31T08:15:00.000000Z" || first[col("seq")] != "1" || first[col("action")] != "auth.login.succeeded" ||
		first[col("actor_id")] != "UCOORD0000000000000000000A" || first[col("details")] != `{"method":"password"}` ||
		first[col("hash")] != "01"+strings.Repeat("00", 30)+"ab" {
		t.Errorf("first row %q", first)
	}
	// Formula injection: every cell a spreadsheet would evaluate starts
	// with an apostrophe.
	failed := recs[5]
	if failed[col("user_agent")] != `'=HYPERLINK("http://evil.example","click")` || failed[col("target_id")] != "'+SUM(A1)" {
		t.Errorf("formula cells not defused: %q", failed)
	}
	for _, r := range recs[1:] {
		for i, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %s = %q starts a formula", csvHeader[i], cell)
			}
		}
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "plain": "plain", "=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "a=b": "a=b", `{"k":"=v"}`: `{"k":"=v"}`,
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuditExportJSONL(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/audit/export.jsonl?outcome=success", "auditor@example.com")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct, cd := rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"); ct != "application/x-ndjson" ||
		cd != `attachment; filename="audit-20260601.jsonl"` {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	if e.alog.formats[0] != "jsonl" || e.alog.lastFilter(t).Outcome != credtrack.OutcomeSuccess {
		t.Errorf("format %q filter %+v", e.alog.formats[0], e.alog.lastFilter(t))
	}
	sc := bufio.NewScanner(strings.NewReader(rec.Body.String()))
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", len(lines)+1, err, sc.Text())
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 successes of org-a", len(lines))
	}
	want := []string{"id", "time", "org_id", "seq", "actor_kind", "actor_id", "actor_role", "action", "target_type",
		"target_id", "outcome", "ip", "user_agent", "request_id", "details", "prev_hash", "hash"}
	for i, m := range lines {
		for _, k := range want {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q: %v", i+1, k, m)
			}
		}
		if len(m) != len(want) {
			t.Errorf("line %d has keys %v", i+1, m)
		}
		for _, k := range []string{"prev_hash", "hash"} {
			if b, err := hex.DecodeString(m[k].(string)); err != nil || len(b) != 32 {
				t.Errorf("line %d: %s = %v is not 32 bytes of hex", i+1, k, m[k])
			}
		}
		if _, ok := m["details"].(map[string]any); !ok {
			t.Errorf("line %d: details = %v, want an object (also when empty)", i+1, m["details"])
		}
	}
	// The chain links show: the second event's prev_hash is the first's hash.
	if lines[1]["prev_hash"] != lines[0]["hash"] || lines[0]["seq"] != float64(1) || lines[0]["action"] != "auth.login.succeeded" {
		t.Errorf("first lines %v / %v", lines[0], lines[1])
	}
}

func TestAuditExport_EmptySelectionHasHeader(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/audit/export.csv?action=org.created", "auditor@example.com")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Disposition") == "" {
		t.Fatalf("status %d", rec.Code)
	}
	if recs := readCSV(t, rec.Body.String()); len(recs) != 1 || !slices.Equal(recs[0], csvHeader) {
		t.Errorf("empty export = %q", recs)
	}
	if rec := e.get(t, "/audit/export.jsonl?action=org.created", "auditor@example.com"); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("empty JSONL export: %d %q", rec.Code, rec.Body.String())
	}
}

func TestAuditExport_ErrorBeforeFirstEvent(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{credtrack.Errorf(credtrack.EFORBIDDEN, "your role may not do this"), http.StatusForbidden, "your role may not do this"},
		{credtrack.Errorf(credtrack.EUNAVAILABLE, "the audit log is unavailable"), http.StatusServiceUnavailable, "the audit log is unavailable"},
		{errMidway, http.StatusInternalServerError, "Internal error."},
	} {
		e := newEnv(t, true)
		e.alog.err = tc.err
		for _, path := range []string{"/audit/export.csv", "/audit/export.jsonl"} {
			rec := e.get(t, path, "auditor@example.com")
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%s with %v: %d, want %d with %q", path, tc.err, rec.Code, tc.status, tc.want)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Content-Disposition") != "" {
				t.Errorf("%s with %v: not the HTML error page (%q)", path, tc.err, rec.Header().Get("Content-Type"))
			}
			if strings.Contains(rec.Body.String(), "internal detail") {
				t.Errorf("%s: internal detail shown", path)
			}
		}
	}
}

// TestAuditExport_FailureMidwayAborts: once rows are on their way the
// status cannot change, so the handler aborts the response (the server
// then drops the connection) rather than end a truncated file cleanly.
func TestAuditExport_FailureMidwayAborts(t *testing.T) {
	e := newEnv(t, true)
	e.alog.failAfter = 2
	req := httptest.NewRequest(http.MethodGet, "/audit/export.csv", nil)
	req.AddCookie(e.auth.session(e.sid, "auditor@example.com"))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
		if !strings.Contains(e.logs.String(), "internal detail") {
			t.Error("the failure was not logged")
		}
	}()
	e.serve(req)
	t.Fatal("the handler returned normally after a failure midway")
}

func TestAuditAccess(t *testing.T) {
	e := newEnv(t, true)
	for _, tc := range []struct {
		who, path string
		status    int
	}{
		{"", "/audit", 303}, {"", "/audit/export.csv", 303}, {"", "/audit/export.jsonl", 303}, {"", "/providers/p-gia/reads", 303},
		{"auditor@example.com", "/audit", 200}, {"auditor@example.com", "/audit/export.csv", 200},
		{"auditor@example.com", "/audit/export.jsonl", 200},
		{"coord@example.com", "/audit", 403}, {"coord@example.com", "/audit/export.csv", 403},
		{"coord@example.com", "/audit/export.jsonl", 403}, {"coord@example.com", "/providers/p-gia/reads", 403},
		{"nurse@example.com", "/audit", 403}, {"nurse@example.com", "/audit/export.csv", 403},
		// A provider sees who read their own record; anyone else's
		// record looks like a missing one.
		{"nurse@example.com", "/providers/p-gia/reads", 200}, {"nurse@example.com", "/providers/p-ana/reads", 404},
		{"nurse@example.com", "/providers/p-zed/reads", 404}, {"orphan@example.com", "/providers/p-gia/reads", 404},
		{"auditor@example.com", "/providers/p-ana/reads", 200}, {"auditor@example.com", "/providers/p-zed/reads", 404},
	} {
		if rec := e.get(t, tc.path, tc.who); rec.Code != tc.status {
			t.Errorf("%q GET %s: %d, want %d", tc.who, tc.path, rec.Code, tc.status)
		}
	}
	// Refused by the route's policy: the store was never asked.
	e = newEnv(t, true)
	for _, path := range []string{"/audit", "/audit/export.csv", "/audit/export.jsonl"} {
		e.get(t, path, "coord@example.com")
	}
	if n := e.alog.calls(); n != 0 {
		t.Errorf("a coordinator's requests reached the audit log %d times", n)
	}
}

func TestAuditNavLink(t *testing.T) {
	e := newEnv(t, true)
	const link = `<a href="/audit"`
	body := e.get(t, "/", "auditor@example.com").Body.String()
	if !strings.Contains(body, link) {
		t.Error("auditor has no Audit log link")
	}
	if !strings.Contains(e.get(t, "/audit", "auditor@example.com").Body.String(), `<a href="/audit" aria-current="page">Audit log</a>`) {
		t.Error("Audit log is not marked current on its own page")
	}
	for _, who := range []string{"coord@example.com", "nurse@example.com"} {
		if strings.Contains(e.get(t, "/", who).Body.String(), link) {
			t.Errorf("%s gets a link to the audit log", who)
		}
	}
	// Without an AuditLog there is no link, and the pages say why.
	e.h = New(Options{Auth: e.auth, Providers: e.prov, SecureCookies: true, Today: func() credtrack.Date { return testToday }})
	if strings.Contains(e.get(t, "/", "auditor@example.com").Body.String(), link) {
		t.Error("link shown without an audit log")
	}
	if rec := e.get(t, "/audit", "auditor@example.com"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/audit without an audit log: %d", rec.Code)
	}
}

func TestRecordReads(t *testing.T) {
	e := newEnv(t, true)
	rec := e.get(t, "/providers/p-gia/reads", "nurse@example.com")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"Who has read this record",
		`<time datetime="2026-05-31T08:16:00Z">2026-05-31 08:16:00Z</time>`,
		`title="UCOORD0000000000000000000A">UCOORD00…</span>`, `<span class="actor-role">coordinator</span>`,
		"Opened the record", "provider.read", "192.0.2.10",
		`<span class="you">(you)</span>`, `href="/providers/p-gia"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("reads page lacks %q", want)
		}
	}
	if got := regexp.MustCompile(`<tr>`).FindAllStringIndex(body, -1); len(got) != 3 { // header + 2 reads
		t.Errorf("%d table rows, want a header and 2 reads", len(got))
	}
	if strings.Contains(body, "/audit?") {
		t.Error("a provider gets a link into the audit log")
	}
	// Staff see the link to the full log; an unread record says so.
	body = e.get(t, "/providers/p-ana/reads", "auditor@example.com").Body.String()
	if !strings.Contains(body, "Nobody has opened this record") ||
		!strings.Contains(body, `href="/audit?target_id=p-ana&amp;target_type=provider"`) {
		t.Error("empty state or audit log link missing")
	}
}

func TestProviderShow_ReadsLink(t *testing.T) {
	e := newEnv(t, true)
	for _, tc := range []struct {
		who, id string
		want    bool
	}{
		{"nurse@example.com", "p-gia", true},    // own record
		{"auditor@example.com", "p-gia", true},  // audit.read
		{"coord@example.com", "p-gia", false},   // neither
		{"auditor@example.com", "p-ana", true},  // any record for audit.read
		{"coord@example.com", "p-ana", false},   // neither
		{"nurse@example.com", "p-ana", false},   // 404 anyway
		{"auditor@example.com", "p-zed", false}, // other organization: 404
		{"orphan@example.com", "p-gia", false},  // someone else's record
		{"coord@example.com", "no-such", false}, // 404
		{"auditor@example.com", "no-such", false},
	} {
		body := e.get(t, "/providers/"+tc.id, tc.who).Body.String()
		got := strings.Contains(body, `href="/providers/`+tc.id+`/reads"`)
		if got != tc.want {
			t.Errorf("%s on %s: reads link %v, want %v", tc.who, tc.id, got, tc.want)
		}
	}
}

func TestAuditPages_NoInlineScriptOrStyle(t *testing.T) {
	e := newEnv(t, true)
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"audit":          e.get(t, "/audit", "auditor@example.com"),
		"audit filtered": e.get(t, "/audit?action=auth.login.failed&from=2026-05-01", "auditor@example.com"),
		"audit empty":    e.get(t, "/audit?outcome=denied&from=2026-06-01", "auditor@example.com"),
		"audit 400":      e.get(t, "/audit?from=bad", "auditor@example.com"),
		"reads":          e.get(t, "/providers/p-gia/reads", "nurse@example.com"),
		"reads empty":    e.get(t, "/providers/p-ana/reads", "auditor@example.com"),
		"provider":       e.get(t, "/providers/p-gia", "nurse@example.com"),
	} {
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: not an HTML page (%d)", name, rec.Code)
			continue
		}
		checkNoInline(t, name, rec.Body.String())
		// Event values are escaped like everything else.
		if strings.Contains(rec.Body.String(), `"http://evil.example"`) {
			t.Errorf("%s: unescaped event value", name)
		}
	}
}

func TestShortID(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"u-nurse":                      "u-nurse",
		"UCOORD0000000000000000000A":   "UCOORD00…",
		"GET /providers/{id}":          "GET /providers/{id}",
		"session-purge-job":            "session-purge-job",
		"0123456789abcdef0123456789ab": "01234567…",
	} {
		if got := shortID(in); got != want {
			t.Errorf("shortID(%q) = %q, want %q", in, got, want)
		}
	}
}
