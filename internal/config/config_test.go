package config_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack/internal/config"
)

func load(t *testing.T, env map[string]string, args ...string) (config.Config, error) {
	t.Helper()
	c := config.Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := c.Load(fs, args, func(k string) string { return env[k] })
	return c, err
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "credtrack-data" || c.Listen != "127.0.0.1:8080" || c.SessionIdle != 30*time.Minute ||
		c.SessionLifetime != 12*time.Hour || c.PublicURL() != "http://127.0.0.1:8080" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestEnvFlagsAndFiles(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	c, err := load(t, map[string]string{
		"CREDTRACK_LISTEN":          "0.0.0.0:9000",
		"CREDTRACK_SESSION_IDLE":    "15m",
		"CREDTRACK_MASTER_KEY_FILE": keyFile,
		"CREDTRACK_DATA_DIR":        "/from/env",
	}, "--data-dir", "/from/flag")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.SessionIdle != 15*time.Minute || c.DataDir != "/from/flag" ||
		c.MasterKey != strings.Repeat("ab", 32) {
		t.Fatalf("loaded = %+v", c)
	}
}

func TestAllProblemsAtOnceWithoutSecrets(t *testing.T) {
	_, err := load(t, map[string]string{"CREDTRACK_SESSION_IDLE": "soon"},
		"--listen", "nowhere", "--log-format", "xml", "--database-url", "mysql://u:hunter2@h/db",
		"--master-key", "short", "--base-url", "ftp://x")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"CREDTRACK_SESSION_IDLE", "listen", "log-format", "database-url", "master-key", "base-url"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Error("a secret is echoed")
	}
	if _, err := load(t, map[string]string{"CREDTRACK_DATABASE_URL_FILE": "/no/such/file"}); err == nil ||
		!strings.Contains(err.Error(), "database-url-file") {
		t.Errorf("missing _FILE: %v", err)
	}
}

