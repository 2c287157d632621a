// Package config holds credtrack's one Config struct: its defaults, how
// environment variables and flags override them, the _FILE variants of
// secrets, and the validation that reports every problem at once.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration of every subcommand. The zero value is not
// usable; start from Default. Each field has a flag and a CREDTRACK_*
// environment variable (see Fields); secrets also accept a _FILE variant
// naming a file that holds the value.
type Config struct {
	// DataDir holds the SQLite database, the document blobs and the
	// generated master key. Created with mode 0700 when missing.
	DataDir string
	// DatabaseURL selects PostgreSQL ("postgres://…"). Empty means the
	// embedded, encrypted SQLite database in DataDir. Secret.
	DatabaseURL string
	// MasterKey is 64 hex digits (256 bits). Empty means the key file
	// DataDir/master.key, generated on first start. Secret.
	MasterKey string
	// Listen is the address the HTTP server listens on.
	Listen string
	// BaseURL is the public URL used in emailed links. Defaults to
	// http://Listen.
	BaseURL string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string
	// ShutdownTimeout bounds how long a graceful shutdown waits for
	// requests and jobs to finish.
	ShutdownTimeout time.Duration
	// MaxBodyBytes caps request bodies other than document uploads.
	MaxBodyBytes int64
	// MaxUploadBytes caps one document upload (and a file checked on the
	// "verify a document" page). Default 25 MB.
	MaxUploadBytes int64
	// SQLiteSynchronous is the embedded database's synchronous level:
	// full (each commit synced, the default) or normal (synced at
	// checkpoints: survives a crash of credtrack, not of the machine).
	SQLiteSynchronous string
	// SessionIdle and SessionLifetime are the idle timeout and the
	// absolute lifetime of a signed-in session.
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// DevInsecureCookies drops the Secure attribute and the __Host- prefix
	// from cookies so that plain-http localhost works; demo sets it.
	DevInsecureCookies bool
	// SMTPHost is the SMTP server for account emails (password reset,
	// change notices). Empty means no mail is sent: serve logs that a
	// message was dropped, demo prints it to the terminal.
	SMTPHost string
	// SMTPPort is the SMTP server's port; 0 picks 587 (25 with TLS none).
	SMTPPort int64
	// SMTPUsername and SMTPPassword authenticate to the SMTP server when
	// set. SMTPPassword is a secret.
	SMTPUsername string
	SMTPPassword string
	// SMTPFrom is the sender address, e.g. "credtrack <no-reply@example.com>".
	SMTPFrom string
	// SMTPTLS is mandatory (default), opportunistic or none.
	SMTPTLS string
	// NPPESURL is the NPPES NPI Registry API endpoint (version 2.1).
	NPPESURL string
	// NursysURL is the Nursys e-Notify REST base URL, issued by NCSBN with
	// the institution's credentials. Empty turns Nursys verification off.
	NursysURL string
	// NursysUsername and NursysPassword are the institution's e-Notify API
	// credentials. NursysPassword is a secret.
	NursysUsername string
	NursysPassword string
	// LicenseDir holds state boards' bulk license files named
	// "<board>-….txt" (docs/psv.md). Empty turns board-file
	// verification off.
	LicenseDir string

	// TLSCert and TLSKey are PEM files of the server's certificate chain
	// and private key. Setting both turns HTTPS on; the files are
	// re-read when they change and on SIGHUP.
	TLSCert string
	TLSKey  string
	// ACMEDomains, a comma-separated list of host names, turns HTTPS on
	// with certificates obtained by ACME (Let's Encrypt by default),
	// cached in DataDir/acme. Exclusive with TLSCert/TLSKey.
	ACMEDomains string
	// ACMEEmail is the contact address given to the ACME CA (optional).
	ACMEEmail string
	// ACMEDirectory is the ACME directory URL; empty means Let's Encrypt.
	ACMEDirectory string
	// ACMECAFile is a PEM file of extra roots to trust when talking to the
	// ACME server (a private CA or a test server such as pebble).
	ACMECAFile string
	// ACMECacheDir holds the ACME account key, the certificates and the
	// pending http-01 challenge tokens. Empty means DataDir/acme. Several
	// serve processes behind one name must share it (a shared volume), or
	// each asks the CA for its own certificate and a challenge sent to the
	// wrong node fails.
	ACMECacheDir string
	// HTTPListen is the plain-HTTP listen address used with HTTPS on: it
	// answers every request with a 301 to the canonical https host (and
	// serves ACME http-01 challenges). Empty means no plain listener.
	HTTPListen string
	// HSTSMaxAge is the max-age of Strict-Transport-Security on HTTPS
	// responses; 0 leaves the header out.
	HSTSMaxAge time.Duration
	// MetricsListen, when set, is a separate plain-HTTP address that
	// serves GET /metrics to whoever reaches it (bind it to a private
	// interface or a pod network for Prometheus), and the main listener
	// then serves no /metrics at all. Empty serves /metrics on the main
	// listener to loopback clients only.
	MetricsListen string
	// TrustedProxies is a comma-separated list of CIDR ranges (or single
	// addresses) of the reverse proxies in front of serve. Only a request
	// whose TCP peer is in one of them has its client address taken from
	// X-Forwarded-For; empty trusts no one and uses the peer address.
	TrustedProxies string

	// SecurityContact, SecurityExpires, SecurityPolicy and
	// SecurityLanguages fill /.well-known/security.txt (RFC 9116).
	// Without a contact the file is not served (404). Expires is a date
	// (2027-06-30) or an RFC 3339 time.
	SecurityContact   string
	SecurityExpires   string
	SecurityPolicy    string
	SecurityLanguages string
	// BlobS3 puts document blobs in an S3-compatible bucket instead of
	// DataDir/blobs when its bucket is set (required for several serve
	// processes: they must share one blob store).
	BlobS3 S3
	// BackupDir and BackupS3 are where backups go (one of them); serve
	// takes one every BackupInterval when either is set and prunes those
	// older than BackupRetention, keeping at least BackupKeep.
	BackupDir       string
	BackupS3        S3
	BackupInterval  time.Duration
	BackupRetention time.Duration
	BackupKeep      int64
}

