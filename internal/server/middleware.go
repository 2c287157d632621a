package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"credtrack/internal/httperr"
)

// Wrap returns mux wrapped in the middleware every credtrack request goes
// through, outermost first:
//
//  1. request ID: taken from a well-formed X-Request-ID header or generated,
//     echoed in the response and stored in the context (httperr);
//  2. access log and metrics: one info record and one observation per
//     request, labelled with the mux's route pattern;
//  3. panic recovery: a panicking handler is logged with its stack and
//     answered with a 500 that reveals nothing about it.
//
// Recovery sits inside the access log so that a request that panicked is
// still logged and counted, with the 500 it was answered with.
//
// The route pattern is looked up with mux.Handler before the request is
// served: the mux sets r.Pattern only on the request it receives, and any
// middleware between here and the handler that calls r.WithContext hides it
// from us. A request to a sub-handler mounted at a prefix (mux.Handle("/api/",
// …)) is labelled with that prefix, so register full patterns on mux to get
// per-route logs and metrics.
//
// m may be nil to record no metrics; log may be nil for slog.Default().
func Wrap(mux *http.ServeMux, m *Metrics, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	var h http.Handler = mux
	h = recoverPanics(h, log)
	h = observe(h, mux, m, log)
	h = requestID(h)
	return h
}

// requestIDHeader is the header a request ID arrives and leaves in.
const requestIDHeader = "X-Request-ID"

// requestID gives every request an ID for correlating its log records, its
// error page and a user's support request.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(httperr.NewContextWithRequestID(r.Context(), id)))
	})
}

// newRequestID returns 128 random bits in hex: unguessable and, in practice,
// unique without coordination between processes.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

// validRequestID reports whether id matches ^[A-Za-z0-9-]{8,64}$. An
// incoming ID is honoured so that a proxy's ID can be followed through our
// logs, but it is client-controlled: the narrow alphabet keeps it from
// injecting anything into log lines, headers or the HTML error page, and the
// length bounds keep it from bloating them. It is never used for anything
// but correlation.
func validRequestID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// unmatchedRoute labels requests that no pattern matched (404s, 405s). One
// label for all of them keeps scanners probing random paths from creating a
// metric series per path.
const unmatchedRoute = "unmatched"

// route returns the pattern mux will serve r with, or unmatchedRoute.
func route(mux *http.ServeMux, r *http.Request) string {
	// For CONNECT the mux returns the raw request path as the "pattern" of
	// its trailing-slash redirect; credtrack serves no CONNECT routes, so
	// such a request is never worth more than the unmatched label.
	if r.Method == http.MethodConnect {
		return unmatchedRoute
	}
	if _, pattern := mux.Handler(r); pattern != "" {
		return pattern
	}
	return unmatchedRoute
}

// observe writes the access log record and the metrics of each request.
//
// The record names the route pattern ("GET /providers/{id}"), never the
// URL: paths hold record IDs and query strings may hold tokens (password
// reset links, signed download URLs). Headers, cookies and bodies are never
// logged either, because they carry credentials and PHI.
func observe(next http.Handler, mux *http.ServeMux, m *Metrics, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rt := route(mux, r)
		rw := wrapWriter(w)
		completed := false
		// Deferred so that a request aborted with http.ErrAbortHandler (which
		// unwinds through here on its way to net/http) is still recorded.
		defer func() {
			d := time.Since(start)
			status := rw.statusCode(completed)
			m.observe(r.Method, rt, status, d)
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", rt),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(d)/float64(time.Millisecond)),
				slog.Int64("bytes", rw.bytes),
				slog.String("request_id", httperr.RequestIDFromContext(r.Context())),
			}
			if !completed {
				attrs = append(attrs, slog.Bool("aborted", true))
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
		}()
		next.ServeHTTP(rw, r)
		completed = true
	})
}

// recoverPanics turns a handler panic into a logged error and a 500, so that
// one bug fails one request with a proper error page rather than a dropped
// connection.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	// The JSON error is rendered by httperr so that it has the one shape of
	// every API error; its own "internal error" record would duplicate the
	// panic record below, so it gets a logger that discards.
	quiet := slog.New(slog.DiscardHandler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := wrapWriter(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			// net/http uses ErrAbortHandler to abort a response silently;
			// it must reach net/http to have that effect.
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			id := httperr.RequestIDFromContext(r.Context())
			log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("route", r.Pattern),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())),
			)
			if rw.wroteHeader {
				// Part of the response is on its way and its status cannot
				// change. Abort the connection so the client sees a broken
				// response rather than a truncated one that looks complete.
				panic(http.ErrAbortHandler)
			}
			if strings.HasPrefix(r.URL.Path, "/api/") || prefersJSON(r.Header.Get("Accept")) {
				httperr.WriteJSON(rw, r, quiet, errPanic)
				return
			}
			writePanicPage(rw, id)
		}()
		next.ServeHTTP(rw, r)
	})
}

// errPanic is what a recovered panic is rendered as: an internal error.
var errPanic = errors.New("server: handler panicked")

// writePanicPage writes the 500 page for browsers. It is self-contained
// (the template engine might be what panicked) and shows only the request
// ID, which the user can quote to support.
func writePanicPage(w http.ResponseWriter, id string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	h.Del("Content-Disposition")
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Something went wrong</title></head>
<body>
<h1>Something went wrong</h1>
<p>The server could not complete your request. Please try again; if it keeps happening, contact support and quote request ID <code>%s</code>.</p>
</body>
</html>
`, html.EscapeString(id))
}

// prefersJSON reports whether an Accept header ranks JSON (application/json
// or any +json type) above HTML. Browsers send text/html first and */* last,
// so they get the HTML page; fetch calls and API clients that ask for JSON
// get JSON. A tie goes to HTML, the safer default for a person.
func prefersJSON(accept string) bool {
	var jsonQ, htmlQ float64
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			jsonQ = max(jsonQ, q)
		case mt == "text/html" || mt == "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		}
	}
	return jsonQ > 0 && jsonQ > htmlQ
}

// responseWriter records the status and size of a response for the access
// log and metrics, and whether headers have been sent, for panic recovery.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
}

// wrapWriter returns w as a *responseWriter, wrapping it only if an outer
// middleware has not already done so; one wrapper serves all of them.
func wrapWriter(w http.ResponseWriter) *responseWriter {
	if rw, ok := w.(*responseWriter); ok {
		return rw
	}
	return &responseWriter{ResponseWriter: w}
}

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(code int) {
	// 1xx informational responses (103 Early Hints) go out before the
	// real status; only 101 Switching Protocols is final.
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher, which handlers streaming a response test
// for with a type assertion.
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's own writer
// (for deadlines, hijacking and the like).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusCode returns the status sent to the client. A handler that returns
// without writing gets net/http's implicit 200; one that was aborted before
// writing sent no status at all, reported as 0.
func (w *responseWriter) statusCode(completed bool) int {
	switch {
	case w.wroteHeader:
		return w.status
	case completed:
		return http.StatusOK
	default:
		return 0
	}
}
