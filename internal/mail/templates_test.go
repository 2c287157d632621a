package mail_test

import (
	"html"
	"strings"
	"testing"
	"time"

	"credtrack/internal/mail"
)

const evilName = `<script>alert("x")</script> & Co`

func TestRenderEveryTemplate(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 0, 0, time.FixedZone("CET", 3600))
	link := "https://credtrack.example/reset/ABCDEF234567?org=1&x=y"
	cases := []struct {
		name    string
		data    any
		subject string
		link    bool
		want    []string // in the text body, and HTML-escaped in the HTML body
	}{
		{mail.TemplateVerifyEmail, mail.VerifyEmailData{Name: evilName, Link: link},
			"Confirm your email address for credtrack", true, []string{evilName}},
		{mail.TemplatePasswordReset, mail.PasswordResetData{Link: link, Minutes: 60},
			"Reset your credtrack password", true, []string{"60 minutes", "works once"}},
		{mail.TemplatePasswordChanged, mail.PasswordChangedData{Name: evilName, When: when, IP: "203.0.113.9"},
			"Your credtrack password was changed", false, []string{evilName, "Wed 4 Mar 2026 04:06 UTC", "203.0.113.9"}},
		{mail.TemplateMFAChanged, mail.MFAChangedData{Name: evilName, What: mail.MFARecoveryCodesRegenerated, When: when, IP: "2001:db8::1"},
			"Two-step verification changed on your credtrack account", false, []string{evilName, "recovery codes regenerated", "2001:db8::1"}},
		{mail.TemplateAccountLocked, mail.AccountLockedData{Name: evilName, Until: when, IP: "198.51.100.7"},
			"Your credtrack account is temporarily locked", false, []string{evilName, "Wed 4 Mar 2026 04:06 UTC", "198.51.100.7"}},
		{mail.TemplateInvitation, mail.InvitationData{OrgName: evilName, Role: "admin", InviterName: "Ann <ann@x>", Link: link, Days: 7},
			"You are invited to credtrack", true, []string{evilName, "admin", "Ann <ann@x>", "7 days"}},
		{mail.TemplateAlert, mail.AlertData{Name: evilName, OrgName: "Clinic", Title: "Possible exclusion match", Body: "Review it.", Link: link},
			"A credtrack alert needs your attention", true, []string{evilName, "Clinic", "Possible exclusion match", "Review it."}},
		{mail.TemplateExpiryReminder, mail.ExpiryReminderData{Name: evilName, OrgName: "Clinic <b>", Credential: "State license (MO)",
			ExpiresOn: "2027-01-31", DaysLeft: 30, Link: link},
			"A credential of yours is expiring", true, []string{evilName, "Clinic <b>", "State license (MO)", "expires on 2027-01-31, in 30 day(s)"}},
		{mail.TemplateExpiryReminder, mail.ExpiryReminderData{OrgName: "Clinic", Credential: "DEA registration", ExpiresOn: "2027-01-31", DaysLeft: -1, Link: link},
			"A credential of yours is expiring", true, []string{"DEA registration", "expired on 2027-01-31"}},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen[c.name] = true
			m, err := mail.Render(c.name, c.data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != c.subject {
				t.Errorf("subject %q, want %q", m.Subject, c.subject)
			}
			if m.To != "" {
				t.Errorf("Render set To %q", m.To)
			}
			if !strings.Contains(m.Text, "credtrack") || !strings.Contains(m.HTML, "credtrack") {
				t.Error("product name missing")
			}
			if c.link {
				if !strings.Contains(m.Text, "\n"+link+"\n") {
					t.Errorf("text lacks the link on a line of its own:\n%s", m.Text)
				}
				esc := html.EscapeString(link)
				if !strings.Contains(m.HTML, `href="`+esc+`"`) || !strings.Contains(m.HTML, ">"+esc+"</a>") {
					t.Errorf("HTML lacks the link %q as href and as text:\n%s", esc, m.HTML)
				}
			}
			for _, w := range c.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, m.Text)
				}
				if !strings.Contains(m.HTML, html.EscapeString(w)) {
					t.Errorf("HTML lacks %q:\n%s", html.EscapeString(w), m.HTML)
				}
			}
			if strings.Contains(m.HTML, "<script") || strings.Contains(m.HTML, "<ann@") {
				t.Errorf("HTML holds unescaped markup:\n%s", m.HTML)
			}
		})
	}
	for _, n := range mail.Templates() {
		if !seen[n] {
			t.Errorf("template %s not tested", n)
		}
	}
}

func TestRenderDefaultsAndMaps(t *testing.T) {
	m, err := mail.Render(mail.TemplatePasswordReset, mail.PasswordResetData{Link: "https://h.example/r/x"})
	if err != nil || !strings.Contains(m.Text, "expires in 60 minutes") {
		t.Errorf("default minutes: %v\n%s", err, m.Text)
	}
	m, err = mail.Render(mail.TemplateInvitation, &mail.InvitationData{OrgName: "Clinic", Role: "member", Link: "http://127.0.0.1:8080/i/x"})
	if err != nil || !strings.Contains(m.Text, "expires in 7 days") || !strings.Contains(m.Text, "You are invited to join") {
		t.Errorf("default days, no inviter: %v\n%s", err, m.Text)
	}
	m, err = mail.Render(mail.TemplateVerifyEmail, map[string]any{"Name": "", "Link": "https://h.example/v/x"})
	if err != nil || !strings.HasPrefix(m.Text, "Hello,\n") {
		t.Errorf("map data, empty name: %v\n%s", err, m.Text)
	}
}

func TestRenderCollapsesMultiLineNames(t *testing.T) {
	name := "Eve\r\n\r\nYour account is suspended. Click https://evil.example/login\n\n"
	m, err := mail.Render(mail.TemplatePasswordChanged, mail.PasswordChangedData{Name: name, When: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "Hello Eve Your account is suspended. Click https://evil.example/login,\n") {
		t.Errorf("name not collapsed to one line:\n%s", m.Text)
	}
	long := strings.Repeat("x", 500)
	m, _ = mail.Render(mail.TemplatePasswordChanged, mail.PasswordChangedData{Name: long, When: time.Now()})
	if strings.Contains(m.Text, long[:101]) {
		t.Error("long name not cut")
	}
}

func TestRenderErrors(t *testing.T) {
	now := time.Now()
	cases := []struct {
		what, name string
		data       any
	}{
		{"unknown template", "welcome", nil},
		{"javascript link", mail.TemplateVerifyEmail, mail.VerifyEmailData{Link: "javascript:alert(1)"}},
		{"relative link", mail.TemplatePasswordReset, mail.PasswordResetData{Link: "/reset/x"}},
		{"link with a line break", mail.TemplatePasswordReset, mail.PasswordResetData{Link: "https://h.example/r/x\nhttps://evil.example"}},
		{"empty link", mail.TemplateInvitation, mail.InvitationData{OrgName: "o", Role: "r"}},
		{"unknown mfa change", mail.TemplateMFAChanged, mail.MFAChangedData{What: "stolen", When: now}},
		{"zero time", mail.TemplatePasswordChanged, mail.PasswordChangedData{Name: "a"}},
		{"map missing a field", mail.TemplateVerifyEmail, map[string]any{"Link": "https://h.example/v"}},
		{"wrong data type", mail.TemplateAccountLocked, mail.PasswordChangedData{When: now}},
	}
	for _, c := range cases {
		if m, err := mail.Render(c.name, c.data); err == nil {
			t.Errorf("%s: no error; text:\n%s", c.what, m.Text)
		}
	}
}
