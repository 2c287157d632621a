package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
