package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDNS answers every A query with 127.0.0.1 and every other query
// with no records, over TCP (pebble's validation authority asks its
// -dnsserver over TCP), so that it finds the test host name on this
// machine. It returns the address.
func startDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				for {
					var n [2]byte
					if _, err := io.ReadFull(conn, n[:]); err != nil {
						return
					}
					msg := make([]byte, int(n[0])<<8|int(n[1]))
					if _, err := io.ReadFull(conn, msg); err != nil {
						return
					}
					answer, err := dnsAnswer(msg)
					if err != nil {
						return
					}
					conn.Write(append([]byte{byte(len(answer) >> 8), byte(len(answer))}, answer...))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dnsAnswer answers one DNS query: A gets 127.0.0.1, anything else no
// records.
func dnsAnswer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true})
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if q.Type == dnsmessage.TypeA {
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5},
			dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
	}
	return b.Finish()
}

// TestServeACME obtains a certificate from a local ACME server (pebble,
// Let's Encrypt's test CA): serve with --acme-domains answers the first
// handshake for the name with a certificate pebble issued after
// validating the challenge against this very server, and caches it in
// the data directory. .ci/run installs pebble; elsewhere the test is
// skipped when pebble is not on PATH.
func TestServeACME(t *testing.T) {
	pebble, err := exec.LookPath("pebble")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pebble is not installed; .ci/run installs it with go install github.com/letsencrypt/pebble/v2/cmd/pebble")
		}
		t.Skip("pebble is not installed (go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3)")
	}
	dir := t.TempDir()
	ca := newTestCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	pcert, pkey := filepath.Join(dir, "pebble-cert.pem"), filepath.Join(dir, "pebble-key.pem")
	ca.issue(t, pcert, pkey, 7)

	httpsPort, httpPort, acmePort, mgmtPort := freePort(t), freePort(t), freePort(t), freePort(t)
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":             pcert, "privateKey": pkey,
		// The validation authority connects here for http-01 and
		// tls-alpn-01: credtrack's plain-HTTP and HTTPS listeners.
		"httpPort": httpPort, "tlsPort": httpsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
	}})
	confFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pebble, "-config", confFile, "-dnsserver", startDNS(t))
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	var plog syncBuffer
	cmd.Stdout, cmd.Stderr = &plog, &plog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	trust := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}}
	dirURL := fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort)
	for deadline := time.Now().Add(60 * time.Second); ; {
		res, err := trust.Get(dirURL)
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v\n%s", err, plog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	const host = "credtrack.test"
	s, _, _ := startTLSServer(t, "serve", "--data-dir", filepath.Join(dir, "data"),
		"--listen", "127.0.0.1:"+strconv.Itoa(httpsPort), "--http-listen", "127.0.0.1:"+strconv.Itoa(httpPort),
		"--base-url", "https://"+host+":"+strconv.Itoa(httpsPort),
		"--acme-domains", host, "--acme-directory", dirURL, "--acme-ca-file", caFile, "--acme-email", "ops@credtrack.test")

	// The first handshake for the name obtains the certificate.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Minute}, "tcp", "127.0.0.1:"+strconv.Itoa(httpsPort),
		&tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake: %v\nserver: %s\npebble: %s", err, s.Stderr.String(), plog.String())
	}
	state := conn.ConnectionState()
	conn.Close()

	// It chains to pebble's root.
	res, err := trust.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmtPort))
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(res.Body)
	res.Body.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("pebble root: %s", rootPEM)
	}
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := state.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}); err != nil {
		t.Errorf("the served certificate does not verify against pebble's root: %v", err)
	}
	if state.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x", state.Version)
	}
	// /metrics reports the seconds left on the certificate ACME obtained.
	mc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: host, InsecureSkipVerify: true}}}
	res, err = mc.Get(fmt.Sprintf("https://127.0.0.1:%d/metrics", httpsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	series := `credtrack_tls_certificate_expiry_seconds{name="` + host + `"} `
	if _, v, ok := strings.Cut(string(body), series); !ok {
		t.Errorf("/metrics = %d without %s", res.StatusCode, series)
	} else if secs, err := strconv.ParseFloat(strings.SplitN(v, "\n", 2)[0], 64); err != nil ||
		math.Abs(secs-time.Until(leaf.NotAfter).Seconds()) > 300 {
		t.Errorf("certificate expiry metric %q, want about %.0f s", v[:min(len(v), 40)], time.Until(leaf.NotAfter).Seconds())
	}
	// Cached in the data directory, so a restart does not ask again.
	entries, _ := os.ReadDir(filepath.Join(dir, "data", "acme"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !strings.Contains(strings.Join(names, " "), host) {
		t.Errorf("acme cache holds %v, want the certificate of %s", names, host)
	}
}
