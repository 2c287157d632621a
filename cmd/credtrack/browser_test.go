package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"credtrack/internal/demo"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds one browser test, from starting Chromium to the
// last assertion.
const browserTimeout = 3 * time.Minute

// newBrowser starts a headless Chromium with a fresh profile and returns a
// chromedp context for one tab. Everything it does is bounded by
// browserTimeout; the browser is stopped when the test ends. Without
// Chromium the test skips, except in CI, where it fails.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	requireChromium(t)
	profile := t.TempDir() // registered first, so removed after Chromium has exited
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	)
	tctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(tctx, opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
		cancelTimeout()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser and opens the tab
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// requireChromium skips the test when Debian's Chromium is not installed,
// or fails it in CI (CI=true), which must run the browser tests. Tests call
// it before slow setup such as starting the demo, so that the skip is
// immediate and the setup does not count against browserTimeout.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run the browser tests, but %s is missing: %v", chromiumPath, err)
		}
		t.Skip("browser tests skipped: install Debian's chromium (apt-get install chromium)")
	}
}

// consoleLog collects what the page writes to the console and what the
// browser logs for it (CSP violations arrive as Log.entryAdded with source
// "security", or as console errors).
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

// watchConsole starts collecting console and browser-log messages of the
// tab of ctx.
func watchConsole(t *testing.T, ctx context.Context) *consoleLog {
	t.Helper()
	c := &consoleLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		// Runs in the tab's read loop: only format and store.
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			msg = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg = "exception: " + d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			msg = fmt.Sprintf("log %s/%s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
		default:
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, msg)
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("listening to the console: %v", err)
	}
	return c
}

// all returns the messages collected so far.
func (c *consoleLog) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// cspViolations returns the collected messages that mention the
// Content-Security-Policy.
func (c *consoleLog) cspViolations() []string {
	var out []string
	for _, m := range c.all() {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Content-Security-Policy") {
			out = append(out, m)
		}
	}
	return out
}

