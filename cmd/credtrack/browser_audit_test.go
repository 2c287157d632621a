package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// TestBrowserAuditLog walks the audit log viewer in Chromium as the
// demo's auditor: filter the log by action, download the filtered log
// as CSV through the page's own link, and find that export recorded in
// the log itself.
func TestBrowserAuditLog(t *testing.T) {
	ctx := newBrowser(t) // first, so that a machine without Chromium skips at once
	console := watchConsole(t, ctx)
	s := startServer(t, map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(t.TempDir(), "data")}, "demo")
	email, password := demoLogin(t, s, "auditor")

	navigate(t, ctx, "open /login", http.StatusOK, chromedp.Navigate(s.URL+"/login"))
	do(t, ctx, "fill the sign-in form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	navigate(t, ctx, "sign in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))

	// The auditor's navigation leads to the log.
	navigate(t, ctx, "open the audit log", http.StatusOK, chromedp.Click(chromedp.CSS(`.mainnav a[href="/audit"]`)))
	if h1 := must(t, ctx, "heading", chromedp.Text(chromedp.CSS("main h1"))); h1 != "Audit log" {
		t.Fatalf("audit page heading = %q", h1)
	}
	if n := must(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll('main table tbody tr').length`)); n < 1 || n > 50 {
		t.Fatalf("the unfiltered log shows %d rows, want 1 to 50", n)
	}
	screenshot(t, ctx, "audit")

	// Filter by action through the form.
	do(t, ctx, "choose the action", chromedp.SetValue(chromedp.ID("action"), "auth.login.succeeded"))
	navigate(t, ctx, "apply the filter", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/audit"] button[type="submit"]`)))
	loc := must(t, ctx, "location", chromedp.Location())
	if u, err := url.Parse(loc); err != nil || u.Path != "/audit" || u.Query().Get("action") != "auth.login.succeeded" {
		t.Fatalf("the filter form led to %s", loc)
	}
	if sel := must(t, ctx, "selected action", chromedp.Evaluate[string](`document.getElementById('action').value`)); sel != "auth.login.succeeded" {
		t.Errorf("the form forgot the chosen action: %q", sel)
	}
	actions := must(t, ctx, "action column", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('main table tbody td.audit-action')].map(td => td.textContent.trim())`))
	if len(actions) == 0 {
		t.Fatal("no auth.login.succeeded rows, though the auditor just signed in")
	}
	for i, a := range actions {
		if a != "auth.login.succeeded" {
			t.Errorf("row %d has action %q", i+1, a)
		}
	}
	screenshot(t, ctx, "audit-filtered")

	// Export what is shown: click the page's own link, as a user would,
	// and let the browser download the file. (Fetching the link from
	// script instead is refused by the Content-Security-Policy, whose
	// default-src 'none' leaves no connect-src.)
	href := must(t, ctx, "export link", chromedp.Evaluate[string](`document.getElementById('export-csv').href`))
	if u, err := url.Parse(href); err != nil || u.Path != "/audit/export.csv" || u.Query().Get("action") != "auth.login.succeeded" {
		t.Fatalf("Export CSV links to %s, want the export with the current filter", href)
	}
	dir := t.TempDir()
	begins := chromedp.Events(ctx, browser.DownloadWillBegin)
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	do(t, ctx, "download the CSV export",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true)})
			return err
		}),
		chromedp.Click(chromedp.ID("export-csv")),
	)
	var guid string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatalf("the browser cancelled the download: %+v", ev)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
	}
	for ev, err := range begins {
		if err != nil {
			t.Fatalf("reading the download's start: %v", err)
		}
		if ev.GUID != guid {
			continue
		}
		if ev.URL != href || !regexp.MustCompile(`^audit-\d{8}\.csv$`).MatchString(ev.SuggestedFilename) {
			t.Errorf("downloaded %s as %q, want %s as audit-YYYYMMDD.csv", ev.URL, ev.SuggestedFilename, href)
		}
		break
	}
	body, err := os.ReadFile(filepath.Join(dir, guid))
	if err != nil {
		t.Fatalf("the downloaded export: %v", err)
	}
	if now := must(t, ctx, "location", chromedp.Location()); now != loc {
		t.Errorf("the download navigated the page from %s to %s", loc, now)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v\n%.500s", err, body)
	}
	wantHeader := []string{"time", "org_id", "seq", "actor_kind", "actor_id", "actor_role", "action",
		"target_type", "target_id", "outcome", "ip", "user_agent", "request_id", "details", "hash"}
	if len(recs) == 0 || !slices.Equal(recs[0], wantHeader) {
		t.Fatalf("CSV header = %q, want %q", recs, wantHeader)
	}
	if len(recs) < 2 {
		t.Fatal("the CSV export has no rows")
	}
	actionCol := slices.Index(wantHeader, "action")
	for i, r := range recs[1:] {
		if r[actionCol] != "auth.login.succeeded" {
			t.Errorf("CSV row %d has action %q", i+1, r[actionCol])
		}
	}

	// The export is itself on the record.
	navigate(t, ctx, "open the exports", http.StatusOK, chromedp.Navigate(s.URL+"/audit?action=export.created"))
	rows := must(t, ctx, "export events", chromedp.Evaluate[[]map[string]string](`[...document.querySelectorAll('main table tbody tr')].map(tr => ({
		action: tr.querySelector('td.audit-action').textContent.trim(),
		details: [...tr.querySelectorAll('.chip')].map(c => c.textContent.trim()).join(' '),
	}))`))
	if len(rows) == 0 {
		t.Fatal("the CSV export left no export.created event")
	}
	for i, r := range rows {
		if r["action"] != "export.created" {
			t.Errorf("row %d has action %q", i+1, r["action"])
		}
	}
	if d := rows[0]["details"]; !strings.Contains(d, "format=csv") || !strings.Contains(d, "filter_action=auth.login.succeeded") ||
		!strings.Contains(d, "what=audit_log") {
		t.Errorf("the newest export event's details = %q", d)
	}
	screenshot(t, ctx, "audit-exports")

	if v := console.cspViolations(); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations:\n%s", strings.Join(v, "\n"))
	}
}
