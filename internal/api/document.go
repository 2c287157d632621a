package api

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/docs"
)

// documentJSON is a document's record as the API shows it. sha256 is the
// fingerprint of the plaintext, as 64 lowercase hex digits.
type documentJSON struct {
	ID            string    `json:"id"`
	ProviderID    string    `json:"provider_id"`
	CredentialID  string    `json:"credential_id,omitempty"`
	Filename      string    `json:"filename"`
	ContentType   string    `json:"content_type"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	UploadedBy    string    `json:"uploaded_by,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	PossibleFraud bool      `json:"possible_fraud"`
}

func toDocumentJSON(d *credtrack.Document) documentJSON {
	return documentJSON{ID: d.ID, ProviderID: d.ProviderID, CredentialID: d.CredentialID, Filename: d.Filename,
		ContentType: d.ContentType, Size: d.Size, SHA256: hex.EncodeToString(d.SHA256), UploadedBy: d.UploadedBy,
		CreatedAt: d.CreatedAt, PossibleFraud: d.PossibleFraud}
}

// uploadSlack is what a multipart body may add around the file (part
// headers, boundaries, a credential_id field) beyond the document limit.
const uploadSlack = 64 << 10

func (h *Handler) maxDocumentSize() int64 {
	if h.opts.MaxDocumentSize > 0 {
		return h.opts.MaxDocumentSize
	}
	return docs.DefaultMaxSize
}

// rawDocumentTypes are the media types a document may be sent as the
// whole request body; the service decides the real type from the content.
var rawDocumentTypes = map[string]bool{"application/pdf": true, "image/png": true, "image/jpeg": true,
	"application/octet-stream": true}

// clientBody turns the errors of reading a request body into credtrack
// errors, so that a body over the limit is a 413 and a cut-short or
// malformed one a 400, never a 500.
type clientBody struct {
	r   io.Reader
	max int64
}

func (c clientBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = bodyError(err, c.max)
	}
	return n, err
}

func bodyError(err error, max int64) error {
	var maxErr *http.MaxBytesError
	var e *credtrack.Error
	switch {
	case errors.As(err, &maxErr):
		return credtrack.Errorf(credtrack.ETOOLARGE, "the document is larger than the limit of %d MB", max>>20)
	case errors.As(err, &e):
		return e
	}
	return credtrack.Errorf(credtrack.EINVALID, "the request body was cut short or is not well-formed")
}

// fileBody finds the file in a request: the whole body (a document media
// type, the name in ?filename=) or the part named "file" of a
// multipart/form-data body. Fields before the file part are returned by
// name (only those in fields are accepted). The body is read as it
// arrives; nothing is buffered beyond a small field.
func (h *Handler) fileBody(w http.ResponseWriter, r *http.Request, fields ...string) (body io.Reader, filename string, form map[string]string, err error) {
	max := h.maxDocumentSize()
	if r.ContentLength > max+uploadSlack {
		return nil, "", nil, credtrack.Errorf(credtrack.ETOOLARGE, "the document is larger than the limit of %d MB", max>>20)
	}
	limited := http.MaxBytesReader(w, r.Body, max+uploadSlack)
	mt, params, perr := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if perr != nil {
		return nil, "", nil, credtrack.Errorf(credtrack.EUNSUPPORTED, "send the file as multipart/form-data (part \"file\") or as the body with its media type")
	}
	if rawDocumentTypes[mt] {
		return clientBody{r: limited, max: max}, r.URL.Query().Get("filename"), map[string]string{}, nil
	}
	if mt != "multipart/form-data" {
		return nil, "", nil, credtrack.Errorf(credtrack.EUNSUPPORTED, "send the file as multipart/form-data (part \"file\") or as the body with its media type")
	}
	if params["boundary"] == "" {
		return nil, "", nil, credtrack.Errorf(credtrack.EINVALID, "the multipart body has no boundary")
	}
	mr := multipart.NewReader(clientBody{r: limited, max: max}, params["boundary"])
	form = map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, "", nil, credtrack.Errorf(credtrack.EINVALID, "the multipart body has no part named \"file\"")
		}
		if err != nil {
			return nil, "", nil, bodyError(err, max)
		}
		name := part.FormName()
		if name == "file" {
			return clientBody{r: part, max: max}, part.FileName(), form, nil
		}
		known := false
		for _, f := range fields {
			known = known || f == name
		}
		if !known || part.FileName() != "" {
			return nil, "", nil, credtrack.Errorf(credtrack.EINVALID, "unknown multipart field %q: send %s and then \"file\"",
				name, strings.Join(append(quoteAll(fields), ""), ", "))
		}
		v, err := io.ReadAll(io.LimitReader(part, 201))
		if err != nil {
			return nil, "", nil, bodyError(err, max)
		}
		if len(v) > 200 {
			return nil, "", nil, credtrack.Errorf(credtrack.EINVALID, "multipart field %q is too long", name)
		}
		form[name] = string(v)
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