// must runs a browser action that returns a value and fails the test on error.
func must[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// do runs browser steps and fails the test on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// navigate clicks or navigates and waits for the resulting document,
// failing unless it answered want.
func navigate(t *testing.T, ctx context.Context, what string, want int64, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != want {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %s answered %d, want %d:\n%.1500s", what, resp.URL, resp.Status, want, body)
	}
}

// screenshot writes a full-page PNG to $CREDTRACK_SCREENSHOT_DIR when that
// variable is set, and does nothing otherwise.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CREDTRACK_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png := must(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// demoLogin returns the email and password the demo printed for role.
func demoLogin(t *testing.T, s *runningServer, role string) (email, password string) {
	t.Helper()
	out := s.Stdout.String()
	for _, l := range regexp.MustCompile(`(?m)^\s+(\w+)\s+(\S+@riverside\.demo)\s+password: (\S+)$`).FindAllStringSubmatch(out, -1) {
		if l[1] == role {
			return l[2], l[3]
		}
	}
	t.Fatalf("the demo printed no %s login:\n%s", role, out)
	return "", ""
}

// TestBrowserDemoSignIn walks the demo in Chromium as the coordinator:
// sign in, dashboard, provider list, one provider, sign out. Along the way
// it checks that the Content-Security-Policy lets the page's own style
// sheet load and is violated by nothing, and that signing out ends the
// session on the server, not only in the browser.
func TestBrowserDemoSignIn(t *testing.T) {
	requireChromium(t)
	s := startServer(t, map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(t.TempDir(), "data")}, "demo")
	email, password := demoLogin(t, s, "coordinator")
	start := time.Now()
	ctx := newBrowser(t)
	console := watchConsole(t, ctx)

	// Anonymous: / sends the browser to the sign-in form.
	navigate(t, ctx, "open /", http.StatusOK, chromedp.Navigate(s.URL+"/"))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/login" {
		t.Fatalf("anonymous / landed on %s, want %s/login", loc, s.URL)
	}
	do(t, ctx, "fill the sign-in form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	navigate(t, ctx, "sign in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	passDemoTOTP(t, ctx, s, "coordinator") // coordinators must use TOTP

	// The dashboard.
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/" {
		t.Fatalf("after sign-in the browser is at %s, want %s/", loc, s.URL)
	}
	if h1 := must(t, ctx, "dashboard heading", chromedp.Text(chromedp.CSS("main h1"))); h1 != "Dashboard" {
		t.Fatalf("dashboard heading = %q", h1)
	}
	if org := must(t, ctx, "organization", chromedp.Text(chromedp.CSS(".page-head .muted"))); org != demo.OrgName {
		t.Errorf("dashboard names the organization %q, want %q", org, demo.OrgName)
	}
	tiles := must(t, ctx, "status tiles", chromedp.Evaluate[map[string]string](`Object.fromEntries(
		[...document.querySelectorAll('.tiles .tile')].map(li => [li.id, li.querySelector('.tile-count').textContent.trim()]))`))
	sum := 0
	for _, st := range []string{"compliant", "expiring", "expired", "missing", "pending", "inactive"} {
		v, ok := tiles["tile-"+st]
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Errorf("no %s tile with a count: %v", st, tiles)
		}
		sum += n
	}
	if sum != demo.ProviderCount {
		t.Errorf("the tiles count %d providers, want %d: %v", sum, demo.ProviderCount, tiles)
	}
	// The session cookie is HttpOnly and SameSite=Lax.
	cookies := must(t, ctx, "cookies", func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL + "/"}})
		return res.Cookies, err
	})
	var sid *network.Cookie
	for _, c := range cookies {
		if c.Name == "sid" {
			sid = c
		}
	}
	if sid == nil || sid.Value == "" || !sid.HTTPOnly || sid.SameSite != network.CookieSameSiteLax || !sid.Session {
		t.Fatalf("session cookie = %+v", sid)
	}
	if v := must(t, ctx, "document.cookie", chromedp.Evaluate[string](`document.cookie`)); strings.Contains(v, sid.Value) {
		t.Error("the session cookie is readable from script")
	}

	// The CSP lets the page's own style sheet load: app.css sets values
	// that differ from the browser's defaults.
	style := must(t, ctx, "computed style", chromedp.Evaluate[map[string]string](`({
		sheets: String(document.styleSheets.length),
		rules: String([...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0)),
		font: getComputedStyle(document.body).fontFamily,
		background: getComputedStyle(document.body).backgroundColor,
		topbar: getComputedStyle(document.querySelector('.topbar')).backgroundColor,
		tiles: getComputedStyle(document.querySelector('.tiles')).display,
	})`))
	if style["sheets"] != "1" || style["rules"] == "0" || !strings.HasPrefix(style["font"], "system-ui") ||
		style["background"] != "rgb(245, 247, 250)" || style["topbar"] != "rgb(29, 79, 145)" || style["tiles"] != "grid" {
		t.Errorf("app.css is not applied: %v", style)
	}
	screenshot(t, ctx, "dashboard")

	// The provider list.
	navigate(t, ctx, "open /providers", http.StatusOK, chromedp.Click(chromedp.CSS(`.mainnav a[href="/providers"]`)))
	if count := must(t, ctx, "result count", chromedp.Text(chromedp.CSS(".result-count"))); !strings.Contains(count, "of 200") {
		t.Errorf("provider list says %q, want … of 200", count)
	}
	rows := must(t, ctx, "provider rows", chromedp.Evaluate[int](`document.querySelectorAll('main table tbody tr').length`))
	if rows < 1 || rows > demo.ProviderCount {
		t.Fatalf("provider table has %d rows", rows)
	}
	// No full NPI in the list: only masked values.
	npis := must(t, ctx, "NPI column", chromedp.Evaluate[[]string](`[...document.querySelectorAll('main table tbody tr td.mono')].map(td => td.textContent.trim())`))
	for _, n := range npis {
		if regexp.MustCompile(`\d{10}`).MatchString(n) {
			t.Errorf("the provider list shows a full NPI: %q", n)
		}
	}

	// The first provider.
	name := must(t, ctx, "first provider", chromedp.Text(chromedp.CSS("main table tbody tr td a")))
	navigate(t, ctx, "open the first provider", http.StatusOK, chromedp.Click(chromedp.CSS("main table tbody tr td a")))
	providerURL := must(t, ctx, "location", chromedp.Location())
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(s.URL) + `/providers/[^/?]+$`).MatchString(providerURL) {
		t.Fatalf("the provider link led to %s", providerURL)
	}
	if h1 := must(t, ctx, "provider heading", chromedp.Text(chromedp.CSS("main h1"))); h1 != name {
		t.Errorf("provider page heading = %q, want %q", h1, name)
	}
	creds := must(t, ctx, "credentials table", chromedp.Evaluate[map[string]string](`(() => {
		const table = document.getElementById('credentials-heading').closest('section').querySelector('table');
		return table ? {rows: String(table.querySelectorAll('tbody tr').length),
			head: [...table.querySelectorAll('thead th')].map(th => th.textContent.trim()).join('|')} : {};
	})()`))
	if n, _ := strconv.Atoi(creds["rows"]); n < 1 || !strings.Contains(creds["head"], "Type") || !strings.Contains(creds["head"], "Expires") {
		t.Errorf("provider page credentials = %v, want a table with rows", creds)
	}
	screenshot(t, ctx, "provider")

	// Nothing so far violated the CSP, and the page raised no errors.
	if v := console.cspViolations(); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations:\n%s", strings.Join(v, "\n"))
	}
	for _, m := range console.all() {
		t.Logf("console: %s", m)
	}

	// Sign out ends the session on the server.
	navigate(t, ctx, "sign out", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/logout"] button[type="submit"]`)))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/login" {
		t.Fatalf("after sign-out the browser is at %s, want %s/login", loc, s.URL)
	}
	if flash := must(t, ctx, "flash", chromedp.Text(chromedp.CSS(".flash"))); flash != "You are signed out." {
		t.Errorf("sign-out flash = %q", flash)
	}
	// Put the old cookie back: the server must no longer accept it.
	do(t, ctx, "restore the old session cookie", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "sid", Value: sid.Value,
			URL: s.URL + "/", HTTPOnly: new(true), SameSite: network.CookieSameSiteLax})
		return err
	}))
	navigate(t, ctx, "reload the provider", http.StatusOK, chromedp.Navigate(providerURL))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/login" {
		t.Fatalf("with the signed-out session cookie, %s showed %s, want the sign-in form", providerURL, loc)
	}
	if body := must(t, ctx, "page text", chromedp.Text(chromedp.CSS("body"))); strings.Contains(body, name) {
		t.Error("the sign-in page shows the provider's name")
	}
	t.Logf("in the browser (start included): %v", time.Since(start).Round(time.Millisecond))

	// The watcher does see CSP violations: inline script is refused and
	// reported. (Without this, "no violations" above could mean "not
	// listening".)
	before := len(console.cspViolations())
	if ran := must(t, ctx, "inline script", chromedp.Evaluate[bool](`(() => {
		const s = document.createElement('script');
		s.textContent = 'window.inlineRan = true';
		document.head.appendChild(s);
		return window.inlineRan === true;
	})()`)); ran {
		t.Error("the CSP let an inline script run")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(console.cspViolations()) == before {
		if time.Now().After(deadline) {
			t.Fatalf("an inline script was blocked, but no CSP violation reached the console watcher:\n%s",
				strings.Join(console.all(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the watcher saw the deliberate violation: %s", console.cspViolations()[before])
}

// TestBrowserCrossSitePostRejected has a page on another site (localhost
// instead of 127.0.0.1) auto-submit a form to the demo's /logout, as a
// cross-site request forgery would. Chromium marks the request
// Sec-Fetch-Site: cross-site, and the demo must refuse it with 403 and
// leave the session alone.
func TestBrowserCrossSitePostRejected(t *testing.T) {
	requireChromium(t)
	s := startServer(t, map[string]string{"CREDTRACK_DATA_DIR": filepath.Join(t.TempDir(), "data")}, "demo")
	email, password := demoLogin(t, s, "coordinator")
	target := s.URL + "/logout"
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>You won!</title>
<form id="f" method="post" action="%s"><input type="hidden" name="x" value="1"></form>
<script>window.addEventListener('load', () => setTimeout(() => document.getElementById('f').submit(), 0));</script>`, target)
	}))
	t.Cleanup(attacker.Close)
	// Same port space, but "localhost" is another site than "127.0.0.1".
	attackerURL := strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1)
	if attackerURL == attacker.URL {
		t.Fatalf("unexpected httptest URL %s", attacker.URL)
	}

	start := time.Now()
	ctx := newBrowser(t)
	navigate(t, ctx, "open /login", http.StatusOK, chromedp.Navigate(s.URL+"/login"))
	do(t, ctx, "fill the sign-in form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	navigate(t, ctx, "sign in", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	passDemoTOTP(t, ctx, s, "coordinator") // coordinators must use TOTP

	responses := chromedp.Events(ctx, network.ResponseReceived)
	navigate(t, ctx, "open the attacker's page", http.StatusOK, chromedp.Navigate(attackerURL))
	var got *network.Response
	for ev, err := range responses {
		if err != nil {
			t.Fatalf("waiting for the forged POST to %s: %v", target, err)
		}
		if ev.Type == network.ResourceTypeDocument && ev.Response.URL == target {
			got = ev.Response
			break
		}
	}
	if got == nil || got.Status != http.StatusForbidden {
		t.Fatalf("the cross-site POST to /logout got %+v, want status 403", got)
	}
	// The browser shows the refusal page once it has loaded.
	text, err := chromedp.Run(ctx, chromedp.Poll[string](
		`location.href === `+strconv.Quote(target)+` && document.readyState === 'complete' && document.body.innerText`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("the refusal page did not load: %v", err)
	}
	if !strings.Contains(text, "sent from another site") || !strings.Contains(text, "403") {
		t.Errorf("the refusal page says:\n%s", text)
	}

	// The session survived: the dashboard still opens.
	navigate(t, ctx, "open / again", http.StatusOK, chromedp.Navigate(s.URL+"/"))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/" {
		t.Fatalf("after the forged sign-out the browser is at %s: the session was ended", loc)
	}
	t.Logf("in the browser (start included): %v", time.Since(start).Round(time.Millisecond))
}
