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
