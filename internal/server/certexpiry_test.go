package server

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// certExpiry returns credtrack_tls_certificate_expiry_seconds by name.
func certExpiry(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "credtrack_tls_certificate_expiry_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestCertificateExpiryMetric: the metric is the time from the scrape to
// the served certificate's NotAfter, follows a reload of the files, and
// for ACME follows the certificate handshakes are served, leaving out
// challenge certificates and names that are not configured.
func TestCertificateExpiryMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if got := certExpiry(t, reg); len(got) != 0 {
		t.Fatalf("series before any certificate: %v", got)
	}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	m.certs.now = func() time.Time { return now }

	// Files: loaded, then renewed and reloaded.
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCertUntil(t, cf, kf, 1, now.Add(10*24*time.Hour))
	r, err := NewCertReloader(cf, kf, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	r.OnLoad(func(leaf *x509.Certificate) { m.ObserveCertificate("credtrack.example.org", leaf) })
	want := first.NotAfter.Sub(now).Seconds()
	if got := certExpiry(t, reg)["credtrack.example.org"]; got != want {
		t.Errorf("after load: %v, want %v (10 days)", got, want)
	}
	renewed := writeCertUntil(t, cf, kf, 2, now.Add(90*24*time.Hour))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, want := certExpiry(t, reg)["credtrack.example.org"], renewed.NotAfter.Sub(now).Seconds(); got != want {
		t.Errorf("after reload: %v, want %v (90 days)", got, want)
	}
	// The figure counts down with the clock, and goes negative.
	now = now.Add(100 * 24 * time.Hour)
	if got := certExpiry(t, reg)["credtrack.example.org"]; got >= 0 {
		t.Errorf("an expired certificate: %v, want negative", got)
	}

	// ACME: what GetCertificate serves.
	m2reg := prometheus.NewRegistry()
	m2 := NewMetrics(m2reg)
	serving := writeCertUntil(t, cf, kf, 3, time.Now().Add(60*24*time.Hour))
	challenge := writeCertUntil(t, cf, kf, 4, time.Now().Add(time.Hour))
	get := m2.WatchCertificates(func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		leaf := serving
		if len(hello.SupportedProtos) > 0 && hello.SupportedProtos[0] == "acme-tls/1" {
			leaf = challenge
		}
		// No Leaf: the wrapper parses the DER itself.
		return &tls.Certificate{Certificate: [][]byte{leaf.Raw}}, nil
	}, []string{"credtrack.example.org"})
	for _, hello := range []*tls.ClientHelloInfo{
		{ServerName: "credtrack.example.org", SupportedProtos: []string{"acme-tls/1"}},
		{ServerName: "other.example.org"},
	} {
		if _, err := get(hello); err != nil {
			t.Fatal(err)
		}
	}
	if got := certExpiry(t, m2reg); len(got) != 0 {
		t.Errorf("a challenge or unknown name was recorded: %v", got)
	}
	if _, err := get(&tls.ClientHelloInfo{ServerName: "Credtrack.Example.org."}); err != nil {
		t.Fatal(err)
	}
	got := certExpiry(t, m2reg)["credtrack.example.org"]
	if days := got / 86400; days < 59.9 || days > 60 {
		t.Errorf("ACME certificate expires in %v days, want 60", days)
	}
	// A nil *Metrics wraps nothing.
	var nilM *Metrics
	if nilM.WatchCertificates(nil, nil) != nil {
		t.Error("nil metrics wrapped the function")
	}
	nilM.ObserveCertificate("x", serving)
}
