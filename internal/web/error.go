package web

import (
	"net/http"

	"credtrack"
	"credtrack/internal/httperr"
)

// errorPage is the data of templates/pages/error.html.
type errorPage struct {
	Page
	Status  int
	Message string
}

// renderError shows err as an error page. The page shows only the
// user-safe message (credtrack.ErrorMessage); the full error of a 5xx is
// logged, because that is the only place its detail may go.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, err error) {
	// The code→status table is shared with the JSON API (httperr), so a
	// code cannot mean one status on a page and another in the API.
	status := httperr.Status(credtrack.ErrorCode(err))
	if status >= 500 {
		h.logger.ErrorContext(r.Context(), "web: request failed", "method", r.Method, "path", r.URL.Path,
			"status", status, "err", err, "request_id", w.Header().Get("X-Request-ID"))
	}
	p := errorPage{
		Page:    h.newPage(w, r, http.StatusText(status), ""),
		Status:  status,
		Message: credtrack.ErrorMessage(err),
	}
	h.render(w, r, status, "error", p)
}
