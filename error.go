package credtrack

import (
	"errors"
	"fmt"
)

// Error codes. Each transport maps a code to its own status (an HTTP status
// in internal/httperr, an exit code in the CLI); the messages of these
// errors are safe to show to the user.
const (
	ECONFLICT     = "conflict"     // the action conflicts with existing data
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed
	EINTERNAL     = "internal"     // a bug or an outage; details are logged, not shown
	EINVALID      = "invalid"      // the input failed validation
	ENOTFOUND     = "not_found"    // no such record, or not in the caller's organization
	ETOOLARGE     = "too_large"    // the request body or upload is over its limit
	ERATELIMIT    = "rate_limited" // too many requests; try later
	EUNAUTHORIZED = "unauthorized" // no valid credentials were presented
	EUNAVAILABLE  = "unavailable"  // a dependency (database, audit log) cannot serve now
	EUNSUPPORTED  = "unsupported"  // the media type or method is not supported
	EMETHOD       = "method_not_allowed"
)

// Error is a domain error: a stable machine-readable code and a message that
// is safe to show to the user. Internal errors are never wrapped in Error;
// they keep their detail for the log and are shown as "Internal error."
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("credtrack: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL for any other non-nil error, or "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain, or "Internal error." for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
