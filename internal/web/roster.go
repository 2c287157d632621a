package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"credtrack"
	"credtrack/internal/roster"
)

// defaultRosterMaxBytes caps a roster upload unless Options.RosterMaxBytes
// says otherwise.
const defaultRosterMaxBytes = 256 << 20

// rosterPage is the data of templates/pages/roster.html.
type rosterPage struct {
	Page
	CanImport bool
	CanExport bool
	MaxMB     int64
	Columns   []string
}

// rosterImportPage is the data of templates/pages/roster_import.html.
type rosterImportPage struct {
	Page
	Status roster.JobStatus
	// CanCommit offers the import buttons: a finished dry run not yet committed.
	CanCommit bool
	// AllValid: the check found no problem, so all-or-nothing will write everything.
	AllValid bool
	Errors   []roster.RowError
}

// handleRoster shows the import form and the export link.
func (h *Handler) handleRoster(w http.ResponseWriter, r *http.Request) {
	if h.rosterJobs == nil {
		h.renderError(w, r, errNoRoster)
		return
	}
	a := credtrack.ActorFromContext(r.Context())
	h.render(w, r, http.StatusOK, "roster", rosterPage{
		Page:      h.newPage(w, r, "Roster import and export", "roster"),
		CanImport: a.Can(credtrack.PermProviderWrite) && a.Can(credtrack.PermCredentialWrite),
		CanExport: a.Can(credtrack.PermExportCreate),
		MaxMB:     h.rosterMaxBytes >> 20,
		Columns:   roster.Columns,
	})
}

var errNoRoster = credtrack.Errorf(credtrack.EUNAVAILABLE, "Roster import and export are not available on this server.")

// handleRosterUpload streams the uploaded file into an encrypted spool
// (never into memory or a plaintext temporary file), starts checking it
// in the background and sends the browser to the import's page.
func (h *Handler) handleRosterUpload(w http.ResponseWriter, r *http.Request) {
	if h.rosterJobs == nil {
		h.renderError(w, r, errNoRoster)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Choose a CSV file to upload."))
		return
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			h.renderError(w, r, rosterUploadError(err))
			return
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		name := filepath.Base(part.FileName())
		if name == "." || name == "/" || name == "" {
			h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Choose a CSV file to upload."))
			return
		}
		spool, err := roster.NewSpool(h.rosterTempDir, part, h.rosterMaxBytes)
		if err != nil {
			h.renderError(w, r, rosterUploadError(err))
			return
		}
		if spool.Size() == 0 {
			spool.Remove()
			h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The file is empty."))
			return
		}
		job := h.rosterJobs.Start(r.Context(), name, spool)
		http.Redirect(w, r, "/roster/imports/"+job.ID, http.StatusSeeOther)
		return
	}
	h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "Choose a CSV file to upload."))
}

func rosterUploadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.Is(err, roster.ErrTooLarge) || errors.As(err, &tooBig) {
		return credtrack.Errorf(credtrack.ETOOLARGE, "The file is larger than this server accepts for a roster.")
	}
	return credtrack.Errorf(credtrack.EINVALID, "The upload could not be read; try again.")
}

// handleRosterImport shows an import: progress while it runs (the page's
// script polls the progress route; without script the page offers a
// reload link), then the report and the commit buttons.
func (h *Handler) handleRosterImport(w http.ResponseWriter, r *http.Request) {
	st, ok := h.rosterStatus(w, r)
	if !ok {
		return
	}
	p := rosterImportPage{Page: h.newPage(w, r, "Roster import", "roster"), Status: st}
	if st.Report != nil {
		p.Errors = st.Report.Errors
		p.CanCommit = !st.Running && !st.Committed && st.Err == "" && st.Report.Fatal == "" && st.Report.Providers > 0
		p.AllValid = st.Report.OK()
	}
	h.render(w, r, http.StatusOK, "roster_import", p)
}

func (h *Handler) rosterStatus(w http.ResponseWriter, r *http.Request) (roster.JobStatus, bool) {
	if h.rosterJobs == nil {
		h.renderError(w, r, errNoRoster)
		return roster.JobStatus{}, false
	}
	st, err := h.rosterJobs.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		h.renderError(w, r, err)
		return st, false
	}
	return st, true
}

// rosterProgress is the JSON the import page polls.
type rosterProgress struct {
	Running bool   `json:"running"`
	Phase   string `json:"phase"`
	Percent int    `json:"percent"`
	Bytes   int64  `json:"bytes"`
	Total   int64  `json:"total"`
	Rows    int    `json:"rows"`
	Written int    `json:"written"`
}

// handleRosterProgress answers the import page's poll with the job's
// progress (counts only: no value from the file).
func (h *Handler) handleRosterProgress(w http.ResponseWriter, r *http.Request) {
	if h.rosterJobs == nil {
		http.Error(w, "not available", http.StatusServiceUnavailable)
		return
	}
	st, err := h.rosterJobs.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not_found"}` + "\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rosterProgress{Running: st.Running, Phase: st.Progress.Phase, Percent: st.Percent(),
		Bytes: st.Progress.Bytes, Total: st.Size, Rows: st.Progress.Rows, Written: st.Progress.Written})
}

// handleRosterCommit imports a checked file in the chosen mode.
func (h *Handler) handleRosterCommit(w http.ResponseWriter, r *http.Request) {
	if h.rosterJobs == nil {
		h.renderError(w, r, errNoRoster)
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	mode, err := roster.ParseMode(r.PostForm.Get("mode"))
	if err == nil && mode == roster.DryRun {
		err = credtrack.Errorf(credtrack.EINVALID, "choose all-or-nothing or skip-invalid")
	}
	if err == nil {
		err = h.rosterJobs.Commit(r.Context(), r.PathValue("id"), mode)
	}
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/roster/imports/"+r.PathValue("id"), http.StatusSeeOther)
}

// handleRosterExport streams the organization's roster as CSV. Nothing is
// sent until the store has recorded the export and handed over the first
// provider, so a refusal is an ordinary error page.
func (h *Handler) handleRosterExport(w http.ResponseWriter, r *http.Request) {
	if h.rosterJobs == nil {
		h.renderError(w, r, errNoRoster)
		return
	}
	lw := &lazyWriter{w: w, start: func() {
		hd := w.Header()
		hd.Set("Content-Type", "text/csv; charset=utf-8")
		hd.Set("Content-Disposition", `attachment; filename="roster-`+h.today().Format("20060102")+`.csv"`)
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}}
	bw := bufio.NewWriterSize(lw, 32<<10)
	_, err := roster.Export(r.Context(), h.rosterStore, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		return
	}
	if !lw.started {
		h.renderError(w, r, err)
		return
	}
	if !errors.Is(err, context.Canceled) {
		h.logger.ErrorContext(r.Context(), "web: roster export failed midway", "err", err,
			"request_id", w.Header().Get("X-Request-ID"))
	}
	panic(http.ErrAbortHandler) // a truncated file must not look complete
}

// lazyWriter sends the response headers on the first write.
type lazyWriter struct {
	w       io.Writer
	start   func()
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.start()
	}
	return l.w.Write(p)
}

// rosterErrorColumn shows a report's column, "—" for the row as a whole.
func rosterErrorColumn(c string) string {
	if strings.TrimSpace(c) == "" {
		return "—"
	}
	return c
}
