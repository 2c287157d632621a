// Package mail sends credtrack's transactional email: address
// verification, password reset, security notifications and invitations.
//
// Render turns one of the embedded templates into a Message; a Sender
// delivers it. SMTP sends through a real server (go-mail), LogSender only
// logs that nothing was sent, and DemoSender prints the message, body
// included, for `credtrack demo`.
package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"strings"
)

// Message is one email to one recipient. Text is required; HTML, when
// set, is sent as an alternative to it.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers a Message. Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrHeaderInjection is returned (wrapped) when a subject or an address
// contains a line break or another control character, which could add
// headers or recipients to the message.
var ErrHeaderInjection = errors.New("line break or control character in a header (header injection refused)")

// checkHeader rejects CR, LF and the other control characters (tab is
// allowed) in a header value.
func checkHeader(field, v string) error {
	for _, r := range v {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return fmt.Errorf("mail: %s: %w", field, ErrHeaderInjection)
		}
	}
	return nil
}

// parseAddress checks v for control characters and parses it as one
// RFC 5322 address ("a@example.com" or "Name <a@example.com>").
func parseAddress(field, v string) (*mail.Address, error) {
	if err := checkHeader(field, v); err != nil {
		return nil, err
	}
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("mail: %s: empty address", field)
	}
	a, err := mail.ParseAddress(v)
	if err != nil {
		return nil, fmt.Errorf("mail: %s: %q is not a valid email address", field, v)
	}
	return a, nil
}

// check validates m before it is sent and returns the parsed recipient.
func (m Message) check() (*mail.Address, error) {
	to, err := parseAddress("to", m.To)
	if err != nil {
		return nil, err
	}
	if err := checkHeader("subject", m.Subject); err != nil {
		return nil, err
	}
	if strings.TrimSpace(m.Subject) == "" {
		return nil, errors.New("mail: subject: empty")
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, errors.New("mail: the plain-text body is empty")
	}
	return to, nil
}

// LogSender is the Sender used when no SMTP server is configured. It sends
// nothing and logs "email not sent (no SMTP configured)" with the
// recipient and the subject only: the body is never logged because it may
// hold a one-time link. A nil Log means slog.Default().
type LogSender struct {
	Log *slog.Logger
}

// Send logs that m was not sent. It fails only for an invalid message.
func (s LogSender) Send(ctx context.Context, m Message) error {
	if _, err := m.check(); err != nil {
		return err
	}
	l := s.Log
	if l == nil {
		l = slog.Default()
	}
	l.WarnContext(ctx, "email not sent (no SMTP configured)", "to", m.To, "subject", m.Subject)
	return nil
}

// DemoSender prints each message, plain-text body included, to Out (the
// standard output of `credtrack demo`, os.Stdout when nil), so that
// password-reset and verification links can be followed without a mail
// server. Development only: the printed links are live credentials, so
// never use it for a real deployment. Each message is written with one
// Write call; with concurrent senders, Out must accept concurrent writes
// (os.Stdout does).
type DemoSender struct {
	Out io.Writer
}

// Send prints m to Out. It fails for an invalid message or a write error.
func (s DemoSender) Send(_ context.Context, m Message) error {
	if _, err := m.check(); err != nil {
		return err
	}
	out := s.Out
	if out == nil {
		out = os.Stdout
	}
	var b strings.Builder
	b.WriteString("----- email (demo mode, not sent) -----\n")
	fmt.Fprintf(&b, "To: %s\nSubject: %s\n\n", m.To, m.Subject)
	b.WriteString(strings.TrimRight(m.Text, "\n"))
	b.WriteString("\n----- end of email -----\n")
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("mail: demo output: %w", err)
	}
	return nil
}

var (
	_ Sender = LogSender{}
	_ Sender = DemoSender{}
)
