package mailtest_test

import (
	"encoding/base64"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"testing"
	"time"

	"credtrack/internal/mail/mailtest"
)

func send(t *testing.T, s *mailtest.Server, auth smtp.Auth, to []string, msg string) error {
	t.Helper()
	host, port := s.Addr()
	return smtp.SendMail(net.JoinHostPort(host, strconv.Itoa(port)), auth, "sender@example.com", to,
		[]byte(strings.ReplaceAll(msg, "\n", "\r\n")))
}

func TestCapturesAndDecodes(t *testing.T) {
	s := mailtest.NewServer(t)
	link := "https://credtrack.example/verify/" + strings.Repeat("ABCDEFGH", 12) + "?a=1&b=2"
	// The text part is base64 with short lines, the HTML part
	// quoted-printable with a soft break inside the link, the subject
	// Q-encoded, all inside a nested multipart.
	msg := `From: sender@example.com
To: a@example.com, b@example.com
Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe_from_credtrack?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: base64

` + wrap(b64("Open "+link+"\nthen sign in.\n"), 20) + `
--inner
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<a href=3D"` + link[:40] + "=\n" + strings.ReplaceAll(link[40:], "=", "=3D") + `">x</a>
--inner--
--outer--
`
	if err := send(t, s, nil, []string{"a@example.com", "b@example.com"}, msg); err != nil {
		t.Fatal(err)
	}
	got := s.WaitFor(t, 1, 5*time.Second)
	c := got[0]
	if c.From != "sender@example.com" || strings.Join(c.To, " ") != "a@example.com b@example.com" {
		t.Errorf("envelope %q %q", c.From, c.To)
	}
	if c.Subject != "Grüße from credtrack" {
		t.Errorf("subject %q", c.Subject)
	}
	if c.Text != "Open "+link+"\nthen sign in.\n" {
		t.Errorf("text %q", c.Text)
	}
	if l := mailtest.LinkIn(c.Text, "https://credtrack.example/verify/"); l != link {
		t.Errorf("text link %q", l)
	}
	if !strings.Contains(c.HTML, `href="`+link+`"`) {
		t.Errorf("html %q", c.HTML)
	}
	if c.Header.Get("To") != "a@example.com, b@example.com" || len(c.Raw) == 0 {
		t.Errorf("header %v, raw %d bytes", c.Header, len(c.Raw))
	}
}

func TestPlainMessageAndWaitFor(t *testing.T) {
	s := mailtest.NewServer(t)
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond)
		for i := range 3 {
			_ = send(t, s, nil, []string{"a@example.com"}, "Subject: n"+strconv.Itoa(i)+"\n\nplain body\n")
		}
	}()
	got := s.WaitFor(t, 3, 5*time.Second)
	if len(got) != 3 || got[2].Subject != "n2" || got[0].Text != "plain body\n" {
		t.Errorf("got %+v", got)
	}
	if len(s.Messages()) != 3 {
		t.Error("Messages disagrees with WaitFor")
	}
}

func TestAuth(t *testing.T) {
	s := mailtest.NewServer(t, mailtest.WithAuth("u", "p"))
	host, _ := s.Addr()
	msg := "Subject: x\n\nbody\n"
	if err := send(t, s, nil, []string{"a@example.com"}, msg); err == nil {
		t.Error("accepted without authentication")
	}
	if err := send(t, s, smtp.PlainAuth("", "u", "wrong", host), []string{"a@example.com"}, msg); err == nil {
		t.Error("accepted a wrong password")
	}
	if err := send(t, s, smtp.PlainAuth("", "u", "p", host), []string{"a@example.com"}, msg); err != nil {
		t.Errorf("right password: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages", n)
	}
}

func TestLinkIn(t *testing.T) {
	const p = "https://h.example/r/"
	cases := map[string]string{
		"open https://h.example/r/abc now":                        "https://h.example/r/abc",
		"open https://h.example/r/abc.":                           "https://h.example/r/abc",
		`<a href="https://h.example/r/abc?x=1&amp;y">`:            "https://h.example/r/abc?x=1&amp;y",
		"https://other.example/r/abc https://h.example/r/2\nmore": "https://h.example/r/2",
		"no link here": "",
	}
	for in, want := range cases {
		if got := mailtest.LinkIn(in, p); got != want {
			t.Errorf("LinkIn(%q) = %q, want %q", in, got, want)
		}
	}
	if got := mailtest.LinkIn("x", ""); got != "" {
		t.Errorf("empty prefix: %q", got)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}
