package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTLSScan scans serve's HTTPS listener with sslscan (Debian's package,
// installed by .ci/run) and fails on any SSLv2/SSLv3/TLS 1.0/TLS 1.1
// support and on any accepted suite that is not ECDHE (or TLS 1.3) with an
// AEAD cipher. Elsewhere it is skipped when sslscan is not installed.
func TestTLSScan(t *testing.T) {
	sslscan, err := exec.LookPath("sslscan")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sslscan is not installed; .ci/run installs it (apt-get install sslscan)")
		}
		t.Skip("sslscan is not installed (apt-get install sslscan)")
	}
	dir := t.TempDir()
	ca := newTestCA(t)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, cf, kf, 1)
	_, addr, _ := startTLSServer(t, "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--tls-cert", cf, "--tls-key", kf, "--base-url", "https://credtrack.example.org")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sslscan, "--no-colour", "--no-heartbleed", "--no-check-certificate", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("sslscan: %v\n%s", err, out)
	}
	text := string(out)
	t.Logf("sslscan:\n%s", text)
	protocols := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)`).FindAllStringSubmatch(text, -1) {
		protocols[m[1]] = m[2] == "enabled"
	}
	for _, p := range []string{"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"} {
		if protocols[p] {
			t.Errorf("%s is enabled", p)
		}
	}
	if !protocols["TLSv1.2"] || !protocols["TLSv1.3"] {
		t.Errorf("TLS 1.2 and 1.3 must be enabled: %v", protocols)
	}
	suites := regexp.MustCompile(`(?m)^(?:Preferred|Accepted)\s+(\S+)\s+\d+\s+bits\s+(\S+)`).FindAllStringSubmatch(text, -1)
	if len(suites) == 0 {
		t.Fatal("sslscan listed no accepted cipher suite")
	}
	for _, s := range suites {
		version, suite := s[1], s[2]
		if version == "TLSv1.3" {
			continue // all TLS 1.3 suites are AEAD with (EC)DHE
		}
		aead := strings.Contains(suite, "GCM") || strings.Contains(suite, "CHACHA20-POLY1305")
		if version != "TLSv1.2" || !strings.HasPrefix(suite, "ECDHE-") || !aead {
			t.Errorf("weak suite accepted: %s %s", version, suite)
		}
	}
}