// S3 locates an S3-compatible bucket.
type S3 struct {
	Endpoint  string // host[:port]
	Bucket    string
	Prefix    string // e.g. "credtrack/"; empty for the whole bucket
	Region    string
	AccessKey string
	SecretKey string // secret
	Insecure  bool   // plain http (tests, a local MinIO)
}

// Set reports whether the bucket is configured.
func (s S3) Set() bool { return s.Bucket != "" }

// Default returns the configuration used when nothing is set: data in
// ./credtrack-data, listening on 127.0.0.1:8080.
func Default() Config {
	return Config{
		DataDir:         "credtrack-data",
		Listen:          "127.0.0.1:8080",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 20 * time.Second,
		MaxBodyBytes:    1 << 20,
		MaxUploadBytes:  25 << 20,
		// Audit events of reads must be durable before the data leaves.
		SQLiteSynchronous: "full",
		SessionIdle:       30 * time.Minute,
		SessionLifetime:   12 * time.Hour,
		SMTPTLS:           "mandatory",
		NPPESURL:          "https://npiregistry.cms.hhs.gov/api/",
		HSTSMaxAge:        2 * 365 * 24 * time.Hour,
		// English is what the disclosure policy and the team speak.
		SecurityLanguages: "en",
		BackupInterval:    24 * time.Hour,
		BackupRetention:   14 * 24 * time.Hour,
		BackupKeep:        7,
	}
}

// Demo values of security.txt, used by `credtrack demo` when nothing is
// configured. DemoSecurityExpires is a fixed date on purpose: a test
// fails when it is less than 30 days away, so it is refreshed with a
// release instead of silently going stale (RFC 9116 §2.5.5 asks for less
// than a year ahead).
const (
	DemoSecurityContact = "mailto:security@credtrack.invalid"
	DemoSecurityExpires = "2027-11-30"
	DemoSecurityPolicy  = "https://credtrack.invalid/security-policy"
)

// Field describes one configuration setting: its flag, its environment
// variable and whether it is a secret (secrets get a _FILE variant and are
// never printed).
type Field struct {
	Flag   string
	Usage  string
	Secret bool
	ptr    any
}

// Env returns the environment variable of the field, e.g. CREDTRACK_DATA_DIR.
func (f Field) Env() string {
	return "CREDTRACK_" + strings.ToUpper(strings.ReplaceAll(f.Flag, "-", "_"))
}