// TestTrustedProxies: the trusted-proxies setting takes CIDR ranges and
// single addresses from the flag or CREDTRACK_TRUSTED_PROXIES, and refuses
// anything else, and a range that trusts everyone, before serve starts.
func TestTrustedProxies(t *testing.T) {
	c, err := load(t, map[string]string{"CREDTRACK_TRUSTED_PROXIES": "10.0.1.7/24, 127.0.0.1,fd00::/8,::ffff:192.0.2.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := config.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if want := "10.0.1.0/24 127.0.0.1/32 fd00::/8 192.0.2.0/24"; strings.Join(got, " ") != want {
		t.Errorf("parsed %v, want %s", got, want)
	}
	if ps, err := config.ParseTrustedProxies(""); err != nil || len(ps) != 0 {
		t.Errorf("empty: %v %v", ps, err)
	}
	for _, tt := range []struct{ v, want string }{
		{"10.0.0.0/33", `"10.0.0.0/33" is not a CIDR range`},
		{"proxy.internal", `"proxy.internal" is not a CIDR range`},
		{"10.0.0.0/8;10.1.0.0/16", "is not a CIDR range"},
		{"fe80::1%eth0", "is not a CIDR range"},
		{"0.0.0.0/0", "trusts every address"},
		{"10.0.0.0/8, ::/0", "trusts every address"},
		{"::ffff:0.0.0.0/96", "trusts every address"},
	} {
		_, err := load(t, nil, "--trusted-proxies", tt.v)
		if err == nil || !strings.Contains(err.Error(), "trusted-proxies: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("--trusted-proxies %q: %v, want %q", tt.v, err, tt.want)
		}
	}
}

// TestTLSCombinations: every combination of the HTTPS settings that
// cannot work is refused with an error naming the setting, before
// anything starts; the combinations that work pass.
func TestTLSCombinations(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	for _, f := range []string{cert, key, ca} {
		if err := os.WriteFile(f, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.pem")
	files := []string{"--tls-cert", cert, "--tls-key", key}
	acme := []string{"--acme-domains", "credtrack.example.org"}
	base := []string{"--base-url", "https://credtrack.example.org"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, args := range [][]string{
		nil,
		{"--base-url", "https://credtrack.example.org"}, // TLS in a proxy in front
		cat(files, base),
		cat(files, base, []string{"--http-listen", "0.0.0.0:80", "--listen", "0.0.0.0:443"}),
		cat(files, base, []string{"--http-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"}),
		cat(files, base, []string{"--http-listen", "127.0.0.1:8443", "--listen", "127.0.0.2:8443"}),
		cat(files, []string{"--base-url", "https://credtrack.example.org:8443/"}),
		cat(acme, base),
		cat([]string{"--acme-domains", "Credtrack.example.org, www.example.org,"}, base, []string{"--acme-email", "ops@example.org",
			"--acme-directory", "https://acme.internal/dir", "--acme-ca-file", ca, "--acme-cache-dir", dir, "--http-listen", ":80", "--listen", ":443"}),
		cat([]string{"--acme-domains", "localhost", "--base-url", "https://localhost:8443"}),
		cat(files, base, []string{"--hsts-max-age", "0"}),
	} {
		if _, err := load(t, nil, args...); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", cert}, "tls-cert and tls-key: set both or neither"},
		{[]string{"--tls-key", key}, "tls-cert and tls-key: set both or neither"},
		{cat(files, acme, base), "acme-domains: use either ACME or tls-cert/tls-key, not both"},
		{cat([]string{"--tls-cert", missing, "--tls-key", key}, base), "tls-cert: cannot read " + missing + ": no such file"},
		{cat([]string{"--tls-cert", cert, "--tls-key", dir}, base), "tls-key: cannot read " + dir + ": is a directory"},
		{cat(acme, base, []string{"--acme-ca-file", missing}), "acme-ca-file: cannot read"},
		// ACME settings without ACME.
		{[]string{"--acme-email", "ops@example.org"}, "acme-email: only used with acme-domains"},
		{[]string{"--acme-directory", "https://acme.internal/dir"}, "acme-directory: only used with acme-domains"},
		{[]string{"--acme-ca-file", ca}, "acme-ca-file: only used with acme-domains"},
		{[]string{"--acme-cache-dir", dir}, "acme-cache-dir: only used with acme-domains"},
		{cat(files, base, []string{"--acme-email", "ops@example.org"}), "acme-email: only used with acme-domains"},
		// ACME values.
		{cat([]string{"--acme-domains", " , "}, base), "acme-domains: lists no host name"},
		{cat([]string{"--acme-domains", "*.example.org"}, base), `acme-domains: "*.example.org" is not a host name`},
		{cat([]string{"--acme-domains", "credtrack.example.org:443"}, base), "is not a host name"},
		{cat([]string{"--acme-domains", "https://credtrack.example.org"}, base), "is not a host name"},
		{cat([]string{"--acme-domains", "credtrack"}, base), `"credtrack" is not a host name`},
		{cat([]string{"--acme-domains", "-x.example.org"}, base), "is not a host name"},
		{cat([]string{"--acme-domains", "cred_track.example.org"}, base), "is not a host name"},
		{cat([]string{"--acme-domains", "203.0.113.7", "--base-url", "https://203.0.113.7"}), "is an IP address"},
		{cat(acme, base, []string{"--acme-email", "Ops <ops@example.org>"}), "acme-email: \"Ops <ops@example.org>\" is not a plain email address"},
		{cat(acme, base, []string{"--acme-email", "ops"}), "acme-email:"},
		{cat(acme, base, []string{"--acme-directory", "http://acme.internal/dir"}), "acme-directory: \"http://acme.internal/dir\" is not an https URL"},
		{cat(acme, base, []string{"--acme-cache-dir", cert}), "acme-cache-dir: " + cert + " is not a directory"},
		// The canonical https host.
		{files, "base-url: must be the canonical https:// URL when HTTPS is on"},
		{cat(files, []string{"--base-url", "http://credtrack.example.org"}), "base-url: must be the canonical https:// URL"},
		{cat(acme, []string{"--base-url", "https://other.example.org"}), `base-url: its host "other.example.org" is not in acme-domains`},
		{cat(files, base, []string{"--dev-insecure-cookies"}), "dev-insecure-cookies: not allowed with HTTPS on"},
		{cat(files, base, []string{"--hsts-max-age", "-1s"}), "hsts-max-age: must not be negative"},
		// The plain-HTTP redirect listener.
		{[]string{"--http-listen", "127.0.0.1:80"}, "http-listen: only used with HTTPS on"},
		{cat(files, base, []string{"--http-listen", "80"}), `http-listen: "80" is not host:port`},
		{cat(files, base, []string{"--http-listen", "127.0.0.1:8443", "--listen", "127.0.0.1:8443"}), "http-listen: \"127.0.0.1:8443\" must differ from listen"},
		{cat(files, base, []string{"--http-listen", ":8443", "--listen", "127.0.0.1:8443"}), "must differ from listen"},
		{cat(files, base, []string{"--http-listen", "127.0.0.1:443", "--listen", "0.0.0.0:443"}), "must differ from listen"},
	} {
		_, err := load(t, nil, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v\nwant %q", tt.args, err, tt.want)
		}
	}
}

// TestMetricsListen: the metrics listener is a host:port of its own.
func TestMetricsListen(t *testing.T) {
	if _, err := load(t, nil, "--metrics-listen", "10.0.1.10:9100"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-listen", "9100"}, `metrics-listen: "9100" is not host:port`},
		{[]string{"--metrics-listen", "127.0.0.1:8080"}, "metrics-listen: \"127.0.0.1:8080\" must differ from listen"},
		{[]string{"--metrics-listen", ":8080"}, "must differ from listen"},
	} {
		if _, err := load(t, nil, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.args, err, tt.want)
		}
	}
}
