package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"credtrack/internal/server"
)

// tlsSetup returns the TLS configuration of serve, or nil for plain HTTP,
// and, with ACME, the wrapper that lets the plain-HTTP listener answer
// http-01 challenges before redirecting everything else.
//
// With certificate files the pair is loaded now (a bad pair is a start-up
// error), re-read when the files change and at once on SIGHUP until ctx
// ends. With ACME, certificates are obtained on the first handshake for
// each configured name and renewed 30 days (or a third of their
// lifetime, if less) before they expire; the
// account key, certificates and challenge tokens are cached in
// --acme-cache-dir (default DATA_DIR/acme, mode 0700).
//
// The served certificate's expiry is recorded on metrics (load, reload,
// and for ACME each handshake's certificate, so renewals show).
func (a *app) tlsSetup(ctx context.Context, metrics *server.Metrics) (*tls.Config, func(http.Handler) http.Handler, error) {
	switch a.cfg.TLSMode() {
	case "files":
		r, err := server.NewCertReloader(a.cfg.TLSCert, a.cfg.TLSKey, a.log)
		if err != nil {
			return nil, nil, err
		}
		// One series, named after the canonical host the certificate is
		// served for, whatever names the (renewed) certificate carries.
		host := a.cfg.CanonicalHost()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		r.OnLoad(func(leaf *x509.Certificate) { metrics.ObserveCertificate(host, leaf) })
		r.ReloadOnSignal(ctx, syscall.SIGHUP)
		return server.TLSConfig(r.GetCertificate), nil, nil
	case "acme":
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(a.cfg.ACMECache()),
			HostPolicy: hostPolicy(autocert.HostWhitelist(a.cfg.Domains()...)),
			Email:      a.cfg.ACMEEmail,
		}
		if a.cfg.ACMEDirectory != "" || a.cfg.ACMECAFile != "" {
			client := &acme.Client{DirectoryURL: a.cfg.ACMEDirectory}
			if a.cfg.ACMECAFile != "" {
				pool, err := x509.SystemCertPool()
				if err != nil {
					pool = x509.NewCertPool()
				}
				pem, err := os.ReadFile(a.cfg.ACMECAFile)
				if err != nil {
					return nil, nil, fmt.Errorf("acme-ca-file: cannot read %s: %v", a.cfg.ACMECAFile, err)
				}
				if !pool.AppendCertsFromPEM(pem) {
					return nil, nil, fmt.Errorf("acme-ca-file: %s holds no PEM certificate", a.cfg.ACMECAFile)
				}
				client.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
					Proxy:           http.ProxyFromEnvironment,
					TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
				}}
			}
			m.Client = client
		}
		cfg := server.TLSConfig(metrics.WatchCertificates(m.GetCertificate, a.cfg.Domains()))
		// tls-alpn-01 challenges are answered on the HTTPS port itself.
		cfg.NextProtos = append(cfg.NextProtos, acme.ALPNProto)
		a.log.Info("certificates are obtained by ACME", "domains", a.cfg.ACMEDomains, "cache", a.cfg.ACMECache())
		return cfg, m.HTTPHandler, nil
	}
	return nil, nil, nil
}

// hostPolicy lets a Host header with a port (challenge requests to a
// redirect listener that is not on port 80, behind port mapping) match
// the configured names, which are bare host names.
func hostPolicy(p autocert.HostPolicy) autocert.HostPolicy {
	return func(ctx context.Context, host string) error {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		return p(ctx, host)
	}
}
