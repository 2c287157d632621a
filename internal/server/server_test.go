package server

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/httperr"

	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server's
// handlers and the reads of the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLogger returns a JSON logger writing into a buffer the test can read.
func newLogger(tb testing.TB) (*slog.Logger, *syncBuffer) {
	tb.Helper()
	var buf syncBuffer
	return slog.New(slog.NewJSONHandler(&buf, nil)), &buf
}

// logRecords parses the JSON log records in buf with the given message.
func logRecords(tb testing.TB, buf *syncBuffer, msg string) []map[string]any {
	tb.Helper()
	var recs []map[string]any
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			recs = append(recs, rec)
		}
	}
	return recs
}

// serve runs req through Wrap(mux) and returns the recorded response.
func serve(mux *http.ServeMux, m *Metrics, log *slog.Logger, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	Wrap(mux, m, log).ServeHTTP(w, req)
	return w
}

func TestRequestID(t *testing.T) {
	var seen string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		seen = httperr.RequestIDFromContext(r.Context())
	})
	log, _ := newLogger(t)

	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"none", "", false},
		{"valid", "proxy-1234-abcd", true},
		{"too short", "abc", false},
		{"too long", strings.Repeat("a", 65), false},
		{"bad characters", "abc<script>123", false},
		{"log injection", "abcdefgh\nlevel=ERROR", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if tt.incoming != "" {
				req.Header.Set("X-Request-ID", tt.incoming)
			}
			w := serve(mux, nil, log, req)
			got := w.Header().Get("X-Request-ID")
			if got != seen {
				t.Errorf("response header %q differs from context %q", got, seen)
			}
			if tt.keep {
				if got != tt.incoming {
					t.Errorf("request ID = %q, want incoming %q", got, tt.incoming)
				}
				return
			}
			if got == tt.incoming || len(got) != 32 || !validRequestID(got) {
				t.Errorf("request ID = %q, want a new 32-digit hex ID", got)
			}
		})
	}

	a := serve(mux, nil, log, httptest.NewRequest("GET", "/", nil)).Header().Get("X-Request-ID")
	b := serve(mux, nil, log, httptest.NewRequest("GET", "/", nil)).Header().Get("X-Request-ID")
	if a == b {
		t.Errorf("two requests got the same ID %q", a)
	}
}

func TestRecover(t *testing.T) {
	mux := http.NewServeMux()
	panicky := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", "attachment")
		panic("secret panic detail: ssn=123-45-6789")
	}
	mux.HandleFunc("GET /api/v1/providers/{id}", panicky)
	mux.HandleFunc("GET /providers/{id}", panicky)

	tests := []struct {
		name   string
		path   string
		accept string
		json   bool
	}{
		{"api path", "/api/v1/providers/P1", "", true},
		{"api path, browser accept", "/api/v1/providers/P1", "text/html,*/*;q=0.8", true},
		{"web page", "/providers/P1", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"no accept", "/providers/P1", "", false},
		{"fetch asking for JSON", "/providers/P1", "application/json", true},
		{"JSON preferred by q", "/providers/P1", "text/html;q=0.5, application/json", true},
		{"HTML preferred by q", "/providers/P1", "application/json;q=0.5, text/html", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logBuf := newLogger(t)
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			w := serve(mux, nil, log, req)

			if w.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", w.Code)
			}
			body := w.Body.String()
			if strings.Contains(body, "secret") || strings.Contains(body, "123-45-6789") || strings.Contains(body, "goroutine") {
				t.Errorf("body leaks the panic: %s", body)
			}
			if w.Header().Get("Content-Disposition") != "" {
				t.Error("the handler's Content-Disposition was kept on the error page")
			}
			id := w.Header().Get("X-Request-ID")
			if tt.json {
				want := `{"error":{"code":"internal","message":"Internal error."}}` + "\n"
				if body != want {
					t.Errorf("body = %q, want %q", body, want)
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			} else {
				if !strings.Contains(body, "Something went wrong") || !strings.Contains(body, id) {
					t.Errorf("HTML page lacks the heading or request ID %q: %s", id, body)
				}
				if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			}

			recs := logRecords(t, logBuf, "panic serving request")
			if len(recs) != 1 {
				t.Fatalf("got %d panic records, want 1:\n%s", len(recs), logBuf)
			}
			rec := recs[0]
			if rec["level"] != "ERROR" || rec["request_id"] != id ||
				!strings.Contains(rec["panic"].(string), "secret panic detail") ||
				!strings.Contains(rec["stack"].(string), "server_test.go") {
				t.Errorf("panic record = %v", rec)
			}
			if n := len(logRecords(t, logBuf, "internal error")); n != 0 {
				t.Errorf("panic logged again as an internal error (%d records)", n)
			}
			access := logRecords(t, logBuf, "http request")
			if len(access) != 1 || access[0]["status"] != float64(500) {
				t.Errorf("access records = %v, want one with status 500", access)
			}
		})
	}
}

