package mail_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net"
	"strings"
	"testing"
	"time"

	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
)

const from = "credtrack <no-reply@credtrack.example>"

func newSMTP(t *testing.T, srv *mailtest.Server, cfg mail.SMTPConfig) *mail.SMTP {
	t.Helper()
	cfg.Host, cfg.Port = srv.Addr()
	if cfg.From == "" {
		cfg.From = from
	}
	if cfg.TLS == "" {
		cfg.TLS = mail.TLSNone
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTPDeliversLinkIntact(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv, mail.SMTPConfig{Timeout: 5 * time.Second})

	// Longer than a quoted-printable line (76) and full of '=' and '&',
	// so the encoded form has soft line breaks and =3D escapes.
	base := "https://credtrack.example/password-reset/"
	link := base + strings.Repeat("QWERTYUIOPASDFGH", 8) + "?org=42&next=%2Fdocuments%3Fpage%3D2&sig=" + strings.Repeat("z=", 20)
	m, err := mail.Render(mail.TemplatePasswordReset, mail.PasswordResetData{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	m.To = "Ann Example <ann@example.com>"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	c := got[0]
	if c.From != "no-reply@credtrack.example" || len(c.To) != 1 || c.To[0] != "ann@example.com" {
		t.Errorf("envelope from %q to %q", c.From, c.To)
	}
	if c.Subject != "Reset your credtrack password" {
		t.Errorf("subject %q", c.Subject)
	}
	if !bytes.Contains(c.Raw, []byte("=\r\n")) || !bytes.Contains(c.Raw, []byte("=3D")) {
		t.Fatalf("the message has no quoted-printable soft breaks, so the test proves nothing:\n%s", c.Raw)
	}
	if c.Text != m.Text {
		t.Errorf("text changed in transit:\n got %q\nwant %q", c.Text, m.Text)
	}
	if l := mailtest.LinkIn(c.Text, base); l != link {
		t.Errorf("text link\n got %q\nwant %q", l, link)
	}
	if l := mailtest.LinkIn(c.HTML, base); l != html.EscapeString(link) {
		t.Errorf("HTML link\n got %q\nwant %q", l, html.EscapeString(link))
	}
	if f := c.Header.Get("From"); !strings.Contains(f, "<no-reply@credtrack.example>") {
		t.Errorf("From header %q", f)
	}
	if id := c.Header.Get("Message-ID"); !strings.HasSuffix(id, "@credtrack.example>") {
		t.Errorf("Message-ID %q", id)
	}
	if c.Header.Get("Date") == "" {
		t.Error("no Date header")
	}
}

func TestSMTPAuth(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithAuth("mailer", "s3cret"))
	m := mail.Message{To: "a@example.com", Subject: "hi", Text: "body"}

	ok := newSMTP(t, srv, mail.SMTPConfig{Username: "mailer", Password: "s3cret", Timeout: 5 * time.Second})
	if err := ok.Send(context.Background(), m); err != nil {
		t.Fatalf("right password: %v", err)
	}
	bad := newSMTP(t, srv, mail.SMTPConfig{Username: "mailer", Password: "wrong", Timeout: 5 * time.Second})
	if err := bad.Send(context.Background(), m); err == nil {
		t.Error("wrong password accepted")
	}
	anon := newSMTP(t, srv, mail.SMTPConfig{Timeout: 5 * time.Second})
	if err := anon.Send(context.Background(), m); err == nil {
		t.Error("unauthenticated send accepted")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestSMTPMandatoryTLSRefusesPlainServer(t *testing.T) {
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: from, Timeout: 5 * time.Second}) // TLS defaults to mandatory
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "hi", Text: "secret link"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("err = %v, want a STARTTLS error", err)
	}
	opp := newSMTP(t, srv, mail.SMTPConfig{TLS: mail.TLSOpportunistic, Timeout: 5 * time.Second})
	if err := opp.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "hi", Text: "x"}); err != nil {
		t.Errorf("opportunistic without STARTTLS: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1 (only the opportunistic one)", n)
	}
}

