// Package reqaudit makes sure every request to a registered route leaves
// an audit event. Web and API wrap each route with Ensure where they
// register it; when the route's own work recorded an event (a read, a
// write, a denial, a sign-in) nothing more is written, and otherwise a
// generic "http.request" event names the route, the actor and the status.
// Health checks and static assets are the only routes left out, by name,
// where they are registered.
package reqaudit

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"credtrack"
)

// Recorder appends a standalone audit event.
type Recorder interface {
	RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error
}

// Ensure wraps next so that a request that recorded no audit event gets
// one after next returns. rec may be nil only in unit tests of handlers.
func Ensure(rec Recorder, log *slog.Logger, pattern string, next http.Handler) http.Handler {
	if rec == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, mark := credtrack.NewContextWithAuditMark(r.Context())
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))
		if mark.Count() > 0 {
			return
		}
		a := mark.Actor()
		outcome := credtrack.OutcomeSuccess
		switch {
		case sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden:
			outcome = credtrack.OutcomeDenied
		case sw.status >= 400:
			outcome = credtrack.OutcomeFailure
		}
		target := pattern
		if target == "" {
			target = "unmatched"
		}
		ev := &credtrack.AuditEvent{OrgID: a.OrgID, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
			Action: "http.request", TargetType: "route", TargetID: target, Outcome: outcome,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID,
			Details: map[string]string{"status": strconv.Itoa(sw.status)}}
		if ev.ActorKind == "" {
			ev.ActorKind = credtrack.ActorAnonymous
		}
		// The response is already written; a failure here can only be
		// logged (reads of data are audited before they are answered,
		// by the store).
		if err := rec.RecordEvent(context.WithoutCancel(r.Context()), ev); err != nil && log != nil {
			log.Error("audit of a request failed", "route", target, "err", err)
		}
	})
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
