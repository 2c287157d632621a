package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"credtrack/internal/mail/mailtest"

	pqtotp "github.com/pquerna/otp/totp"
)

// passDemoTOTP answers the TOTP prompt the demo shows after signing in as
// role, with the code computed from the key `credtrack demo` printed (not
// the "demo only" code on the page, so the printed key is tested too).
func passDemoTOTP(t *testing.T, ctx context.Context, s *runningServer, role string) {
	t.Helper()
	key := demoTOTPKeys(s.Stdout.String())[role]
	if key == "" {
		t.Fatalf("the demo printed no TOTP key for %s", role)
	}
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/login/mfa" {
		t.Fatalf("after the password the browser is at %s, want %s/login/mfa", loc, s.URL)
	}
	do(t, ctx, "fill the TOTP code",
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), totpCode(t, key)),
	)
	navigate(t, ctx, "verify the TOTP code", http.StatusOK,
		chromedp.Click(chromedp.CSS(`form[action="/login/mfa"] button[type="submit"]`)))
}

// TestBrowserTOTP is issue 3's browser test, in Chromium, from nothing:
// sign up as the founder of a new organization (its owner, who must use TOTP),
// follow the verification link from a real SMTP listener, enrol TOTP
// (read the key from the page, compute the code), see the ten recovery
// codes, sign out, sign in with a code, then open the sessions page and
// revoke another session.
func TestBrowserTOTP(t *testing.T) {
	requireChromium(t)
	smtp := mailtest.NewServer(t)
	host, port := smtp.Addr()
	s := startServer(t, map[string]string{
		"CREDTRACK_DATA_DIR":             filepath.Join(t.TempDir(), "data"),
		"CREDTRACK_DEV_INSECURE_COOKIES": "true",
		"CREDTRACK_SMTP_HOST":            host,
		"CREDTRACK_SMTP_PORT":            strconv.Itoa(port),
		"CREDTRACK_SMTP_TLS":             "none",
		"CREDTRACK_SMTP_FROM":            "credtrack@test.example",
	}, "serve")
	s.URL = strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	email, password := "rosa.nurse@test.example", "violet harbor kettle swims 93"
	ctx := newBrowser(t)
	console := watchConsole(t, ctx)

	navigate(t, ctx, "open /signup", http.StatusOK, chromedp.Navigate(s.URL+"/signup"))
	do(t, ctx, "fill the sign-up form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.Click(chromedp.CSS(`input[name="kind"][value="organization"]`)),
		chromedp.SendKeys(chromedp.ID("org_name"), "Lakeside Staffing"),
		chromedp.SendKeys(chromedp.ID("first_name"), "Rosa"),
		chromedp.SendKeys(chromedp.ID("last_name"), "Delgado"),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.Click(chromedp.CSS(`input[name="adult"]`)),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("confirm"), password),
	)
	navigate(t, ctx, "sign up", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/verify-email" {
		t.Fatalf("after signing up the browser is at %s, want /verify-email", loc)
	}
	msgs := smtp.WaitFor(t, 1, browserTimeout)
	link := regexp.MustCompile(`https?://\S+/verify-email/confirm\?token=[A-Za-z0-9_-]+`).FindString(msgs[0].Text)
	if link == "" {
		t.Fatalf("no verification link in the email:\n%s", msgs[0].Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	navigate(t, ctx, "follow the verification link", http.StatusOK, chromedp.Navigate(s.URL+u.RequestURI()))
	navigate(t, ctx, "confirm the address", http.StatusOK,
		chromedp.Click(chromedp.CSS(`form[action="/verify-email/confirm"] button[type="submit"]`)))
	signIn := func(what string) {
		navigate(t, ctx, "open /login ("+what+")", http.StatusOK, chromedp.Navigate(s.URL+"/login"))
		do(t, ctx, "fill the sign-in form ("+what+")",
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
		)
		navigate(t, ctx, "sign in ("+what+")", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	}
	// Signing up did not sign in; confirming sends the browser to sign in.
	signIn("first")
	// The owner of the new organization must use TOTP: every page sends the
	// browser to the enrolment until it is done, with no navigation.
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/account/mfa/enrol" {
		t.Fatalf("after signing in, the browser is at %s, want the TOTP enrolment", loc)
	}
	if n := must(t, ctx, "navigation links", chromedp.Evaluate[int](`document.querySelectorAll('a[href="/providers"], a[href="/account"]').length`)); n != 0 {
		t.Errorf("the enrolment page shows %d navigation links before TOTP is set up", n)
	}
	navigate(t, ctx, "open the enrolment page", http.StatusOK, chromedp.Navigate(s.URL+"/account/mfa/enrol"))
	navigate(t, ctx, "start the enrolment", http.StatusOK,
		chromedp.Click(chromedp.CSS(`form[action="/account/mfa/enrol/start"] button[type="submit"]`)))
	secret := strings.TrimSpace(must(t, ctx, "the TOTP key", chromedp.Text(chromedp.ID("totp-secret"))))
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		t.Fatalf("the enrolment page shows key %q", secret)
	}
	// The QR code is an image from the same origin (the CSP allows no data: URLs).
	if w := must(t, ctx, "QR image width", chromedp.Evaluate[int](
		`document.querySelector('img[src="/account/mfa/qr.png"]').naturalWidth`)); w != 256 {
		t.Errorf("the QR image is %d pixels wide, want 256 (not loaded?)", w)
	}
	now := time.Now()
	code, err := pqtotp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "fill the confirming code", chromedp.SendKeys(chromedp.ID("code"), code))
	navigate(t, ctx, "confirm TOTP", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/account/mfa/enrol"] button[type="submit"]`)))
	if n := must(t, ctx, "recovery codes", chromedp.Evaluate[int](`document.querySelectorAll('#recovery-codes li').length`)); n != 10 {
		t.Fatalf("the page shows %d recovery codes, want 10", n)
	}

	navigate(t, ctx, "sign out", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/logout"] button[type="submit"]`)))
	signIn("with TOTP")
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/login/mfa" {
		t.Fatalf("after the password the browser is at %s, want the TOTP prompt", loc)
	}
	// The next time step's code: the confirming code's step is used up,
	// and one step ahead is inside the window.
	code, _ = pqtotp.GenerateCode(secret, now.Add(30*time.Second))
	do(t, ctx, "fill the TOTP code", chromedp.SendKeys(chromedp.ID("code"), code))
	navigate(t, ctx, "verify the code", http.StatusOK, chromedp.Click(chromedp.CSS(`form[action="/login/mfa"] button[type="submit"]`)))
	if loc := must(t, ctx, "location", chromedp.Location()); loc != s.URL+"/" {
		t.Fatalf("after the code the browser is at %s, want the dashboard", loc)
	}

	// Another session of the same account (a second device at its prompt).
	jar, _ := cookiejar.New(nil)
	other := &http.Client{Jar: jar}
	resp, err := other.PostForm(s.URL+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	navigate(t, ctx, "open the sessions page", http.StatusOK, chromedp.Navigate(s.URL+"/account/sessions"))
	if n := must(t, ctx, "session rows", chromedp.Evaluate[int](`document.querySelectorAll('main table tbody tr').length`)); n != 2 {
		t.Fatalf("the sessions page lists %d sessions, want 2", n)
	}
	navigate(t, ctx, "revoke the other session", http.StatusOK, chromedp.Click(chromedp.CSS(
		`main table tbody tr:not(:has(.badge-current)) form button[type="submit"]`)))
	if flash := must(t, ctx, "flash", chromedp.Text(chromedp.CSS(".flash"))); flash != "The session was signed out." {
		t.Errorf("revoke flash = %q", flash)
	}
	if n := must(t, ctx, "session rows", chromedp.Evaluate[int](`document.querySelectorAll('main table tbody tr').length`)); n != 1 {
		t.Fatalf("after revoking, %d sessions are listed, want 1", n)
	}
	if v := console.cspViolations(); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations:\n%s", strings.Join(v, "\n"))
	}
}
