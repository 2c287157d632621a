package httperr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"credtrack"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{credtrack.EINVALID, 400},
		{credtrack.EUNAUTHORIZED, 401},
		{credtrack.EFORBIDDEN, 403},
		{credtrack.ENOTFOUND, 404},
		{credtrack.EMETHOD, 405},
		{credtrack.ECONFLICT, 409},
		{credtrack.ETOOLARGE, 413},
		{credtrack.EUNSUPPORTED, 415},
		{credtrack.ERATELIMIT, 429},
		{credtrack.EINTERNAL, 500},
		{credtrack.EUNAVAILABLE, 503},
		{"no_such_code", 500},
		{"", 500},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := Status(tt.code); got != tt.want {
				t.Errorf("Status(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	rows := Table()
	if len(rows) != 11 {
		t.Fatalf("Table has %d rows, want 11 (one per credtrack.E* code)", len(rows))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.Code] {
			t.Errorf("code %q listed twice", row.Code)
		}
		seen[row.Code] = true
		if got := Status(row.Code); got != row.Status {
			t.Errorf("Status(%q) = %d, table says %d", row.Code, got, row.Status)
		}
	}
	// Table returns a copy: changing it must not change Status.
	rows[0].Status = 999
	if Status(rows[0].Code) == 999 {
		t.Error("changing the slice from Table changed the mapping")
	}
}

// decode parses an error response body, failing on any other shape.
func decode(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v.Error.Code, v.Error.Message
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    string
		wantMessage string
		wantLogged  bool
	}{
		{"not found", credtrack.Errorf(credtrack.ENOTFOUND, "provider not found"), 404, "not_found", "provider not found", false},
		{"wrapped", fmt.Errorf("api: show provider: %w", credtrack.Errorf(credtrack.EFORBIDDEN, "your role may not do this")), 403, "forbidden", "your role may not do this", false},
		{"too large", credtrack.Errorf(credtrack.ETOOLARGE, "the upload is over 20 MB"), 413, "too_large", "the upload is over 20 MB", false},
		{"internal", errors.New("sqlstore: find provider: dial tcp db.internal:5432: connection refused"), 500, "internal", "Internal error.", true},
		{"unknown code", credtrack.Errorf("bogus", "secret detail"), 500, "internal", "Internal error.", true},
		{"nil", nil, 500, "internal", "Internal error.", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logBuf, nil))
			r := httptest.NewRequest("GET", "/api/v1/providers/P123?token=abc", nil)
			r.Header.Set("Authorization", "Bearer supersecret")
			r = r.WithContext(NewContextWithRequestID(r.Context(), "req-12345678"))
			w := httptest.NewRecorder()
			w.Header().Set("Content-Length", "12345")

			WriteJSON(w, r, log, tt.err)

			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := w.Header().Get("Content-Length"); got != "" {
				t.Errorf("stale Content-Length %q kept", got)
			}
			code, msg := decode(t, w.Body.Bytes())
			if code != tt.wantCode || msg != tt.wantMessage {
				t.Errorf("body = {%q, %q}, want {%q, %q}", code, msg, tt.wantCode, tt.wantMessage)
			}
			for _, secret := range []string{"db.internal", "connection refused", "secret detail", "sqlstore"} {
				if strings.Contains(w.Body.String(), secret) {
					t.Errorf("body leaks %q: %s", secret, w.Body)
				}
			}

			logged := logBuf.String()
			if tt.wantLogged != (logged != "") {
				t.Fatalf("logged = %q, want logged %v", logged, tt.wantLogged)
			}
			if !tt.wantLogged {
				return
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(logged), &rec); err != nil {
				t.Fatalf("log record %q: %v", logged, err)
			}
			if rec["level"] != "ERROR" || rec["request_id"] != "req-12345678" {
				t.Errorf("log record = %v, want level ERROR and request_id req-12345678", rec)
			}
			if tt.err != nil && rec["error"] != tt.err.Error() {
				t.Errorf("log error = %v, want %q", rec["error"], tt.err.Error())
			}
			for _, secret := range []string{"token=abc", "supersecret", "P123"} {
				if strings.Contains(logged, secret) {
					t.Errorf("log leaks %q: %s", secret, logged)
				}
			}
		})
	}
}

func TestWriteJSON_nilLogger(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, httptest.NewRequest("GET", "/", nil), nil, errors.New("boom"))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", w.Code)
	}
}

func TestRequestIDContext(t *testing.T) {
	if got := RequestIDFromContext(context.Background()); got != "" {
		t.Errorf("empty context: got %q", got)
	}
	ctx := NewContextWithRequestID(context.Background(), "abc-12345")
	if got := RequestIDFromContext(ctx); got != "abc-12345" {
		t.Errorf("got %q, want abc-12345", got)
	}
}
