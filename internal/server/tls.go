package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"
)

// CipherSuites are the TLS 1.2 suites credtrack accepts: ECDHE key
// exchange (forward secrecy) with an AEAD cipher, nothing else. No RSA key
// exchange, no CBC, no 3DES or RC4, no SHA-1 MACs. TLS 1.3 suites are all
// AEAD and not configurable in crypto/tls; Go picks them.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the server TLS settings: TLS 1.2 at least, the
// CipherSuites above for TLS 1.2, certificates from getCert (a
// CertReloader's or an ACME manager's GetCertificate). HTTP/2 is offered
// by net/http itself.
func TLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   CipherSuites,
		GetCertificate: getCert,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// CertReloader serves a certificate and key from PEM files and re-reads
// them when they change, so that a renewed certificate (certbot, an
// internal CA) is picked up without a restart. Changes are noticed on the
// first handshake after CheckEvery has passed since the last look (a stat
// of both files), and at once on Reload (wire it to SIGHUP with
// ReloadOnSignal). A pair that fails to load (a key that does not match
// the certificate, a half-written file during renewal) is logged and the
// previous certificate kept, so a botched renewal never takes the site
// down; the next look tries again.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	// CheckEvery is how often handshakes look at the files (default
	// 10 s; negative: on every handshake, for tests).
	CheckEvery time.Duration

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string
	lastCheck time.Time
	onLoad    func(*x509.Certificate)
}

// NewCertReloader loads the pair once; an error here is a start-up error
// that names the files and what is wrong with them, never key material.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log, CheckEvery: 10 * time.Second}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// stampOf identifies the current version of the files by size and
// modification time.
func (r *CertReloader) stampOf() (string, error) {
	var parts []string
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano()))
	}
	return strings.Join(parts, ";"), nil
}

// Reload re-reads the files now. On error the previous certificate stays.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked()
}

func (r *CertReloader) loadLocked() error {
	stamp, _ := r.stampOf()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// LoadX509KeyPair's messages name the problem (no PEM data, key
		// does not match) and never the key itself.
		return fmt.Errorf("cannot load the TLS certificate %s and key %s: %v", r.certFile, r.keyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("cannot parse the TLS certificate %s: %v", r.certFile, err)
	}
	cert.Leaf = leaf
	if r.cert != nil && r.stamp == stamp && string(r.cert.Certificate[0]) == string(cert.Certificate[0]) {
		return nil
	}
	r.cert, r.stamp = &cert, stamp
	if r.onLoad != nil {
		r.onLoad(leaf)
	}
	r.log.Info("TLS certificate loaded", "file", r.certFile, "names", strings.Join(leaf.DNSNames, ","),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	if time.Until(leaf.NotAfter) < 14*24*time.Hour {
		r.log.Warn("the TLS certificate expires within 14 days; renew it", "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastCheck) >= r.CheckEvery {
		r.lastCheck = now
		if stamp, err := r.stampOf(); err == nil && stamp != r.stamp {
			if err := r.loadLocked(); err != nil {
				r.log.Error("TLS certificate reload failed; keeping the previous one", "err", err)
			}
		}
	}
	return r.cert, nil
}

// OnLoad calls f with the certificate now served and again with every
// new one a reload brings (on a change of the files or on Reload), so
// that the expiry metric follows renewals. f runs with the reloader's
// lock held and must not call back into it.
func (r *CertReloader) OnLoad(f func(*x509.Certificate)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onLoad = f
	if r.cert != nil && f != nil {
		f(r.cert.Leaf)
	}
}

// Certificate returns the certificate currently served.
func (r *CertReloader) Certificate() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert
}

// ReloadOnSignal calls Reload on every sig (SIGHUP in serve) until ctx
// ends, logging failures.
func (r *CertReloader) ReloadOnSignal(ctx context.Context, sig ...os.Signal) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig...)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				if err := r.Reload(); err != nil {
					r.log.Error("TLS certificate reload failed; keeping the previous one", "err", err)
				}
			}
		}
	}()
}

// RedirectHTTPS answers every request with 301 Moved Permanently to the
// same path and query on https://host. host comes from configuration
// (base-url), never from the request's Host header, so a forged Host
// cannot turn the redirect into an open redirect. The response has no
// body worth reading and sets no cookie.
func RedirectHTTPS(host string) http.Handler {
	if host == "" || strings.ContainsAny(host, "/?#@") {
		panic(errors.New("server: RedirectHTTPS needs a bare host[:port]"))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := "https://" + host + r.URL.EscapedPath()
		if target == "https://"+host {
			target += "/"
		}
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusMovedPermanently)
	})
}
