package password_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"credtrack/internal/password"
)

func sha1Hex(pw string) string {
	s := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// fakeHIBP serves the range API for one known password: breached with count,
// clean (absent), or listed only as a padding line (count 0). It fails the
// test if a request carries anything but the 5-character prefix or lacks the
// padding header.
func fakeHIBP(t *testing.T, pw string, count int, status int, delay time.Duration) *httptest.Server {
	t.Helper()
	full := sha1Hex(pw)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/range/"+full[:5] || r.URL.RawQuery != "" {
			t.Errorf("request path %q, want /range/%s", r.URL.Path, full[:5])
		}
		if r.Header.Get("Add-Padding") != "true" {
			t.Error("request without Add-Padding: true")
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		// Some other suffixes, then the password's own (or not), then padding.
		fmt.Fprint(w, "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n")
		if count >= 0 {
			fmt.Fprintf(w, "%s:%d\r\n", full[5:], count)
		}
		fmt.Fprint(w, "011053FD0102E94D6AE2F8B83D76FAF94F6:0\r\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHIBPChecker(t *testing.T) {
	const pw = "quiet orange violin drifts"
	for _, tc := range []struct {
		name         string
		count        int // -1: absent
		status       int
		delay        time.Duration
		wantBreached bool
		wantErr      bool
	}{
		{"breached", 42, 200, 0, true, false},
		{"clean", -1, 200, 0, false, false},
		{"padding line only", 0, 200, 0, false, false},
		{"server error", 5, 500, 0, false, true},
		{"rate limited", 5, 429, 0, false, true},
		{"timeout", 5, 200, 5 * time.Second, false, true},
	} {
		srv := fakeHIBP(t, pw, tc.count, tc.status, tc.delay)
		c := &password.HIBPChecker{BaseURL: srv.URL + "/", Client: &http.Client{Timeout: 200 * time.Millisecond}}
		got, err := c.Breached(context.Background(), pw)
		if got != tc.wantBreached || (err != nil) != tc.wantErr {
			t.Errorf("%s: Breached = %v, %v; want %v, error %v", tc.name, got, err, tc.wantBreached, tc.wantErr)
		}
		if err != nil {
			if !errors.Is(err, password.ErrHIBPUnavailable) {
				t.Errorf("%s: error %v does not wrap ErrHIBPUnavailable", tc.name, err)
			}
			if msg := err.Error(); strings.Contains(msg, pw) || strings.Contains(strings.ToUpper(msg), sha1Hex(pw)[:5]) {
				t.Errorf("%s: error %q reveals the password or its hash", tc.name, msg)
			}
		}
	}

	// Unreachable server and a cancelled context fail open too.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	if got, err := (&password.HIBPChecker{BaseURL: srv.URL}).Breached(context.Background(), pw); got || !errors.Is(err, password.ErrHIBPUnavailable) {
		t.Errorf("unreachable: %v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := (&password.HIBPChecker{BaseURL: fakeHIBP(t, pw, 3, 200, 0).URL}).Breached(ctx, pw); got || err == nil {
		t.Errorf("cancelled: %v, %v", got, err)
	}
}

func TestPolicyHIBP(t *testing.T) {
	const pw = "quiet orange violin drifts"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	breached := &password.Policy{HIBP: &password.HIBPChecker{BaseURL: fakeHIBP(t, pw, 3, 200, 0).URL}, Logger: logger}
	checkErr(t, "breached", pw, breached.Check(context.Background(), pw, nil), breachedIn)

	clean := &password.Policy{HIBP: &password.HIBPChecker{BaseURL: fakeHIBP(t, pw, -1, 200, 0).URL}, Logger: logger}
	checkErr(t, "clean", pw, clean.Check(context.Background(), pw, nil), "")
	if logs.Len() != 0 {
		t.Errorf("a successful check logged %q", logs.String())
	}

	// Fail-open: the password is accepted and a warning without it is logged.
	down := &password.Policy{HIBP: &password.HIBPChecker{BaseURL: fakeHIBP(t, pw, 3, 503, 0).URL}, Logger: logger}
	checkErr(t, "service down", pw, down.Check(context.Background(), pw, nil), "")
	if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), pw) ||
		strings.Contains(strings.ToUpper(logs.String()), sha1Hex(pw)[:5]) {
		t.Errorf("fail-open log %q: want a warning without the password or its hash", logs.String())
	}

	// The online check runs only for passwords that pass the offline rules.
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	offline := &password.Policy{HIBP: &password.HIBPChecker{BaseURL: srv.URL}, Logger: logger}
	_ = offline.Check(context.Background(), "password1", nil)
	if calls.Load() != 0 {
		t.Error("a password rejected offline was sent to the breach check")
	}
}