// recoverAbort runs h and returns the value it panicked with, if any.
func recoverAbort(h http.Handler, w http.ResponseWriter, r *http.Request) (v any) {
	defer func() { v = recover() }()
	h.ServeHTTP(w, r)
	return nil
}

func TestRecover_abort(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("GET /partial", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial body"))
		panic("too late for a 500")
	})

	t.Run("ErrAbortHandler passes through", func(t *testing.T) {
		log, logBuf := newLogger(t)
		w := httptest.NewRecorder()
		v := recoverAbort(Wrap(mux, nil, log), w, httptest.NewRequest("GET", "/abort", nil))
		if v != http.ErrAbortHandler {
			t.Fatalf("panic value = %v, want http.ErrAbortHandler", v)
		}
		if w.Body.Len() != 0 {
			t.Errorf("wrote %q for an aborted request", w.Body)
		}
		if n := len(logRecords(t, logBuf, "panic serving request")); n != 0 {
			t.Errorf("an abort was logged as a panic")
		}
		access := logRecords(t, logBuf, "http request")
		if len(access) != 1 || access[0]["aborted"] != true || access[0]["status"] != float64(0) {
			t.Errorf("access records = %v, want one aborted with status 0", access)
		}
	})

	t.Run("headers already sent", func(t *testing.T) {
		log, logBuf := newLogger(t)
		w := httptest.NewRecorder()
		v := recoverAbort(Wrap(mux, nil, log), w, httptest.NewRequest("GET", "/partial", nil))
		if v != http.ErrAbortHandler {
			t.Fatalf("panic value = %v, want http.ErrAbortHandler so net/http drops the connection", v)
		}
		if w.Code != http.StatusOK || w.Body.String() != "partial body" {
			t.Errorf("response = %d %q, want the untouched 200 partial body", w.Code, w.Body)
		}
		if n := len(logRecords(t, logBuf, "panic serving request")); n != 1 {
			t.Errorf("got %d panic records, want 1", n)
		}
	})

	t.Run("through a real server", func(t *testing.T) {
		log, _ := newLogger(t)
		ts := httptest.NewServer(Wrap(mux, nil, log))
		defer ts.Close()
		resp, err := ts.Client().Get(ts.URL + "/abort")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %s, want the connection aborted", resp.Status)
		}
	})
}