// Value returns the field's current value as it would be written on the
// command line, or "" when it is unset or zero. Secrets always read "":
// the generated configuration reference calls Value on Default(), and
// nothing may print a secret.
func (f Field) Value() string {
	if f.Secret {
		return ""
	}
	switch p := f.ptr.(type) {
	case *string:
		return *p
	case *time.Duration:
		if *p == 0 {
			return ""
		}
		v := p.String() // "24h0m0s": drop the zero minutes and seconds
		if strings.HasSuffix(v, "m0s") {
			v = strings.TrimSuffix(v, "0s")
		}
		if strings.HasSuffix(v, "h0m") {
			v = strings.TrimSuffix(v, "0m")
		}
		return v
	case *int64:
		if *p == 0 {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	case *bool:
		if !*p {
			return ""
		}
		return "true"
	}
	return ""
}

// Fields lists the settings bound to c. Subcommands pick the ones they use.
func (c *Config) Fields() []Field {
	return append(append(append([]Field{
		{"data-dir", "directory for the SQLite database, documents and master key", false, &c.DataDir},
		{"database-url", "PostgreSQL URL (postgres://…); empty uses embedded SQLite", true, &c.DatabaseURL},
		{"master-key", "master key, 64 hex digits; empty uses DATA_DIR/master.key", true, &c.MasterKey},
		{"listen", "HTTP listen address", false, &c.Listen},
		{"base-url", "public base URL for emailed links (default http://LISTEN)", false, &c.BaseURL},
		{"log-level", "log level: debug, info, warn, error", false, &c.LogLevel},
		{"log-format", "log format: text or json", false, &c.LogFormat},
		{"shutdown-timeout", "how long graceful shutdown waits", false, &c.ShutdownTimeout},
		{"max-body-bytes", "maximum request body size in bytes (uploads have their own limit)", false, &c.MaxBodyBytes},
		{"max-upload-bytes", "maximum document upload size in bytes", false, &c.MaxUploadBytes},
		{"sqlite-synchronous", "embedded SQLite durability: full syncs every commit (survives power loss); normal syncs at checkpoints (survives a crash of credtrack only)", false, &c.SQLiteSynchronous},
		{"session-idle", "session idle timeout", false, &c.SessionIdle},
		{"session-lifetime", "session absolute lifetime", false, &c.SessionLifetime},
		{"dev-insecure-cookies", "allow plain-http cookies (localhost development only)", false, &c.DevInsecureCookies},
		{"smtp-host", "SMTP server for account emails; empty sends none", false, &c.SMTPHost},
		{"smtp-port", "SMTP port (0: 587, or 25 with smtp-tls none)", false, &c.SMTPPort},
		{"smtp-username", "SMTP user name (empty: no authentication)", false, &c.SMTPUsername},
		{"smtp-password", "SMTP password", true, &c.SMTPPassword},
		{"smtp-from", "sender address of account emails", false, &c.SMTPFrom},
		{"smtp-tls", "SMTP encryption: mandatory, opportunistic or none", false, &c.SMTPTLS},
		{"nppes-url", "NPPES NPI Registry API endpoint (version 2.1)", false, &c.NPPESURL},
		{"nursys-url", "Nursys e-Notify REST base URL; empty turns Nursys verification off", false, &c.NursysURL},
		{"nursys-username", "Nursys e-Notify institution API user name", false, &c.NursysUsername},
		{"nursys-password", "Nursys e-Notify institution API password", true, &c.NursysPassword},
		{"license-dir", "directory of state board bulk license files (<board>-*.txt); empty turns them off", false, &c.LicenseDir},
		{"tls-cert", "PEM certificate chain file; with tls-key turns HTTPS on (reloaded on change and SIGHUP)", false, &c.TLSCert},
		{"tls-key", "PEM private key file of tls-cert", false, &c.TLSKey},
		{"acme-domains", "comma-separated host names to get certificates for by ACME (turns HTTPS on)", false, &c.ACMEDomains},
		{"acme-email", "contact address for the ACME account (optional)", false, &c.ACMEEmail},
		{"acme-directory", "ACME directory URL (default Let's Encrypt)", false, &c.ACMEDirectory},
		{"acme-ca-file", "PEM roots to trust for the ACME server (private CA or test server)", false, &c.ACMECAFile},
		{"acme-cache-dir", "directory of the ACME account key and certificates (default DATA_DIR/acme; share it between nodes)", false, &c.ACMECacheDir},
		{"http-listen", "plain-HTTP address that redirects to https and serves ACME challenges (with HTTPS on)", false, &c.HTTPListen},
		{"hsts-max-age", "Strict-Transport-Security max-age on HTTPS responses (0: no header)", false, &c.HSTSMaxAge},
		{"metrics-listen", "separate address serving only /metrics, to anyone who reaches it (empty: /metrics on listen, loopback clients only)", false, &c.MetricsListen},
		{"trusted-proxies", "comma-separated CIDR ranges of reverse proxies whose X-Forwarded-For is believed (empty: none)", false, &c.TrustedProxies},
		{"security-contact", "security.txt Contact (mailto: or https: URI); empty serves no security.txt", false, &c.SecurityContact},
		{"security-expires", "security.txt Expires, a date such as 2027-06-30 (required with security-contact)", false, &c.SecurityExpires},
		{"security-policy", "security.txt Policy URL (the disclosure policy)", false, &c.SecurityPolicy},
		{"security-languages", "security.txt Preferred-Languages, comma-separated", false, &c.SecurityLanguages},
	}, s3Fields("blob-s3", "document blobs", &c.BlobS3)...), []Field{
		{"backup-dir", "directory for backups (serve backs up daily when this or backup-s3-bucket is set)", false, &c.BackupDir},
		{"backup-interval", "how often serve takes a backup", false, &c.BackupInterval},
		{"backup-retention", "how long backups are kept (at least 168h)", false, &c.BackupRetention},
		{"backup-keep", "the number of newest backups always kept", false, &c.BackupKeep},
	}...), s3Fields("backup-s3", "backups", &c.BackupS3)...)
}

// s3Fields are the settings of one S3 bucket.
func s3Fields(prefix, what string, s *S3) []Field {
	return []Field{
		{prefix + "-endpoint", "S3 endpoint host:port for " + what, false, &s.Endpoint},
		{prefix + "-bucket", "S3 bucket for " + what + " (empty: not in S3)", false, &s.Bucket},
		{prefix + "-prefix", "key prefix inside the bucket for " + what, false, &s.Prefix},
		{prefix + "-region", "S3 region for " + what, false, &s.Region},
		{prefix + "-access-key", "S3 access key for " + what, false, &s.AccessKey},
		{prefix + "-secret-key", "S3 secret key for " + what, true, &s.SecretKey},
		{prefix + "-insecure", "reach the S3 endpoint for " + what + " over plain http", false, &s.Insecure},
	}
}

// Load applies environment variables and then the flags in args to c,
// resolves _FILE secrets and validates the result. It registers the named
// fields (all when names is empty) on fs. Every problem found is reported
// in one joined error.
func (c *Config) Load(fs *flag.FlagSet, args []string, getenv func(string) string, names ...string) error {
	var errs []error
	fields := c.pick(names)
	files := map[string]*string{}
	for _, f := range fields {
		if v := getenv(f.Env()); v != "" {
			if err := set(f.ptr, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", f.Env(), err))
			}
		}
		bind(fs, f)
		if f.Secret {
			p := new(string)
			*p = getenv(f.Env() + "_FILE")
			fs.StringVar(p, f.Flag+"-file", *p, "file holding "+f.Flag+" (or "+f.Env()+"_FILE)")
			files[f.Flag] = p
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range fields {
		if p := files[f.Flag]; p != nil && *p != "" {
			b, err := os.ReadFile(*p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s-file: cannot read the file: %v", f.Flag, errors.Unwrap(err)))
				continue
			}
			_ = set(f.ptr, strings.TrimSpace(string(b)))
		}
	}
	// Environment and file problems are reported together with the
	// validation problems, so one start shows everything to fix.
	return errors.Join(append(errs, c.Validate())...)
}

func (c *Config) pick(names []string) []Field {
	all := c.Fields()
	if len(names) == 0 {
		return all
	}
	var out []Field
	for _, f := range all {
		for _, n := range names {
			if f.Flag == n {
				out = append(out, f)
			}
		}
	}
	return out
}

func bind(fs *flag.FlagSet, f Field) {
	usage := f.Usage + " (" + f.Env() + ")"
	switch p := f.ptr.(type) {
	case *string:
		fs.StringVar(p, f.Flag, *p, usage)
	case *time.Duration:
		fs.DurationVar(p, f.Flag, *p, usage)
	case *int64:
		fs.Int64Var(p, f.Flag, *p, usage)
	case *bool:
		fs.BoolVar(p, f.Flag, *p, usage)
	}
}

func set(ptr any, v string) error {
	switch p := ptr.(type) {
	case *string:
		*p = v
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (use e.g. 30m): %q", v)
		}
		*p = d
	case *int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not true or false: %q", v)
		}
		*p = b
	}
	return nil
}

// Validate checks the configuration and reports every problem at once.
// Secret values are never echoed back in the messages.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("data-dir: must not be empty")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database-url: must be a postgres:// URL (the value is not shown because it may hold a password)")
		}
	}
	if c.MasterKey != "" {
		if len(c.MasterKey) != 64 || strings.Trim(strings.ToLower(c.MasterKey), "0123456789abcdef") != "" {
			bad("master-key: must be 64 hex digits (256 bits); generate one with: openssl rand -hex 32")
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen: %q is not host:port", c.Listen)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("base-url: %q is not an http(s) URL", c.BaseURL)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level: %q is not debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format: %q is not text or json", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout: must be positive")
	}
	if c.MaxBodyBytes < 1024 {
		bad("max-body-bytes: must be at least 1024")
	}
	if s := strings.ToLower(c.SQLiteSynchronous); s != "full" && s != "normal" {
		bad("sqlite-synchronous: must be full or normal")
	}
	if c.MaxUploadBytes < 1024 || c.MaxUploadBytes > 1<<30 {
		bad("max-upload-bytes: must be between 1024 and 1073741824")
	}
	if c.SessionIdle <= 0 || c.SessionLifetime <= 0 || c.SessionIdle > c.SessionLifetime {
		bad("session-idle and session-lifetime: must be positive, idle no longer than lifetime")
	}
	switch c.SMTPTLS {
	case "mandatory", "opportunistic", "none":
	default:
		bad("smtp-tls: %q is not mandatory, opportunistic or none", c.SMTPTLS)
	}
	if c.SMTPPort < 0 || c.SMTPPort > 65535 {
		bad("smtp-port: %d is not a port number", c.SMTPPort)
	}
	if c.SMTPHost != "" && c.SMTPFrom == "" {
		bad("smtp-from: must be set when smtp-host is")
	}
	for _, u := range []struct{ name, v string }{{"nppes-url", c.NPPESURL}, {"nursys-url", c.NursysURL}} {
		if u.v == "" {
			continue
		}
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil {
			bad("%s: is not an http(s) URL without credentials (the value is not shown)", u.name)
		}
	}
	if c.NPPESURL == "" {
		bad("nppes-url: must not be empty")
	}
	if c.NursysURL != "" && (c.NursysUsername == "" || c.NursysPassword == "") {
		bad("nursys-username and nursys-password: must be set when nursys-url is")
	}
	for _, s := range []struct {
		name string
		s3   S3
	}{{"blob-s3", c.BlobS3}, {"backup-s3", c.BackupS3}} {
		if s.s3.Set() && s.s3.Endpoint == "" {
			bad("%s-endpoint: must be set when %s-bucket is", s.name, s.name)
		}
		if s.s3.Prefix != "" && (strings.HasPrefix(s.s3.Prefix, "/") || !strings.HasSuffix(s.s3.Prefix, "/")) {
			bad("%s-prefix: must end with / and not start with one, e.g. credtrack/", s.name)
		}
	}
	if c.BackupDir != "" && c.BackupS3.Set() {
		bad("backup-dir and backup-s3-bucket: choose one place for backups")
	}
	if c.BackupInterval < time.Minute {
		bad("backup-interval: must be at least 1m")
	}
	if c.BackupRetention < 7*24*time.Hour {
		bad("backup-retention: must be at least 168h (seven days)")
	}
	if c.BackupKeep < 1 {
		bad("backup-keep: must be at least 1")
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics-listen: %q is not host:port", c.MetricsListen)
		} else if samePort(c.MetricsListen, c.Listen) || c.HTTPListen != "" && samePort(c.MetricsListen, c.HTTPListen) {
			bad("metrics-listen: %q must differ from listen and http-listen (the metrics get a port of their own)", c.MetricsListen)
		}
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		bad("trusted-proxies: %v", err)
	}
	errs = append(errs, c.validateTLS(), c.validateSecurityTxt())
	return errors.Join(errs...)
}

