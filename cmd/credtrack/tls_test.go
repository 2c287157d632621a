package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCA is a throw-away certificate authority for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "credtrack test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a server certificate for localhost and 127.0.0.1 with the
// given serial, signed by ca, to certFile and keyFile.
func (ca *testCA) issue(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	ca.issueUntil(t, certFile, keyFile, serial, time.Now().Add(24*time.Hour))
}

// issueUntil is issue with a chosen NotAfter.
func (ca *testCA) issueUntil(t *testing.T, certFile, keyFile string, serial int64, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// startTLSServer runs `credtrack ARGS` (serve or demo) in-process and
// returns the HTTPS address and the plain-HTTP redirect address ("" when
// there is none).
func startTLSServer(t *testing.T, args ...string) (*runningServer, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	ready, redirect := make(chan string, 1), make(chan string, 1)
	m := &Main{Stdin: strings.NewReader(""), Stdout: s.Stdout, Stderr: s.Stderr, Getenv: func(string) string { return "" },
		Ready: func(addr string) { ready <- addr }, RedirectReady: func(addr string) { redirect <- addr }}
	go func() { s.done <- m.Run(ctx, args) }()
	var addr, raddr string
	select {
	case addr = <-ready:
	case code := <-s.done:
		t.Fatalf("%v exited with %d before serving: %s", args, code, s.Stderr.String())
	case <-time.After(120 * time.Second):
		t.Fatalf("%v did not start: %s", args, s.Stderr.String())
	}
	select {
	case raddr = <-redirect:
	default:
	}
	s.URL = "https://" + addr
	t.Cleanup(func() { s.Stop(t) })
	return s, addr, raddr
}

// TestServeTLSFiles: serve with a certificate and key answers HTTPS only
// with TLS 1.2+, sends HSTS, redirects plain HTTP to the configured host
// whatever the Host header says, and picks up a renewed certificate on
// SIGHUP.
func TestServeTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, cf, kf, 100)
	s, addr, raddr := startTLSServer(t, "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--tls-cert", cf, "--tls-key", kf, "--http-listen", "127.0.0.1:0", "--base-url", "https://credtrack.example.org")
	if raddr == "" {
		t.Fatal("no redirect listener")
	}
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := client.Get(s.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("GET /login over HTTPS = %d, HSTS %q", res.StatusCode, res.Header.Get("Strict-Transport-Security"))
	}
	for _, c := range res.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure over HTTPS", c.Name)
		}
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}

	// Plain HTTP: a 301 to the configured host, never the Host header.
	req, _ := http.NewRequest("GET", "http://"+raddr+"/providers?q=x", nil)
	req.Host = "evil.example.com"
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "https://credtrack.example.org/providers?q=x" {
		t.Errorf("plain HTTP = %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}

	serial := func() int64 {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 100 {
		t.Fatalf("serial = %d", got)
	}
	// /metrics (from loopback) reports the seconds left on the served
	// certificate, under the canonical host name.
	expiryDays := func() float64 {
		t.Helper()
		res, err := client.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		const series = `credtrack_tls_certificate_expiry_seconds{name="credtrack.example.org"} `
		_, v, ok := strings.Cut(string(body), series)
		if !ok {
			t.Fatalf("/metrics = %d without %s", res.StatusCode, series)
		}
		v, _, _ = strings.Cut(v, "\n")
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatal(err)
		}
		return secs / 86400
	}
	if d := expiryDays(); d < 0.9 || d > 1 {
		t.Errorf("certificate expiry = %.3f days, want about 1", d)
	}
	// Renew the files and send SIGHUP: the next handshake has the new
	// certificate. serve's handler is registered, so the signal does not
	// end the test process. The reload happens in serve's goroutine, so
	// wait for it (bounded), then compare.
	ca.issueUntil(t, cf, kf, 101, time.Now().Add(90*24*time.Hour))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); serial() != 101 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := serial(); got != 101 {
		t.Errorf("serial after SIGHUP = %d, want 101", got)
	}
	if d := expiryDays(); d < 89.9 || d > 90 {
		t.Errorf("certificate expiry after the reload = %.3f days, want about 90", d)
	}
}

// TestServeTLSConfigErrors: HTTPS settings are checked before anything
// starts.
func TestServeTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "x.pem"}, "tls-cert and tls-key"},
		{[]string{"--tls-cert", "x.pem", "--tls-key", "y.pem"}, "base-url: must be the canonical https://"},
		{[]string{"--tls-cert", "x.pem", "--tls-key", "y.pem", "--base-url", "https://h.example.org"}, "x.pem"},
		{[]string{"--acme-domains", "h.example.org", "--tls-cert", "x.pem", "--tls-key", "y.pem", "--base-url", "https://h.example.org"}, "not both"},
		{[]string{"--http-listen", "127.0.0.1:0"}, "http-listen: only used with HTTPS"},
		{[]string{"--acme-email", "ops@example.org"}, "acme-email: only used with acme-domains"},
		{[]string{"--acme-domains", "h.example.org", "--base-url", "https://other.example.org"}, "not in acme-domains"},
		{[]string{"--tls-cert", "x.pem", "--tls-key", "y.pem", "--base-url", "https://h.example.org",
			"--listen", "127.0.0.1:8443", "--http-listen", "127.0.0.1:8443"}, "must differ from listen"},
		{[]string{"--trusted-proxies", "0.0.0.0/0"}, "trusted-proxies: \"0.0.0.0/0\" trusts every address"},
		{[]string{"--security-contact", "mailto:s@example.org"}, "security-expires: required"},
		{[]string{"--security-contact", "mailto:s@example.org", "--security-expires", "2020-01-01"}, "has passed"},
	} {
		data := filepath.Join(dir, "d")
		code, _, stderr := run(t, nil, "", append([]string{"serve", "--data-dir", data}, tt.args...)...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, stderr, tt.want)
		}
		// Refused before anything started: no data directory, no database.
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("%v: the data directory was created (%v)", tt.args, err)
		}
	}
}
