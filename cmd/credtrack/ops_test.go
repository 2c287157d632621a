package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadinessAndOperatorMetrics: /metrics reports the job queue and the
// audit write latency, and /readyz fails when the blob store is gone.
func TestReadinessAndOperatorMetrics(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServer(t, map[string]string{"CREDTRACK_DATA_DIR": data}, "serve")
	if code, _ := get(t, s.URL+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	// A failed sign-in writes a standalone audit event through the group
	// commit, which the audit latency histogram observes.
	get(t, s.URL+"/login")
	if code, body := get(t, s.URL+"/metrics"); code != 200 || !strings.Contains(body, `credtrack_jobs{state="queued"}`) ||
		!strings.Contains(body, "credtrack_jobs_due ") || !strings.Contains(body, "credtrack_audit_write_seconds_count ") {
		t.Fatalf("/metrics = %d:\n%.3000s", code, body)
	} else if strings.Contains(body, "credtrack_audit_write_seconds_count 0\n") {
		t.Error("the audit write of GET /login was not observed")
	}
	if err := os.RemoveAll(filepath.Join(data, "blobs")); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, s.URL+"/readyz"); code != 503 || !strings.Contains(body, "blob store unreachable") {
		t.Errorf("/readyz without the blob directory = %d %s", code, body)
	}
	if code, _ := get(t, s.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d: liveness must not depend on the blob store", code)
	}
}

// TestMetricsListener: with --metrics-listen, /metrics is served on that
// address only, and the main listener has no /metrics route, not even
// for loopback clients.
func TestMetricsListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	ready, metricsAddr := make(chan string, 1), make(chan string, 1)
	m := &Main{Stdin: strings.NewReader(""), Stdout: s.Stdout, Stderr: s.Stderr, Getenv: func(string) string { return "" },
		Ready: func(addr string) { ready <- addr }, MetricsReady: func(addr string) { metricsAddr <- addr }}
	go func() {
		s.done <- m.Run(ctx, []string{"serve", "--data-dir", filepath.Join(t.TempDir(), "data"),
			"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"})
	}()
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case code := <-s.done:
		t.Fatalf("serve exited with %d: %s", code, s.Stderr.String())
	case <-time.After(startBound):
		t.Fatalf("serve did not start: %s", s.Stderr.String())
	}
	t.Cleanup(func() { s.Stop(t) })
	var maddr string
	select {
	case maddr = <-metricsAddr:
	default:
		t.Fatal("no metrics listener")
	}
	if code, _ := get(t, s.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the main listener = %d, want 404", code)
	}
	if code, body := get(t, "http://"+maddr+"/metrics"); code != 200 || !strings.Contains(body, "credtrack_http_requests_total") {
		t.Errorf("/metrics on the metrics listener = %d:\n%.500s", code, body)
	}
	if code, _ := get(t, "http://"+maddr+"/login"); code != http.StatusNotFound {
		t.Errorf("/login on the metrics listener = %d, want 404", code)
	}
}
