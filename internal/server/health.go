package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"credtrack/internal/httperr"
)

// readyTimeout bounds a readiness check. Load balancers and orchestrators
// probe every few seconds with short timeouts of their own; a check that
// hangs longer than this is as good as a failure.
const readyTimeout = 2 * time.Second

// Health returns the handlers for /healthz and /readyz.
//
// healthz (liveness) always answers 200 {"status":"ok"}: it says the
// process is up and serving HTTP, and deliberately checks no dependency, so
// that a database outage does not make the orchestrator restart every
// instance in a loop.
//
// readyz (readiness) calls ready with a 2-second timeout and answers 200
// {"status":"ready"}, or 503 {"status":"unavailable","error":"database
// unreachable"} so that traffic is routed elsewhere until ready succeeds.
// ready's error is logged (with slog.Default(), at warn level) and never
// shown, since driver errors can name hosts, users and DSNs. ready must
// honour its context's deadline; a nil ready is always ready.
func Health(ready func(context.Context) error) (healthz, readyz http.Handler) {
	healthz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, `{"status":"ok"}`)
	})
	readyz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				slog.Default().LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
					slog.String("request_id", httperr.RequestIDFromContext(r.Context())),
					slog.String("error", err.Error()),
				)
				writeStatus(w, http.StatusServiceUnavailable, `{"status":"unavailable","error":"database unreachable"}`)
				return
			}
		}
		writeStatus(w, http.StatusOK, `{"status":"ready"}`)
	})
	return healthz, readyz
}

// writeStatus writes a fixed JSON body. Probe answers must never be
// cached: a cached "ready" would hide an outage.
func writeStatus(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body + "\n"))
}
