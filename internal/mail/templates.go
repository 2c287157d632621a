package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
)

// Template names accepted by Render.
const (
	// TemplateVerifyEmail asks the user to confirm an email address.
	// Data: VerifyEmailData.
	TemplateVerifyEmail = "verify_email"
	// TemplatePasswordReset carries a one-time password-reset link.
	// Data: PasswordResetData.
	TemplatePasswordReset = "password_reset"
	// TemplatePasswordChanged tells the user the password was changed.
	// Data: PasswordChangedData.
	TemplatePasswordChanged = "password_changed"
	// TemplateMFAChanged tells the user two-step verification changed.
	// Data: MFAChangedData.
	TemplateMFAChanged = "mfa_changed"
	// TemplateAccountLocked tells the user the account was locked after
	// failed sign-in attempts. Data: AccountLockedData.
	TemplateAccountLocked = "account_locked"
	// TemplateInvitation invites someone to join an organisation.
	// Data: InvitationData.
	TemplateInvitation = "invitation"
	// TemplateAlert tells a coordinator that an alert was raised in an
	// organisation (a new exclusion match, a stale list, a failing
	// source). Data: AlertData.
	TemplateAlert = "alert"
	// TemplateExpiryReminder tells a provider that one of their
	// credentials expires soon or has expired. Data: ExpiryReminderData.
	TemplateExpiryReminder = "expiry_reminder"
)

// Values of MFAChangedData.What.
const (
	MFAEnabled                  = "enabled"
	MFADisabled                 = "disabled"
	MFARecoveryCodesRegenerated = "recovery codes regenerated"
)

// VerifyEmailData is the data of TemplateVerifyEmail.
type VerifyEmailData struct {
	Name string // may be empty
	Link string // absolute http(s) URL
}

// PasswordResetData is the data of TemplatePasswordReset.
type PasswordResetData struct {
	Link    string // absolute http(s) URL
	Minutes int    // lifetime of the link; 60 when zero
}

// PasswordChangedData is the data of TemplatePasswordChanged.
type PasswordChangedData struct {
	Name string
	When time.Time
	IP   string // may be empty
}

// MFAChangedData is the data of TemplateMFAChanged.
type MFAChangedData struct {
	Name string
	What string // MFAEnabled, MFADisabled or MFARecoveryCodesRegenerated
	When time.Time
	IP   string // may be empty
}

// AccountLockedData is the data of TemplateAccountLocked.
type AccountLockedData struct {
	Name  string
	Until time.Time
	IP    string // of the last failed attempt; may be empty
}

// InvitationData is the data of TemplateInvitation.
type InvitationData struct {
	OrgName     string
	Role        string
	InviterName string // may be empty
	Link        string // absolute http(s) URL
	Days        int    // lifetime of the invitation; 7 when zero
}

// AlertData is the data of TemplateAlert. Title and Body never hold
// sensitive values (no NPI, SSN or licence numbers).
type AlertData struct {
	Name    string // the recipient, may be empty
	OrgName string
	Title   string
	Body    string
	Link    string // absolute http(s) URL of the page to act on
}

// ExpiryReminderData is the data of TemplateExpiryReminder. Credential
// names the credential by type and state ("State license (MO)"), never by
// number.
type ExpiryReminderData struct {
	Name       string // the recipient, may be empty
	OrgName    string
	Credential string
	ExpiresOn  string // YYYY-MM-DD
	DaysLeft   int    // 0: today; negative: expired
	Link       string // absolute http(s) URL of the provider's record
}

var subjects = map[string]string{ // #nosec G101 -- email subject lines, not credentials
	TemplateExpiryReminder:  "A credential of yours is expiring",
	TemplateAlert:           "A credtrack alert needs your attention",
	TemplateVerifyEmail:     "Confirm your email address for credtrack",
	TemplatePasswordReset:   "Reset your credtrack password",
	TemplatePasswordChanged: "Your credtrack password was changed",
	TemplateMFAChanged:      "Two-step verification changed on your credtrack account",
	TemplateAccountLocked:   "Your credtrack account is temporarily locked",
	TemplateInvitation:      "You are invited to credtrack",
}

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

type pair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

var templates = func() map[string]pair {
	funcs := map[string]any{"line": line, "link": link, "when": when, "mfa": mfaWhat}
	m := map[string]pair{}
	for name := range subjects {
		t := texttemplate.Must(texttemplate.New(name).Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/_layout.txt", "templates/"+name+".txt"))
		h := htmltemplate.Must(htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/_layout.html", "templates/"+name+".html"))
		m[name] = pair{t, h}
	}
	return m
}()

// Templates lists the names Render accepts.
func Templates() []string {
	return []string{TemplateVerifyEmail, TemplatePasswordReset, TemplatePasswordChanged,
		TemplateMFAChanged, TemplateAccountLocked, TemplateInvitation, TemplateAlert, TemplateExpiryReminder}
}

// Render fills the named template with data and returns the message with
// its fixed subject, the plain-text body and the HTML body; the caller sets
// To. data is the template's *Data struct (or a pointer to it), or a map
// holding every field. Links must be absolute http(s) URLs; names and
// other free text are cut to one line of at most 100 characters. The HTML
// body is escaped by html/template.
func Render(name string, data any) (Message, error) {
	p, ok := templates[name]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown template %q", name)
	}
	var text, html bytes.Buffer
	if err := p.text.ExecuteTemplate(&text, "layout", data); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: %w", name, err)
	}
	if err := p.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return Message{}, fmt.Errorf("mail: template %s (html): %w", name, err)
	}
	return Message{Subject: subjects[name], Text: text.String(), HTML: html.String()}, nil
}

// maxLine is the longest free-text value (a name, an organisation) put in
// a message, in characters.
const maxLine = 100

// line makes free text safe to place in a sentence: control characters
// and line breaks become spaces, runs of spaces collapse, and the result
// is cut to maxLine characters. It keeps a hostile display name from
// adding paragraphs (a fake "click here" block) to a message.
func line(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if r := []rune(s); len(r) > maxLine {
		s = string(r[:maxLine-1]) + "…"
	}
	return s
}

// link checks that s is an absolute http(s) URL without spaces or control
// characters, so that it survives as one clickable line.
func link(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", errors.New("link contains spaces or control characters")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("link %q is not an absolute http(s) URL", s)
	}
	return s, nil
}

// when formats a time for a message, in UTC so that it is unambiguous.
func when(v any) (string, error) {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return "", errors.New("time not set")
		}
		return t.UTC().Format("Mon 2 Jan 2006 15:04 UTC"), nil
	case *time.Time:
		if t == nil {
			return "", errors.New("time not set")
		}
		return when(*t)
	case string:
		if t == "" {
			return "", errors.New("time not set")
		}
		return line(t), nil
	}
	return "", fmt.Errorf("time has type %T, not time.Time", v)
}

// mfaWhat accepts only the documented MFAChangedData.What values.
func mfaWhat(s string) (string, error) {
	switch s {
	case MFAEnabled, MFADisabled, MFARecoveryCodesRegenerated:
		return s, nil
	}
	return "", fmt.Errorf("what %q is not %q, %q or %q", s, MFAEnabled, MFADisabled, MFARecoveryCodesRegenerated)
}