func TestSMTPRejectsHeaderInjection(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSMTP(t, srv, mail.SMTPConfig{Timeout: 5 * time.Second})
	cases := []struct {
		what      string
		m         mail.Message
		injection bool
	}{
		{"CRLF in subject", mail.Message{To: "a@example.com", Subject: "Hi\r\nBcc: victim@example.com", Text: "x"}, true},
		{"LF in subject", mail.Message{To: "a@example.com", Subject: "Hi\nBcc: victim@example.com", Text: "x"}, true},
		{"CR in subject", mail.Message{To: "a@example.com", Subject: "Hi\rBcc: victim@example.com", Text: "x"}, true},
		{"CRLF in address", mail.Message{To: "a@example.com\r\nBcc: victim@example.com", Subject: "Hi", Text: "x"}, true},
		{"LF in display name", mail.Message{To: "\"A\nBcc: v@example.com\" <a@example.com>", Subject: "Hi", Text: "x"}, true},
		{"two recipients", mail.Message{To: "a@example.com, victim@example.com", Subject: "Hi", Text: "x"}, false},
		{"not an address", mail.Message{To: "a.example.com", Subject: "Hi", Text: "x"}, false},
		{"empty recipient", mail.Message{Subject: "Hi", Text: "x"}, false},
		{"empty body", mail.Message{To: "a@example.com", Subject: "Hi"}, false},
	}
	for _, c := range cases {
		err := s.Send(context.Background(), c.m)
		if err == nil {
			t.Errorf("%s: sent", c.what)
			continue
		}
		if c.injection != errors.Is(err, mail.ErrHeaderInjection) {
			t.Errorf("%s: err = %v", c.what, err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages reached the server", n)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	ok := mail.SMTPConfig{Host: "smtp.example.com", From: from}
	if _, err := mail.NewSMTP(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		what string
		edit func(*mail.SMTPConfig)
		want string
	}{
		{"no host", func(c *mail.SMTPConfig) { c.Host = "" }, "host"},
		{"host with port", func(c *mail.SMTPConfig) { c.Host = "smtp.example.com:587" }, "host"},
		{"bad tls", func(c *mail.SMTPConfig) { c.TLS = "starttls" }, "tls"},
		{"bad port", func(c *mail.SMTPConfig) { c.Port = 70000 }, "port"},
		{"negative timeout", func(c *mail.SMTPConfig) { c.Timeout = -time.Second }, "timeout"},
		{"no from", func(c *mail.SMTPConfig) { c.From = "" }, "from"},
		{"bad from", func(c *mail.SMTPConfig) { c.From = "credtrack" }, "from"},
		{"injected from", func(c *mail.SMTPConfig) { c.From = "a@example.com\r\nBcc: b@example.com" }, "header injection"},
		{"password alone", func(c *mail.SMTPConfig) { c.Password = "p" }, "password"},
		{"credentials in clear to a remote host", func(c *mail.SMTPConfig) { c.TLS, c.Username, c.Password = mail.TLSNone, "u", "p" }, "without TLS"},
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		_, err := mail.NewSMTP(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.what, err, c.want)
		}
	}
	local := mail.SMTPConfig{Host: "127.0.0.1", Port: 1025, From: from, TLS: mail.TLSNone, Username: "u", Password: "p"}
	if _, err := mail.NewSMTP(local); err != nil {
		t.Errorf("credentials to a loopback test server: %v", err)
	}
}

// freePort returns a loopback port with nothing listening on it.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestSMTPServerDown(t *testing.T) {
	const timeout = 2 * time.Second
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: freePort(t), From: from, TLS: mail.TLSNone, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "hi", Text: "x"})
	if err == nil {
		t.Fatal("sent to a closed port")
	}
	if d := time.Since(start); d > timeout {
		t.Errorf("took %v, more than the %v timeout", d, timeout)
	}
}

func TestSMTPServerSilent(t *testing.T) {
	// A server that accepts the connection and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	t.Cleanup(func() {
		ln.Close()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	const timeout = 300 * time.Millisecond
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, From: from, TLS: mail.TLSNone, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "hi", Text: "x"})
	if err == nil {
		t.Fatal("sent to a silent server")
	}
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("took %v with a %v timeout", d, timeout)
	}
}
