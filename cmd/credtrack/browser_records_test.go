package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserProviderRecords walks a coordinator's day in Chromium against
// the demo: add a provider, add a state license with its type-specific
// fields, find the provider by NPI and by license number from the list's
// search box, upload a PDF to it, download it, verify the same file on the
// "verify a document" page, and reveal the license number (an audited
// POST). No step may violate the Content-Security-Policy.
func TestBrowserProviderRecords(t *testing.T) {
	requireChromium(t)
	s := startServer(t, map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(t.TempDir(), "data")}, "demo")
	email, password := demoLogin(t, s, "coordinator")
	ctx := newBrowser(t)
	console := watchConsole(t, ctx)

	navigate(t, ctx, "open /login", http.StatusOK, chromedp.Navigate(s.URL+"/login"))
	do(t, ctx, "fill the sign-in form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	navigate(t, ctx, "sign in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	passDemoTOTP(t, ctx, s, "coordinator")

	// Add a provider from the list page.
	navigate(t, ctx, "open /providers", http.StatusOK, chromedp.Navigate(s.URL+"/providers"))
	navigate(t, ctx, "open the new provider form", http.StatusOK, chromedp.Click(chromedp.ID("add-provider")))
	do(t, ctx, "fill the provider form",
		chromedp.WaitVisible(chromedp.ID("first_name")),
		chromedp.SendKeys(chromedp.ID("first_name"), "Wilhelmina"),
		chromedp.SendKeys(chromedp.ID("last_name"), "Browserfield"),
		chromedp.SetValue(chromedp.ID("profession"), "RN"),
		chromedp.SendKeys(chromedp.ID("state"), "MO"),
		chromedp.SendKeys(chromedp.ID("npi"), "1234567893"),
	)
	navigate(t, ctx, "save the provider", http.StatusOK, chromedp.Click(chromedp.ID("save-provider")))
	providerURL := must(t, ctx, "location", chromedp.Location())
	if !regexp.MustCompile(`/providers/[^/]+$`).MatchString(providerURL) {
		t.Fatalf("after adding, the browser is at %s", providerURL)
	}
	if h1 := must(t, ctx, "heading", chromedp.Text(chromedp.CSS("main h1"))); h1 != "Wilhelmina Browserfield" {
		t.Fatalf("provider heading = %q", h1)
	}
	if npi := must(t, ctx, "masked NPI", chromedp.Text(chromedp.CSS(".facts dd.mono"))); !strings.HasPrefix(npi, "••••7893") {
		t.Errorf("NPI shown as %q, want the last four only", npi)
	}

	// Add a state license: pick the type, then its own fields.
	navigate(t, ctx, "open the type picker", http.StatusOK, chromedp.Click(chromedp.ID("add-credential")))
	navigate(t, ctx, "choose state license", http.StatusOK, chromedp.Click(chromedp.ID("type-state_license")))
	do(t, ctx, "fill the license form",
		chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("issuer"), "Missouri State Board of Nursing"),
		chromedp.SendKeys(chromedp.ID("number"), "RN2024118877"),
		chromedp.SetValue(chromedp.ID("issued_on"), "2024-05-01"),
		chromedp.SetValue(chromedp.ID("expires_on"), "2028-04-30"),
		chromedp.SendKeys(chromedp.ID("d_license_type"), "RN"),
		chromedp.Click(chromedp.ID("d_compact")),
		chromedp.SetValue(chromedp.ID("d_license_status"), "active"),
	)
	navigate(t, ctx, "save the license", http.StatusOK, chromedp.Click(chromedp.ID("save-credential")))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != providerURL {
		t.Fatalf("after adding the license the browser is at %s", loc)
	}
	row := must(t, ctx, "license row", chromedp.Text(chromedp.CSS("#credentials tbody tr")))
	if !strings.Contains(row, "State license") || !strings.Contains(row, "••••8877") || strings.Contains(row, "RN2024118877") {
		t.Errorf("license row = %q, want the type and a masked number", row)
	}
	if tl := must(t, ctx, "timeline bars", chromedp.Evaluate[int](`document.querySelectorAll('svg.timeline rect.bar').length`)); tl != 1 {
		t.Errorf("timeline has %d bars, want 1", tl)
	}

	// Find the provider from the list's search box by NPI (typed with
	// spaces) and by license number (lower case): the form posts, so the
	// address bar never holds the number, and the page shows it masked.
	for _, tc := range []struct{ what, typed, note string }{
		{"NPI", "1234 567 893", "NPI ending 7893"},
		{"license number", "rn2024118877", "license number ending 8877"},
	} {
		navigate(t, ctx, "open /providers", http.StatusOK, chromedp.Navigate(s.URL+"/providers"))
		do(t, ctx, "type the "+tc.what, chromedp.WaitVisible(chromedp.ID("q")), chromedp.SendKeys(chromedp.ID("q"), tc.typed))
		navigate(t, ctx, "search by "+tc.what, http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/providers/search"] button[type="submit"]`)))
		if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/providers/search" {
			t.Errorf("after searching by %s the browser is at %s", tc.what, loc)
		}
		main := must(t, ctx, "results", chromedp.Text(chromedp.CSS("main")))
		if !strings.Contains(main, "Browserfield") || !strings.Contains(main, tc.note) ||
			strings.Contains(main, "1234567893") || strings.Contains(strings.ToUpper(main), "RN2024118877") {
			t.Errorf("search by %s shows %q", tc.what, main)
		}
	}
	navigate(t, ctx, "back to the provider", http.StatusOK, chromedp.Navigate(providerURL))

	// Upload a PDF attached to the license.
	pdf := append([]byte("%PDF-1.4\n% credtrack browser test\n"), bytes.Repeat([]byte("license copy\n"), 2000)...)
	dir := t.TempDir()
	file := filepath.Join(dir, "license.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	licenseID := must(t, ctx, "license option", chromedp.Evaluate[string](`document.querySelector('#credential_id option:nth-child(2)').value`))
	do(t, ctx, "choose the file",
		chromedp.SetValue(chromedp.ID("credential_id"), licenseID),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}),
	)
	navigate(t, ctx, "upload", http.StatusOK, chromedp.Click(chromedp.ID("upload")))
	if flash := must(t, ctx, "flash", chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "uploaded") {
		t.Errorf("upload flash = %q", flash)
	}
	docRow := must(t, ctx, "document row", chromedp.Text(chromedp.CSS("#document-list tbody tr")))
	if !strings.Contains(docRow, "license.pdf") || !strings.Contains(docRow, "State license") ||
		!strings.Contains(docRow, hex.EncodeToString(sum[:])[:12]) {
		t.Errorf("document row = %q", docRow)
	}

	// The download link serves the decrypted bytes.
	href := must(t, ctx, "download link", chromedp.Evaluate[string](`document.querySelector('#document-list tbody tr td a').href`))
	cookies := must(t, ctx, "cookies", func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL + "/"}})
		return res.Cookies, err
	})
	req, err := http.NewRequest(http.MethodGet, href, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, pdf) ||
		resp.Header.Get("Content-Type") != "application/pdf" || !strings.Contains(resp.Header.Get("Content-Disposition"), "license.pdf") {
		t.Errorf("download = %d %q %q, %d bytes (%v), want the uploaded PDF", resp.StatusCode, resp.Header.Get("Content-Type"),
			resp.Header.Get("Content-Disposition"), len(body), err)
	}

	// Verify the same file by upload on the verify page.
	navigate(t, ctx, "open verify", http.StatusOK, chromedp.Click(chromedp.CSS(`.mainnav a[href="/documents/verify"]`)))
	do(t, ctx, "choose the file to verify", chromedp.SetUploadFiles(chromedp.ID("verify-file"), []string{file}))
	navigate(t, ctx, "verify by file", http.StatusOK, chromedp.Click(chromedp.ID("verify-file-submit")))
	result := must(t, ctx, "verify result", chromedp.Text(chromedp.ID("verify-result")))
	if !strings.Contains(result, "Match") || !strings.Contains(result, "Wilhelmina Browserfield") ||
		!strings.Contains(result, "license.pdf") || !strings.Contains(result, hex.EncodeToString(sum[:])) {
		t.Errorf("verify result = %q", result)
	}
	// A different file does not match.
	other := filepath.Join(dir, "other.pdf")
	if err := os.WriteFile(other, append(pdf, '!'), 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "choose another file", chromedp.SetUploadFiles(chromedp.ID("verify-file"), []string{other}))
	navigate(t, ctx, "verify another file", http.StatusOK, chromedp.Click(chromedp.ID("verify-file-submit")))
	if n := must(t, ctx, "no match", chromedp.Evaluate[bool](`!!document.getElementById('verify-nomatch')`)); !n {
		t.Error("a changed file was not reported as unmatched")
	}

	// Reveal the license number: a POST that shows it once.
	navigate(t, ctx, "back to the provider", http.StatusOK, chromedp.Navigate(providerURL))
	navigate(t, ctx, "reveal the number", http.StatusOK,
		chromedp.Click(chromedp.CSS(`#credentials form[action$="/reveal"] button`)))
	if v := must(t, ctx, "revealed", chromedp.Text(chromedp.ID("revealed"))); v != "RN2024118877" {
		t.Errorf("revealed number = %q", v)
	}
	screenshot(t, ctx, "reveal")

	if v := console.cspViolations(); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations:\n%s", strings.Join(v, "\n"))
	}
}
