package mail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS policies accepted in SMTPConfig.TLS.
const (
	// TLSMandatory requires STARTTLS and refuses a server that does not
	// offer it. It is the default.
	TLSMandatory = "mandatory"
	// TLSOpportunistic uses STARTTLS when the server offers it and sends
	// in plain text otherwise. Credentials are then only sent with a
	// challenge-response mechanism (SCRAM, CRAM-MD5), never in the clear.
	TLSOpportunistic = "opportunistic"
	// TLSNone never encrypts. Only for local test servers (mailtest,
	// mailpit); credentials are refused unless the host is loopback.
	TLSNone = "none"
)

// DefaultTimeout bounds each SMTP step (connect, each command) when
// SMTPConfig.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// Host is the SMTP server's name; it is also the name checked in its
	// TLS certificate.
	Host string
	// Port defaults to 587 (submission with STARTTLS), or 25 when TLS is
	// "none".
	Port int
	// Username and Password, when set, authenticate the connection. With
	// TLS the strongest mechanism the server offers is chosen.
	Username, Password string
	// From is the sender address, e.g. "credtrack <no-reply@example.com>".
	From string
	// TLS is "mandatory" (default when empty), "opportunistic" or "none".
	TLS string
	// Timeout bounds connecting and each SMTP command; DefaultTimeout when
	// zero.
	Timeout time.Duration
}

// SMTP is a Sender that delivers through an SMTP server with go-mail. One
// connection is opened per message. Safe for concurrent use.
type SMTP struct {
	cfg    SMTPConfig
	from   *mail.Address
	domain string
	opts   []gomail.Option
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns a sender for it. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("mail: smtp "+format, args...)) }

	if h := cfg.Host; h == "" || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("/@[]", r) }) ||
		(strings.Contains(h, ":") && net.ParseIP(h) == nil) {
		bad("host: %q is not a host name or IP address", cfg.Host)
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSMandatory
	}
	var policy gomail.TLSPolicy
	switch cfg.TLS {
	case TLSMandatory:
		policy = gomail.TLSMandatory
	case TLSOpportunistic:
		policy = gomail.TLSOpportunistic
	case TLSNone:
		policy = gomail.NoTLS
	default:
		bad("tls: %q is not mandatory, opportunistic or none", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = gomail.DefaultPortTLS
		if cfg.TLS == TLSNone {
			cfg.Port = gomail.DefaultPort
		}
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		bad("port: %d is out of range", cfg.Port)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		bad("timeout: must be positive")
	}
	if cfg.Password != "" && cfg.Username == "" {
		bad("password: set without a username")
	}
	if cfg.Username != "" && cfg.TLS == TLSNone && !isLoopback(cfg.Host) {
		bad("username: refusing to send credentials without TLS to %q (tls none is for local test servers only)", cfg.Host)
	}
	from, err := parseAddress("from", cfg.From)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTLSPolicy(policy),
		gomail.WithTimeout(cfg.Timeout),
	}
	if cfg.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if cfg.TLS == TLSNone {
			// Auto-discovery never picks PLAIN on an unencrypted
			// connection; go-mail still allows PLAIN only to localhost.
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	// Fail now, not at the first email, if go-mail rejects the options.
	if _, err := gomail.NewClient(cfg.Host, opts...); err != nil {
		return nil, fmt.Errorf("mail: smtp: %w", err)
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return &SMTP{cfg: cfg, from: from, domain: domain, opts: opts}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is the server's host:port.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

// Send validates m (one valid recipient address, no line breaks in headers,
// a non-empty text body) and delivers it. Connecting and every SMTP
// command are bounded by the configured Timeout and by ctx.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := m.check()
	if err != nil {
		return err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(rand.Text() + "@" + s.domain)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}

	// A client per message: go-mail clients hold connection state, and
	// transactional mail is rare enough that reuse buys nothing.
	c, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: sending via %s: %w", s.Addr(), err)
	}
	return nil
}
