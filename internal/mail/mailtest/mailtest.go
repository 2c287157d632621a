// Package mailtest runs an in-process SMTP server (emersion/go-smtp) for
// tests: it accepts every message on 127.0.0.1, keeps it in memory and
// decodes the subject and the text and HTML parts, so that a test can read
// an emailed link and follow it. It is test support only; no production
// code imports it.
package mailtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Captured is one message received by the Server.
type Captured struct {
	From    string      // envelope sender (MAIL FROM)
	To      []string    // envelope recipients (RCPT TO)
	Header  mail.Header // the message's headers, undecoded
	Subject string      // decoded Subject header
	Text    string      // decoded text/plain part, line endings as "\n"
	HTML    string      // decoded text/html part, line endings as "\n"
	Raw     []byte      // the message as received (after dot-unstuffing)
}

// Server is an SMTP server on 127.0.0.1 that captures what it receives.
// It offers no STARTTLS, so senders must use TLS "none" (or
// "opportunistic").
type Server struct {
	t    testing.TB
	srv  *smtp.Server
	host string
	port int

	user, pass string // PLAIN credentials required when user != ""

	mu      sync.Mutex
	msgs    []Captured
	changed chan struct{} // closed and replaced when a message arrives
	closed  bool
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer PLAIN authentication, allowed without
// TLS, and refuse mail from clients that have not authenticated with
// user and pass.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// NewServer starts a server on 127.0.0.1 with a free port. It is closed by
// t.Cleanup.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	a := ln.Addr().(*net.TCPAddr)
	s.host, s.port = a.IP.String(), a.Port

	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 50
	s.srv.ErrorLog = logger{s}

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		// Close the listener too: Serve may not have registered it with
		// the server yet, and then srv.Close would not stop Accept.
		_ = ln.Close()
		<-done
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
	})
	return s
}

// Addr returns the host (always "127.0.0.1") and the port to send to.
func (s *Server) Addr() (host string, port int) { return s.host, s.port }

// Messages returns a copy of the messages received so far, oldest first.
func (s *Server) Messages() []Captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Captured(nil), s.msgs...)
}

// WaitFor waits until at least n messages have arrived and returns them
// all. It fails t if that takes longer than timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Captured {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.msgs), s.changed
		if got >= n {
			msgs := append([]Captured(nil), s.msgs...)
			s.mu.Unlock()
			return msgs
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("mailtest: %d message(s) received, want %d within %v", got, n, timeout)
			return nil
		}
	}
}

func (s *Server) add(c Captured) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, c)
	close(s.changed)
	s.changed = make(chan struct{})
}

// logf reports server-side problems to the test, and drops them once the
// test has finished (t.Logf would panic then).
func (s *Server) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.t.Logf("mailtest: "+format, args...)
	}
}

type logger struct{ s *Server }

func (l logger) Printf(format string, v ...any) { l.s.logf(format, v...) }
func (l logger) Println(v ...any)               { l.s.logf("%s", strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

func (s *Server) newSession(*smtp.Conn) (smtp.Session, error) {
	sess := &session{s: s}
	if s.user != "" {
		return &authSession{sess}, nil
	}
	sess.authed = true
	return sess, nil
}

// session handles one connection without authentication; authSession
// adds PLAIN. go-smtp offers AUTH only when the session implements
// smtp.AuthSession, hence two types.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c, err := parse(raw)
	if err != nil {
		x.s.logf("cannot parse a message: %v\n%s", err, raw)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest: " + err.Error()}
	}
	c.From, c.To = x.from, append([]string(nil), x.to...)
	x.s.add(c)
	return nil
}

type authSession struct{ *session }

func (x *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.user || pass != x.s.pass {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

// parse decodes the subject and the first text/plain and text/html parts
// of a message, walking nested multiparts.
func parse(raw []byte) (Captured, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Captured{}, err
	}
	c := Captured{Header: m.Header, Raw: raw}
	if c.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		return Captured{}, fmt.Errorf("subject: %w", err)
	}
	err = walk(&c, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return c, err
}

func walk(c *Captured, contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: decode the transfer encoding here, for every
			// part, rather than rely on NextPart's quoted-printable only.
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(c, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	if mt != "text/plain" && mt != "text/html" {
		return nil
	}
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	case "", "7bit", "8bit", "binary":
		r = body
	default:
		return fmt.Errorf("unknown Content-Transfer-Encoding %q", encoding)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s body: %w", mt, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	if mt == "text/plain" && c.Text == "" {
		c.Text = text
	} else if mt == "text/html" && c.HTML == "" {
		c.HTML = text
	}
	return nil
}

// LinkIn returns the first URL in text that starts with prefix, or "" if
// there is none. The URL ends at white space, a quote or an angle bracket;
// trailing sentence punctuation is dropped. Use it to follow an emailed
// link: mailtest.LinkIn(msg.Text, baseURL+"/reset/").
func LinkIn(text, prefix string) string {
	if prefix == "" {
		return ""
	}
	i := strings.Index(text, prefix)
	if i < 0 {
		return ""
	}
	rest := text[i:]
	if j := strings.IndexAny(rest, " \t\r\n\"'<>"); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimRight(rest, ".,;:!?)")
}
