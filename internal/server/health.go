package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"credtrack/internal/httperr"
)

// readyTimeout bounds a readiness check. Load balancers and orchestrators
// probe every few seconds with short timeouts of their own; a check that
// hangs longer than this is as good as a failure.
const readyTimeout = 2 * time.Second

// Check is one dependency readiness depends on.
type Check struct {
	// Name says what is unreachable in the 503 answer ("database",
	// "blob store"): never a host, user or DSN.
	Name string
	// Func must honour its context's deadline.
	Func func(context.Context) error
}

// Health returns the handlers for /healthz and /readyz.
//
// healthz (liveness) always answers 200 {"status":"ok"}: it says the
// process is up and serving HTTP, and deliberately checks no dependency, so
// that a database outage does not make the orchestrator restart every
// instance in a loop.
//
// readyz (readiness) runs every check with a 2-second timeout, in order,
// and answers 200 {"status":"ready"}, or 503 {"status":"unavailable",
// "error":"NAME unreachable"} for the first that fails, so that traffic is
// routed elsewhere until they all pass. A check's error is logged (with
// slog.Default(), at warn level) and never shown, since driver errors can
// name hosts, users and DSNs. A nil Func is always ready.
func Health(checks ...Check) (healthz, readyz http.Handler) {
	healthz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, `{"status":"ok"}`)
	})
	readyz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		for _, c := range checks {
			if c.Func == nil {
				continue
			}
			if err := c.Func(ctx); err != nil {
				slog.Default().LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
					slog.String("request_id", httperr.RequestIDFromContext(r.Context())),
					slog.String("check", c.Name),
					slog.String("error", err.Error()),
				)
				msg, _ := json.Marshal(c.Name + " unreachable")
				writeStatus(w, http.StatusServiceUnavailable, `{"status":"unavailable","error":`+string(msg)+`}`)
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