// ParseTrustedProxies parses the trusted-proxies setting: CIDR ranges
// ("10.0.1.0/24", "fd00::/8") or single addresses, separated by commas.
// Host bits are cleared ("10.0.1.7/24" is 10.0.1.0/24). A range that holds
// every address (0.0.0.0/0, ::/0) is refused: it would let any client
// choose the address it is throttled and audited under.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for v := range strings.SplitSeq(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(v, "/") {
			p, err = netip.ParsePrefix(v)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(v); err == nil && a.Zone() != "" {
				err = errors.New("zone")
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not a CIDR range such as 10.0.1.0/24 or an IP address", v))
			continue
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 is how some write an IPv4 range; peers
			// are compared as IPv4, so store it as one.
			if p.Bits() < 96 {
				errs = append(errs, fmt.Errorf("%q mixes IPv4-mapped and IPv6 addresses", v))
				continue
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.Bits() == 0 {
			errs = append(errs, fmt.Errorf("%q trusts every address, so any client could forge its own; list the proxies' addresses", v))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// TLSMode reports how serve terminates TLS: "files", "acme" or "" (plain
// HTTP, for localhost or behind a TLS-terminating proxy).
func (c *Config) TLSMode() string {
	switch {
	case c.ACMEDomains != "":
		return "acme"
	case c.TLSCert != "" || c.TLSKey != "":
		return "files"
	}
	return ""
}

// Domains returns ACMEDomains as a list, trimmed and lower-cased.
func (c *Config) Domains() []string {
	var out []string
	for d := range strings.SplitSeq(c.ACMEDomains, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// CanonicalHost is the host (with port when not 443) plain HTTP redirects
// to: the host of BaseURL. It is never taken from a request.
func (c *Config) CanonicalHost() string {
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Port() == "443" {
		return u.Hostname()
	}
	return u.Host
}

func (c *Config) validateTLS() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	mode := c.TLSMode()
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert and tls-key: set both or neither")
	}
	if c.ACMEDomains != "" && (c.TLSCert != "" || c.TLSKey != "") {
		bad("acme-domains: use either ACME or tls-cert/tls-key, not both")
	}
	// The files are opened now so that a typo is reported with the other
	// problems, before the database is opened or migrated; their contents
	// are checked when serve loads them, still before it listens.
	for _, f := range []struct{ name, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}, {"acme-ca-file", c.ACMECAFile}} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			bad("%s: cannot read %s: %v", f.name, f.path, err)
		}
	}
	if c.ACMEDomains == "" {
		// Settings of a mode that is off are a misunderstanding (a
		// misspelt acme-domains, a half-removed configuration), not
		// something to ignore silently.
		for _, f := range []struct{ name, v string }{{"acme-email", c.ACMEEmail}, {"acme-directory", c.ACMEDirectory},
			{"acme-ca-file", c.ACMECAFile}, {"acme-cache-dir", c.ACMECacheDir}} {
			if f.v != "" {
				bad("%s: only used with acme-domains", f.name)
			}
		}
	} else if len(c.Domains()) == 0 {
		bad("acme-domains: lists no host name")
	}
	for _, d := range c.Domains() {
		if _, err := netip.ParseAddr(d); err == nil {
			bad("acme-domains: %q is an IP address; list the host names the site is reached by", d)
		} else if !validHostName(d) {
			bad("acme-domains: %q is not a host name (letters, digits, hyphens and dots; no wildcards or ports)", d)
		}
	}
	if c.ACMEEmail != "" {
		if a, err := mail.ParseAddress(c.ACMEEmail); err != nil || a.Name != "" || a.Address != c.ACMEEmail {
			bad("acme-email: %q is not a plain email address such as ops@example.org", c.ACMEEmail)
		}
	}
	if c.ACMEDirectory != "" {
		if u, err := url.Parse(c.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("acme-directory: %q is not an https URL", c.ACMEDirectory)
		}
	}
	if c.ACMECacheDir != "" {
		if st, err := os.Stat(c.ACMECacheDir); err == nil && !st.IsDir() {
			bad("acme-cache-dir: %s is not a directory", c.ACMECacheDir)
		}
	}
	if c.HSTSMaxAge < 0 {
		bad("hsts-max-age: must not be negative")
	}
	if mode == "" {
		if c.HTTPListen != "" {
			bad("http-listen: only used with HTTPS on (tls-cert/tls-key or acme-domains)")
		}
		return errors.Join(errs...)
	}
	if c.DevInsecureCookies {
		bad("dev-insecure-cookies: not allowed with HTTPS on")
	}
	// The redirect target must come from configuration, never from the
	// request's Host header, so base-url is required and must be https.
	u, err := url.Parse(c.BaseURL)
	if c.BaseURL == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		bad("base-url: must be the canonical https:// URL when HTTPS is on (plain HTTP redirects there)")
	} else if mode == "acme" && len(c.Domains()) > 0 && !slices.Contains(c.Domains(), strings.ToLower(u.Hostname())) {
		// Plain HTTP would redirect to a name ACME gets no certificate for.
		bad("base-url: its host %q is not in acme-domains, so it would have no certificate", u.Hostname())
	}
	if c.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
			bad("http-listen: %q is not host:port", c.HTTPListen)
		} else if samePort(c.HTTPListen, c.Listen) {
			bad("http-listen: %q must differ from listen %q (one port cannot serve both HTTPS and the plain-HTTP redirect)", c.HTTPListen, c.Listen)
		}
	}
	return errors.Join(errs...)
}