// handleDocumentUpload stores a document for a provider: 201 with its
// record. The provider is checked before the body is read; the body is
// streamed to the document service (type sniffed, fingerprinted,
// encrypted, size-limited).
func (h *Handler) handleDocumentUpload(w http.ResponseWriter, r *http.Request) {
	if h.opts.Documents == nil {
		h.error(w, r, errNotWired)
		return
	}
	providerID := r.PathValue("id")
	if err := h.providerVisible(r, providerID); err != nil {
		h.error(w, r, err)
		return
	}
	body, filename, form, err := h.fileBody(w, r, "credential_id")
	if err != nil {
		h.error(w, r, err)
		return
	}
	credentialID := r.URL.Query().Get("credential_id")
	if v := form["credential_id"]; v != "" {
		if credentialID != "" && credentialID != v {
			h.error(w, r, credtrack.Errorf(credtrack.EINVALID, "credential_id is given twice with different values"))
			return
		}
		credentialID = v
	}
	d, err := h.opts.Documents.Upload(r.Context(), docs.Upload{ProviderID: providerID, CredentialID: credentialID,
		Filename: filename, Body: body})
	if err != nil {
		h.error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/documents/"+d.ID)
	h.writeJSONStatus(w, http.StatusCreated, toDocumentJSON(d))
}

// handleDocumentIndex lists one provider's documents.
func (h *Handler) handleDocumentIndex(w http.ResponseWriter, r *http.Request) {
	if h.opts.Records == nil {
		h.error(w, r, errNotWired)
		return
	}
	list, err := h.opts.Records.FindDocuments(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	items := make([]documentJSON, 0, len(list))
	for _, d := range list {
		items = append(items, toDocumentJSON(d))
	}
	h.writeJSON(w, map[string]any{"documents": items})
}

// handleDocumentShow returns one document's record.
func (h *Handler) handleDocumentShow(w http.ResponseWriter, r *http.Request) {
	if h.opts.Records == nil {
		h.error(w, r, errNotWired)
		return
	}
	d, err := h.opts.Records.FindDocumentByID(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.writeJSON(w, toDocumentJSON(d))
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// handleDocumentDownload streams a document's plaintext. The service
// decrypts chunk by chunk and checks the recorded SHA-256 at the end; the
// response carries Content-Length and Repr-Digest (RFC 9530) so a client
// can check both, and a failure after the first byte aborts the
// connection instead of ending the body cleanly (see package docs).
func (h *Handler) handleDocumentDownload(w http.ResponseWriter, r *http.Request) {
	if h.opts.Documents == nil {
		h.error(w, r, errNotWired)
		return
	}
	d, rc, err := h.opts.Documents.Open(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	defer rc.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", d.ContentType)
	hdr.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
	hdr.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(d.SHA256)+":")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hdr.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	cw := &countingWriter{w: w}
	if _, err := io.Copy(cw, rc); err != nil {
		h.log.Error("document download failed", "document_id", d.ID, "sent", cw.n, "err", err)
		if cw.n == 0 {
			h.error(w, r, credtrack.Errorf(credtrack.EINTERNAL, "document integrity check failed"))
			return
		}
		panic(http.ErrAbortHandler)
	}
}

// handleDocumentDelete deletes a document: its record and key, then its
// encrypted blob. 204 on success.
func (h *Handler) handleDocumentDelete(w http.ResponseWriter, r *http.Request) {
	if h.opts.Documents == nil {
		h.error(w, r, errNotWired)
		return
	}
	// Another organization's (or an unknown) document is a 404 whatever
	// the request holds; then a body is refused before anything changes.
	id := r.PathValue("id")
	if h.opts.Records == nil {
		h.error(w, r, errNotWired)
		return
	}
	if ok, err := h.opts.Records.DocumentExists(r.Context(), id); err != nil || !ok {
		if err == nil {
			err = credtrack.Errorf(credtrack.ENOTFOUND, "not found")
		}
		h.error(w, r, err)
		return
	}
	if err := noBody(w, r); err != nil {
		h.error(w, r, err)
		return
	}
	if err := h.opts.Documents.Delete(r.Context(), id); err != nil {
		h.error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// verifyInput is the JSON body of POST /api/v1/documents/verify.
type verifyInput struct {
	SHA256 string `json:"sha256"`
}

// handleDocumentVerify answers "is this document on record here?" for a
// fingerprint (JSON {"sha256": "…"}) or a file (multipart part "file", or
// the whole body). Nothing is stored; the check is audited.
func (h *Handler) handleDocumentVerify(w http.ResponseWriter, r *http.Request) {
	if h.opts.Documents == nil {
		h.error(w, r, errNotWired)
		return
	}
	var m *credtrack.DocumentMatch
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var in verifyInput
		if err := decodeJSON(w, r, &in); err != nil {
			h.error(w, r, err)
			return
		}
		if in.SHA256 == "" {
			h.error(w, r, credtrack.Errorf(credtrack.EINVALID, "send {\"sha256\": \"<64 hex digits>\"} or a file"))
			return
		}
		var err error
		if m, err = h.opts.Documents.VerifySHA256(r.Context(), in.SHA256); err != nil {
			h.error(w, r, err)
			return
		}
	} else {
		body, _, _, err := h.fileBody(w, r)
		if err == nil {
			m, err = h.opts.Documents.VerifyFile(r.Context(), body)
		}
		if err != nil {
			h.error(w, r, err)
			return
		}
	}
	items := make([]documentJSON, 0, len(m.Documents))
	for _, d := range m.Documents {
		items = append(items, toDocumentJSON(d))
	}
	h.writeJSON(w, map[string]any{"sha256": hex.EncodeToString(m.SHA256), "matched": m.Matched(),
		"possible_fraud": m.PossibleFraud, "documents": items})
}
