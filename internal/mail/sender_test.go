package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
)

func TestDemoSenderPrintsTheLink(t *testing.T) {
	link := "http://127.0.0.1:8080/reset/" + strings.Repeat("A7", 40)
	m, err := mail.Render(mail.TemplatePasswordReset, mail.PasswordResetData{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	m.To = "owner@demo.example"
	var out bytes.Buffer
	s := mail.DemoSender{Out: &out}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, w := range []string{"To: owner@demo.example\n", "Subject: Reset your credtrack password\n", "not sent"} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	if l := mailtest.LinkIn(got, "http://127.0.0.1:8080/reset/"); l != link {
		t.Errorf("link %q, want %q", l, link)
	}
	if strings.Contains(got, "<p>") {
		t.Error("demo output holds the HTML body")
	}

	m.Subject = "hi\nBcc: x@evil.example"
	if err := s.Send(context.Background(), m); !errors.Is(err, mail.ErrHeaderInjection) {
		t.Errorf("injection: %v", err)
	}
}

func TestLogSenderNeverLogsTheBody(t *testing.T) {
	var buf bytes.Buffer
	s := mail.LogSender{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	m, err := mail.Render(mail.TemplateVerifyEmail, mail.VerifyEmailData{Name: "Ann", Link: "https://h.example/verify/SECRETTOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	m.To = "ann@example.com"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, w := range []string{"email not sent (no SMTP configured)", "ann@example.com", "Confirm your email address"} {
		if !strings.Contains(got, w) {
			t.Errorf("log lacks %q: %s", w, got)
		}
	}
	if strings.Contains(got, "SECRETTOKEN") || strings.Contains(got, "Hello") {
		t.Errorf("log holds the body: %s", got)
	}
}
