// Package httperr is the one place where credtrack's error codes become HTTP
// statuses, and where an error becomes the JSON body that API clients (and
// the web UI's script calls) receive.
//
// Keeping the table here, rather than in each of the web and api packages,
// means a new code cannot map to different statuses in different places,
// and docs/api.md can be generated from Table.
//
// The package also carries the request ID in the context. It lives here and
// not in internal/server because server imports httperr to render panics as
// JSON; the reverse import would be a cycle.
package httperr

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"credtrack"
)

// CodeStatus is one row of the code→status table.
type CodeStatus struct {
	Code   string // a credtrack.E* code
	Status int    // the HTTP status it is rendered with
}

// table lists every code in order of status, which is also the order of the
// generated documentation. Table returns a copy so that no caller can change
// the mapping at run time.
var table = []CodeStatus{
	{credtrack.EINVALID, http.StatusBadRequest},
	{credtrack.EUNAUTHORIZED, http.StatusUnauthorized},
	{credtrack.EFORBIDDEN, http.StatusForbidden},
	{credtrack.ENOTFOUND, http.StatusNotFound},
	{credtrack.EMETHOD, http.StatusMethodNotAllowed},
	{credtrack.ECONFLICT, http.StatusConflict},
	{credtrack.ETOOLARGE, http.StatusRequestEntityTooLarge},
	{credtrack.EUNSUPPORTED, http.StatusUnsupportedMediaType},
	{credtrack.ERATELIMIT, http.StatusTooManyRequests},
	{credtrack.EINTERNAL, http.StatusInternalServerError},
	{credtrack.EUNAVAILABLE, http.StatusServiceUnavailable},
}

// Table returns every error code with its HTTP status, ordered by status.
// It is used to generate the error section of the API documentation.
func Table() []CodeStatus {
	return append([]CodeStatus(nil), table...)
}

// Status returns the HTTP status for the error code. An unknown code is a
// bug (a code was added to error.go but not here), so it is treated like
// EINTERNAL: 500.
func Status(code string) int {
	for _, row := range table {
		if row.Code == code {
			return row.Status
		}
	}
	return http.StatusInternalServerError
}

// known reports whether code is in the table.
func known(code string) bool {
	for _, row := range table {
		if row.Code == code {
			return true
		}
	}
	return false
}

// errorBody is the JSON shape of every error response:
// {"error":{"code":"…","message":"…"}}. The object under "error" leaves room
// for more fields (such as per-field validation details) without breaking
// clients that read code and message.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteJSON writes err as a JSON error response with the status from the
// table. The message is credtrack.ErrorMessage(err), which is safe to show;
// anything that is not a *credtrack.Error, and any *credtrack.Error whose
// code is not in the table, is shown as code "internal" with the message
// "Internal error." and logged at error level with the request ID, so that
// an operator can find the detail the client was not shown.
//
// The log record names the method and the route pattern only: the URL
// path may hold record IDs, the query string may hold tokens, and headers
// and bodies may hold credentials or PHI, so none of those are logged.
//
// A nil log discards the record; a nil err is a bug in the caller and is
// rendered (and logged) as an internal error.
func WriteJSON(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if err == nil {
		err = errors.New("httperr: WriteJSON called with a nil error")
	}
	code := credtrack.ErrorCode(err)
	msg := credtrack.ErrorMessage(err)
	if code == credtrack.EINTERNAL || !known(code) {
		if log != nil {
			log.LogAttrs(r.Context(), slog.LevelError, "internal error",
				slog.String("request_id", RequestIDFromContext(r.Context())),
				slog.String("method", r.Method),
				slog.String("route", r.Pattern),
				slog.String("code", code),
				slog.String("error", err.Error()),
			)
		}
		// The same text credtrack.ErrorMessage gives any non-domain error.
		code, msg = credtrack.EINTERNAL, "Internal error."
	}

	// Marshalling two strings cannot fail.
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg}})
	body = append(body, '\n')

	h := w.Header()
	// A handler may have set these for the body it meant to send; they
	// would be wrong for this one (as http.Error also does).
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	h.Del("Content-Disposition")
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	// Error responses describe one request at one moment; a cached 404 or
	// 403 would outlive the condition and could leak across users.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(Status(code))
	w.Write(body)
}

type requestIDKey struct{}

// NewContextWithRequestID returns a copy of ctx carrying the request ID id.
// The server middleware sets it on every request so that log records and
// error pages can name the request.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request ID in ctx, or "" when there is
// none (as in a CLI command or a background job).
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