func TestAccessLog(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /providers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "hello")
	})
	log, logBuf := newLogger(t)

	req := httptest.NewRequest("GET", "/providers/SECRET123?token=abc", nil)
	req.Header.Set("Authorization", "Bearer hunter2")
	req.Header.Set("Cookie", "session=cookievalue")
	req.Header.Set("X-Request-ID", "trace-0001-abcd")
	serve(mux, nil, log, req)

	recs := logRecords(t, logBuf, "http request")
	if len(recs) != 1 {
		t.Fatalf("got %d access records, want 1:\n%s", len(recs), logBuf)
	}
	rec := recs[0]
	want := map[string]any{
		"level":      "INFO",
		"method":     "GET",
		"route":      "GET /providers/{id}",
		"status":     float64(201),
		"bytes":      float64(5),
		"request_id": "trace-0001-abcd",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms = %v, want a number", rec["duration_ms"])
	}
	for _, secret := range []string{"SECRET123", "/providers/S", "token", "abc\"", "hunter2", "cookievalue"} {
		if strings.Contains(logBuf.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, logBuf)
		}
	}

	// An unmatched path is logged under one label, not its path.
	logBuf2 := &syncBuffer{}
	serve(mux, nil, slog.New(slog.NewJSONHandler(logBuf2, nil)), httptest.NewRequest("GET", "/wp-admin/SECRET", nil))
	recs = logRecords(t, logBuf2, "http request")
	if len(recs) != 1 || recs[0]["route"] != "unmatched" || recs[0]["status"] != float64(404) {
		t.Errorf("unmatched request records = %v", recs)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /providers/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /metrics", m.Handler())
	log, _ := newLogger(t)

	for _, path := range []string{"/providers/A", "/providers/B", "/nowhere/C"} {
		serve(mux, m, log, httptest.NewRequest("GET", path, nil))
	}
	req := httptest.NewRequest("GET", "/providers/A", nil)
	req.Method = "BREW" // any token is a valid method to net/http
	serve(mux, m, log, req)

	w := serve(mux, m, log, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`credtrack_http_requests_total{code="200",method="GET",route="GET /providers/{id}"} 2`,
		`credtrack_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`credtrack_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`credtrack_http_request_duration_seconds_count{method="GET",route="GET /providers/{id}"} 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, leak := range []string{"/providers/A", "/nowhere", "BREW"} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics contain %q", leak)
		}
	}
}

func TestRegisterDB(t *testing.T) {
	reg := prometheus.NewRegistry()
	db := sql.OpenDB(noConnector{})
	defer db.Close()
	RegisterDB(reg, "write", db)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "go_sql_open_connections" {
			found = true
			if l := mf.GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetValue() != "write" {
				t.Errorf("labels = %v, want db_name=write", l)
			}
		}
	}
	if !found {
		t.Error("go_sql_open_connections not registered")
	}
}

// noConnector is a driver.Connector that never connects. A *sql.DB makes
// no connection until it is used, and its pool statistics need none, so
// the test needs no real driver.
type noConnector struct{}

func (noConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("noConnector: no database")
}

func (noConnector) Driver() driver.Driver { return nil }

func TestHealth(t *testing.T) {
	t.Run("healthz", func(t *testing.T) {
		healthz, _ := Health(Check{"database", func(context.Context) error { return errors.New("down") }})
		w := httptest.NewRecorder()
		healthz.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
		if w.Code != 200 || w.Body.String() != `{"status":"ok"}`+"\n" {
			t.Errorf("healthz = %d %q", w.Code, w.Body)
		}
	})

	tests := []struct {
		name       string
		ready      func(context.Context) error
		wantStatus int
		wantBody   string
	}{
		{"ready", func(context.Context) error { return nil }, 200, `{"status":"ready"}`},
		{"nil ready", nil, 200, `{"status":"ready"}`},
		{"unreachable", func(context.Context) error {
			return errors.New("dial tcp db.prod.internal:5432: password authentication failed for user credtrack")
		}, 503, `{"status":"unavailable","error":"database unreachable"}`},
		{"has a deadline", func(ctx context.Context) error {
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) > readyTimeout {
				return errors.New("no 2s deadline")
			}
			return nil
		}, 200, `{"status":"ready"}`},
	}
	blobDown := Check{"blob store", func(context.Context) error { return errors.New("s3.internal: AccessDenied") }}
	t.Run("blob store unreachable", func(t *testing.T) {
		_, readyz := Health(Check{"database", func(context.Context) error { return nil }}, blobDown)
		w := httptest.NewRecorder()
		readyz.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		if w.Code != 503 || w.Body.String() != `{"status":"unavailable","error":"blob store unreachable"}`+"\n" {
			t.Errorf("readyz = %d %q", w.Code, w.Body)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, readyz := Health(Check{"database", tt.ready})
			w := httptest.NewRecorder()
			readyz.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody+"\n" {
				t.Errorf("readyz = %d %q, want %d %q", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("readyz response is cacheable")
			}
		})
	}
}

func TestListen_addressInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()

	s, err := Listen(Options{Addr: addr, Handler: http.NotFoundHandler()})
	if err == nil {
		s.Shutdown(context.Background())
		t.Fatal("Listen on a busy port succeeded")
	}
	want := "cannot listen on " + addr + ": the address is already in use; stop the other process or choose another --listen address"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Error("error does not wrap syscall.EADDRINUSE")
	}
	if got := credtrack.ErrorMessage(err); got != want {
		t.Errorf("credtrack.ErrorMessage = %q, want the same message", got)
	}
}

func TestListen_badAddress(t *testing.T) {
	_, err := Listen(Options{Addr: "127.0.0.1:notaport", Handler: http.NotFoundHandler()})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot listen on 127.0.0.1:notaport: ") {
		t.Errorf("error = %v", err)
	}
	if _, err := Listen(Options{Addr: "127.0.0.1:0"}); err == nil {
		t.Error("Listen without a Handler succeeded")
	}
}

func TestListen_defaults(t *testing.T) {
	s, err := Listen(Options{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler(), IdleTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if s.srv.ReadHeaderTimeout != 10*time.Second || s.srv.ReadTimeout != 60*time.Second ||
		s.srv.WriteTimeout != 120*time.Second || s.shutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("timeouts = %v %v %v %v", s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.WriteTimeout, s.shutdownTimeout)
	}
	if s.srv.IdleTimeout != -1 {
		t.Errorf("IdleTimeout = %v, want the negative value kept (no timeout)", s.srv.IdleTimeout)
	}
}

func TestServer_shutdownDrains(t *testing.T) {
	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "done")
	})
	log, _ := newLogger(t)
	s, err := Listen(Options{Addr: "127.0.0.1:0", Handler: Wrap(mux, nil, log), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hookRan := make(chan struct{})
	s.OnShutdown(func() { close(hookRan) })

	served := make(chan error, 1)
	go func() { served <- s.Serve() }()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr().String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()

	<-started
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	res := <-got
	if res.err != nil || res.status != 200 || res.body != "done" {
		t.Errorf("in-flight request = %d %q %v, want 200 \"done\"", res.status, res.body, res.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after Shutdown", err)
	}
	<-hookRan
	if _, err := http.Get("http://" + s.Addr().String() + "/slow"); err == nil {
		t.Error("a request after Shutdown was served")
	}
}

func TestServer_shutdownBeforeServe(t *testing.T) {
	s, err := Listen(Options{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
	// The port was released, so it can be listened on again.
	ln, err := net.Listen("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
}

func TestPrefersJSON(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", true},
		{"application/problem+json", true},
		{"application/json, text/plain, */*", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"application/json;q=0, text/plain", false},
		{"text/html, application/json", false},
		{"garbage;;;", false},
	}
	for _, tt := range tests {
		if got := prefersJSON(tt.accept); got != tt.want {
			t.Errorf("prefersJSON(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}
