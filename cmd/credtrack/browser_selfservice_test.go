package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserProviderSelfService walks a provider's own maintenance in
// Chromium against the demo: sign in as the demo nurse (no TOTP: the
// provider role need not enrol it), open "my record" from the dashboard,
// add a CE credit, and see it on the record as pending verification, with
// no links to staff-only actions. No step may violate the CSP.
func TestBrowserProviderSelfService(t *testing.T) {
	requireChromium(t)
	s := startServer(t, map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(t.TempDir(), "data")}, "demo")
	email, password := demoLogin(t, s, "provider")
	ctx := newBrowser(t)
	console := watchConsole(t, ctx)

	navigate(t, ctx, "open /login", http.StatusOK, chromedp.Navigate(s.URL+"/login"))
	do(t, ctx, "fill the sign-in form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	navigate(t, ctx, "sign in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	navigate(t, ctx, "open the dashboard", http.StatusOK, chromedp.Navigate(s.URL+"/"))
	navigate(t, ctx, "open my record", http.StatusOK, chromedp.Click(chromedp.ID("open-my-record")))
	recordURL := must(t, ctx, "location", chromedp.Location())
	if !regexp.MustCompile(`/providers/[^/]+$`).MatchString(recordURL) {
		t.Fatalf("my record is at %s", recordURL)
	}
	// The top navigation's "My record" leads to the same page.
	navigate(t, ctx, "the navigation's My record", http.StatusOK, chromedp.Click(chromedp.CSS(`nav.mainnav a[href="/my-record"]`)))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != recordURL {
		t.Errorf("My record in the navigation led to %s, want %s", loc, recordURL)
	}
	staffOnly := must(t, ctx, "staff-only links", chromedp.Evaluate[int](
		`document.querySelectorAll('#edit-provider, #reveal-ssn, #reveal-dob, #record-verifications, form[action$="/delete"][action^="/providers/"]').length`))
	if staffOnly != 0 {
		t.Errorf("my record shows %d staff-only controls", staffOnly)
	}

	navigate(t, ctx, "open the type picker", http.StatusOK, chromedp.Click(chromedp.ID("add-credential")))
	navigate(t, ctx, "choose CE credit", http.StatusOK, chromedp.Click(chromedp.ID("type-ce_credit")))
	if n := must(t, ctx, "verification fields", chromedp.Evaluate[int](`document.querySelectorAll('#verified_on, #verified_by').length`)); n != 0 {
		t.Errorf("the provider's CE form has %d verification fields", n)
	}
	do(t, ctx, "fill the CE form",
		chromedp.WaitVisible(chromedp.ID("issued_on")),
		chromedp.SendKeys(chromedp.ID("issuer"), "ANA Continuing Education"),
		chromedp.SetValue(chromedp.ID("issued_on"), "2026-11-15"),
		chromedp.SendKeys(chromedp.ID("d_course"), "Browserfield pain management update"),
		chromedp.SendKeys(chromedp.ID("d_hours"), "1.5"),
	)
	navigate(t, ctx, "save the CE credit", http.StatusOK, chromedp.Click(chromedp.ID("save-credential")))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != recordURL {
		t.Fatalf("after adding the CE credit the browser is at %s", loc)
	}
	rows := must(t, ctx, "credential rows", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#credentials tbody tr')).map(r => r.innerText)`))
	found := false
	for _, r := range rows {
		if strings.Contains(r, "Browserfield pain management update") {
			found = true
			if !strings.Contains(r, "Pending") || !strings.Contains(r, "Not verified") {
				t.Errorf("the new CE row = %q, want pending verification", r)
			}
		}
	}
	if !found {
		t.Errorf("the new CE credit is not on the record: %q", rows)
	}
	if v := console.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