// readable reports why path cannot be opened for reading, without the
// path repeated (the caller names it).
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}

// validHostName reports whether d is a DNS host name: dot-separated
// labels of letters, digits and inner hyphens, at most 63 bytes each and
// 253 in all.
func validHostName(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 && d != "localhost" {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// samePort reports whether two listen addresses would claim the same TCP
// port: equal ports (other than 0, "any free port") on equal hosts, or on
// hosts of which one is the wildcard address.
func samePort(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || wild(ha) || wild(hb)
}

// ACMECache is the ACME cache directory: ACMECacheDir, or DataDir/acme.
func (c *Config) ACMECache() string {
	if c.ACMECacheDir != "" {
		return c.ACMECacheDir
	}
	return filepath.Join(c.DataDir, "acme")
}

// ParseSecurityExpires parses security-expires: a date (taken as the end
// of that day, UTC) or an RFC 3339 time.
func ParseSecurityExpires(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Second).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a date (2027-06-30) or RFC 3339 time: %q", s)
	}
	return t.UTC(), nil
}

func (c *Config) validateSecurityTxt() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.SecurityContact == "" {
		if c.SecurityExpires != "" || c.SecurityPolicy != "" {
			bad("security-contact: required when security-expires or security-policy is set")
		}
		return errors.Join(errs...)
	}
	for v := range strings.SplitSeq(c.SecurityContact, ",") {
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || (u.Scheme != "mailto" && u.Scheme != "https" && u.Scheme != "tel") || (u.Opaque == "" && u.Host == "") {
			bad("security-contact: %q is not a mailto:, https: or tel: URI", v)
		}
	}
	if c.SecurityExpires == "" {
		bad("security-expires: required with security-contact (RFC 9116)")
	} else if t, err := ParseSecurityExpires(c.SecurityExpires); err != nil {
		bad("security-expires: %v", err)
	} else if !t.After(time.Now()) {
		bad("security-expires: %s has passed; security.txt must not be served expired", c.SecurityExpires)
	}
	if c.SecurityPolicy != "" {
		if u, err := url.Parse(c.SecurityPolicy); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("security-policy: %q is not an https URL", c.SecurityPolicy)
		}
	}
	for l := range strings.SplitSeq(c.SecurityLanguages, ",") {
		l = strings.TrimSpace(l)
		if l != "" && strings.Trim(strings.ToLower(l), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			bad("security-languages: %q is not a language tag", l)
		}
	}
	return errors.Join(errs...)
}

// PublicURL returns BaseURL, or http://Listen when it is not set.
func (c *Config) PublicURL() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return "http://" + c.Listen
}

// SQLitePath is the database file of the embedded backend.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "credtrack.db") }

// BlobDir is the directory of the local document blob store.
func (c *Config) BlobDir() string { return filepath.Join(c.DataDir, "blobs") }

// KeyFile is where a generated master key is kept.
func (c *Config) KeyFile() string { return filepath.Join(c.DataDir, "master.key") }
