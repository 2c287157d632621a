package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// with the given serial to certFile and keyFile and returns it.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	return writeCertUntil(t, certFile, keyFile, serial, time.Now().Add(24*time.Hour))
}

// writeCertUntil is writeCert with a chosen NotAfter.
func writeCertUntil(t *testing.T, certFile, keyFile string, serial int64, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "credtrack test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// startTLS serves h over HTTPS with cfg on a free port.
func startTLS(t *testing.T, h http.Handler, cfg *tls.Config) string {
	t.Helper()
	s, err := Listen(Options{Addr: "127.0.0.1:0", Handler: h, TLSConfig: cfg, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s.Addr().String()
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func discardLogger() *slog.Logger { return quietLog() }

// servedSerial connects and returns the serial of the certificate served.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestTLSVersionsAndSuites(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cf, kf, 1)
	r, err := NewCertReloader(cf, kf, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	addr := startTLS(t, SecurityHeaders(http.NotFoundHandler(), time.Hour), TLSConfig(r.GetCertificate))

	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
		if err == nil {
			t.Errorf("a %s handshake succeeded", tls.VersionName(v))
		}
	}
	// Weak TLS 1.2 suites: RSA key exchange, CBC, 3DES.
	for _, s := range tls.InsecureCipherSuites() {
		_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{s.ID}})
		if err == nil {
			t.Errorf("insecure suite %s accepted", s.Name)
		}
	}
	for _, id := range []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256} {
		_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{id}})
		if err == nil {
			t.Errorf("non-ECDHE-AEAD suite %s accepted", tls.CipherSuiteName(id))
		}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
		if err != nil {
			t.Errorf("%s refused: %v", tls.VersionName(v), err)
			continue
		}
		c.Close()
	}

	// HSTS is sent over TLS.
	client := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=3600" {
		t.Errorf("HSTS = %q", got)
	}
	if res.ProtoMajor != 2 {
		t.Errorf("HTTP/%d, want HTTP/2 over TLS", res.ProtoMajor)
	}
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cf, kf, 1)
	if _, err := NewCertReloader(filepath.Join(dir, "none.pem"), kf, quietLog()); err == nil ||
		!strings.Contains(err.Error(), "none.pem") {
		t.Errorf("missing file: %v", err)
	}
	r, err := NewCertReloader(cf, kf, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	r.CheckEvery = -1 // look at the files on every handshake
	addr := startTLS(t, http.NotFoundHandler(), TLSConfig(r.GetCertificate))
	if got := servedSerial(t, addr); got != 1 {
		t.Fatalf("serial = %d, want 1", got)
	}

	t.Run("changed files are picked up", func(t *testing.T) {
		writeCert(t, cf, kf, 2)
		if got := servedSerial(t, addr); got != 2 {
			t.Errorf("serial after renewal = %d, want 2", got)
		}
	})
	t.Run("a broken pair keeps the old certificate", func(t *testing.T) {
		// A renewal caught half-way: the new certificate, the old key.
		old, _ := os.ReadFile(kf)
		writeCert(t, cf, kf, 3)
		os.WriteFile(kf, old, 0o600)
		if got := servedSerial(t, addr); got != 2 {
			t.Errorf("serial with a mismatched pair = %d, want the previous 2", got)
		}
		if err := r.Reload(); err == nil || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("Reload of a mismatched pair: %v", err)
		}
	})
	t.Run("Reload (SIGHUP) loads at once", func(t *testing.T) {
		r.CheckEvery = time.Hour // only Reload may notice now
		writeCert(t, cf, kf, 4)
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		if got := servedSerial(t, addr); got != 4 {
			t.Errorf("serial after Reload = %d, want 4", got)
		}
	})
}

func TestRedirectHTTPS(t *testing.T) {
	h := SecurityHeaders(RedirectHTTPS("credtrack.example.org"), time.Hour)
	for _, tt := range []struct{ method, target, host, want string }{
		{"GET", "/providers?q=smith", "credtrack.example.org", "https://credtrack.example.org/providers?q=smith"},
		{"GET", "/", "evil.example.com", "https://credtrack.example.org/"},
		{"POST", "/login", "evil.example.com:80", "https://credtrack.example.org/login"},
		{"GET", "//evil.example.com/x", "evil.example.com", "https://credtrack.example.org//evil.example.com/x"},
		{"GET", "http://evil.example.com/abs", "evil.example.com", "https://credtrack.example.org/abs"},
	} {
		req := httptest.NewRequest(tt.method, tt.target, nil)
		req.Host = tt.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != tt.want {
			t.Errorf("%s %s (Host %s) → %d %q, want 301 %q", tt.method, tt.target, tt.host, w.Code, w.Header().Get("Location"), tt.want)
		}
		if w.Header().Get("Strict-Transport-Security") != "" {
			t.Error("HSTS sent over plain HTTP")
		}
		if len(w.Result().Cookies()) != 0 {
			t.Error("the redirect sets a cookie")
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /asset", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
	})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	h := SecurityHeaders(Wrap(mux, nil, discardLogger()), time.Hour)
	for _, path := range []string{"/asset", "/nowhere", "/boom"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		hd := w.Header()
		csp := hd.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP = %q", path, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, hd)
		}
		if hd.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
		want := "no-store"
		if path == "/asset" {
			want = "public, max-age=60"
		}
		if hd.Get("Cache-Control") != want {
			t.Errorf("%s: Cache-Control = %q, want %q", path, hd.Get("Cache-Control"), want)
		}
	}
}

func TestSecurityTxt(t *testing.T) {
	exp := time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)
	s := SecurityTxt{Contact: []string{"mailto:security@example.org", "https://example.org/report"}, Expires: exp,
		Policy: "https://example.org/policy", Languages: []string{"en", "de"},
		Canonical: "https://credtrack.example.org/.well-known/security.txt"}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/security.txt", nil))
	want := "Contact: mailto:security@example.org\nContact: https://example.org/report\nExpires: 2027-06-30T23:59:59Z\n" +
		"Policy: https://example.org/policy\nPreferred-Languages: en, de\nCanonical: https://credtrack.example.org/.well-known/security.txt\n"
	if w.Body.String() != want {
		t.Errorf("security.txt =\n%s\nwant\n%s", w.Body, want)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestPassAndAuditMetrics(t *testing.T) {
	m := NewMetrics(nil)
	done := m.TimePass("reminders")
	done(nil)
	m.ObservePass("screening", 3*time.Second, errors.New("feed down"))
	m.ObserveAuditWrite(2 * time.Millisecond)
	var nilM *Metrics
	nilM.ObservePass("x", time.Second, nil) // nil records nothing and does not panic
	nilM.ObserveJob("x", time.Second, nil)
	nilM.ObserveAuditWrite(time.Second)
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`credtrack_pass_duration_seconds_count{outcome="ok",pass="reminders"} 1`,
		`credtrack_pass_duration_seconds_count{outcome="failed",pass="screening"} 1`,
		`credtrack_audit_write_seconds_count 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
