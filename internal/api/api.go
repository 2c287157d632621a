// Package api serves the JSON API under /api/v1: bearer-token
// authentication, one routes table naming each route's permission, and
// handlers that only parse, call a service and render. Errors are
// {"error":{"code":"…","message":"…"}} with the status from httperr.
package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/docs"
	"credtrack/internal/httperr"
	"credtrack/internal/reqaudit"
)

// TokenAuth turns a bearer secret into the token it belongs to.
type TokenAuth interface {
	AuthenticateAPIToken(ctx context.Context, secret string) (*credtrack.APIToken, error)
}

// Auditor records events that change no data (a rejected token).
type Auditor interface {
	RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error
}

// Records are the store reads the API needs beyond the record services
// (implemented by *sqlstore.DB).
type Records interface {
	// ProviderVisible is nil when the actor may read the provider, and
	// ENOTFOUND otherwise; it returns no data.
	ProviderVisible(ctx context.Context, id string) error
	// RevealProviderField opens one sealed field ("npi", "ssn", "dob") of
	// a provider for sensitive.reveal, audited as "sensitive.revealed".
	RevealProviderField(ctx context.Context, providerID, field string) (string, error)
	// RevealCredentialNumber opens a credential's number, audited likewise.
	RevealCredentialNumber(ctx context.Context, id string) (string, error)
	// FindDocuments lists one provider's documents (no keys), audited.
	FindDocuments(ctx context.Context, providerID string) ([]*credtrack.Document, error)
	// FindDocumentByID returns one document's record (no key), audited.
	FindDocumentByID(ctx context.Context, id string) (*credtrack.Document, error)
	// CredentialVisible is nil when the actor may read the credential, and
	// ENOTFOUND otherwise; it returns no data.
	CredentialVisible(ctx context.Context, id string) error
	// DocumentExists reports whether the organization has the document
	// (document.write); it returns no data.
	DocumentExists(ctx context.Context, id string) (bool, error)
}

// Documents is the document service (implemented by *docs.Service).
type Documents interface {
	Upload(ctx context.Context, u docs.Upload) (*credtrack.Document, error)
	Open(ctx context.Context, id string) (*credtrack.Document, io.ReadCloser, error)
	VerifyFile(ctx context.Context, r io.Reader) (*credtrack.DocumentMatch, error)
	VerifySHA256(ctx context.Context, hexSum string) (*credtrack.DocumentMatch, error)
	Delete(ctx context.Context, id string) error
}

// Options are the services the API calls.
type Options struct {
	Tokens      TokenAuth
	Providers   credtrack.ProviderService
	Credentials credtrack.CredentialService
	Records     Records
	// Documents uploads, downloads, verifies and deletes documents;
	// nil answers the document routes with 503.
	Documents Documents
	// MaxDocumentSize is the upload limit the Documents service applies
	// (0 means docs.DefaultMaxSize); the API uses it to bound request
	// bodies and to document the limit.
	MaxDocumentSize int64
	Audit           Auditor
	// Orgs supplies each organization's expiring window for derived
	// statuses; nil means 90 days.
	Orgs   credtrack.OrgService
	Logger *slog.Logger
	// Now is the clock for derived statuses; nil means credtrack.Now.
	Now func() time.Time
}

// Policy says who may call a route: Permission "" with Public false means
// any valid token.
type Policy struct {
	Public     bool
	Permission credtrack.Permission
	// Own marks routes that a provider-role token may call for its own
	// record; the store enforces which records those are.
	Own bool
}

// Handler is the API's http.Handler.
type Handler struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	policies map[string]Policy
}

// New returns the API handler with every route registered.
func New(opts Options) *Handler {
	h := &Handler{opts: opts, log: opts.Logger, mux: http.NewServeMux(), policies: map[string]Policy{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.routes()
	return h
}

// routes lists every API route with the permission it needs. Every route
// must also be in openapi.json (TestOpenAPIMatchesRoutes).
func (h *Handler) routes() {
	h.handle("GET /api/openapi.json", Policy{Public: true}, h.handleOpenAPI)
	h.handle("GET /api/v1/me", Policy{}, h.handleMe)

	h.handle("GET /api/v1/providers", Policy{Permission: credtrack.PermProviderRead, Own: true}, h.handleProviderIndex)
	h.handle("POST /api/v1/providers", Policy{Permission: credtrack.PermProviderWrite}, h.handleProviderCreate)
	// Search by number is a POST so that the numbers stay out of URLs.
	h.handle("POST /api/v1/providers/search", Policy{Permission: credtrack.PermProviderRead, Own: true}, h.handleProviderSearch)
	h.handle("GET /api/v1/providers/{id}", Policy{Permission: credtrack.PermProviderRead, Own: true}, h.handleProviderShow)
	h.handle("PATCH /api/v1/providers/{id}", Policy{Permission: credtrack.PermProviderWrite}, h.handleProviderUpdate)
	h.handle("DELETE /api/v1/providers/{id}", Policy{Permission: credtrack.PermProviderWrite}, h.handleProviderDelete)

	h.handle("GET /api/v1/providers/{id}/credentials", Policy{Permission: credtrack.PermCredentialRead, Own: true}, h.handleProviderCredentials)
	h.handle("POST /api/v1/providers/{id}/credentials", Policy{Permission: credtrack.PermCredentialWrite}, h.handleCredentialCreate)
	h.handle("GET /api/v1/credentials/{id}", Policy{Permission: credtrack.PermCredentialRead, Own: true}, h.handleCredentialShow)
	h.handle("PATCH /api/v1/credentials/{id}", Policy{Permission: credtrack.PermCredentialWrite}, h.handleCredentialUpdate)
	h.handle("DELETE /api/v1/credentials/{id}", Policy{Permission: credtrack.PermCredentialWrite}, h.handleCredentialDelete)

	h.handle("GET /api/v1/providers/{id}/documents", Policy{Permission: credtrack.PermDocumentRead, Own: true}, h.handleDocumentIndex)
	h.handle("POST /api/v1/providers/{id}/documents", Policy{Permission: credtrack.PermDocumentWrite}, h.handleDocumentUpload)
	h.handle("GET /api/v1/documents/{id}", Policy{Permission: credtrack.PermDocumentRead, Own: true}, h.handleDocumentShow)
	h.handle("GET /api/v1/documents/{id}/content", Policy{Permission: credtrack.PermDocumentRead, Own: true}, h.handleDocumentDownload)
	h.handle("DELETE /api/v1/documents/{id}", Policy{Permission: credtrack.PermDocumentWrite}, h.handleDocumentDelete)
	h.handle("POST /api/v1/documents/verify", Policy{Permission: credtrack.PermDocumentRead}, h.handleDocumentVerify)
}

// handle registers a route behind authentication and its policy check.
func (h *Handler) handle(pattern string, p Policy, fn http.HandlerFunc) {
	h.policies[pattern] = p
	h.mux.Handle(pattern, reqaudit.Ensure(h.opts.Audit, h.log, pattern, h.authenticate(p, fn)))
}

func (h *Handler) now() time.Time {
	if h.opts.Now != nil {
		return h.opts.Now()
	}
	return credtrack.Now()
}

// Routes returns every registered pattern.
func (h *Handler) Routes() []string {
	out := make([]string, 0, len(h.policies))
	for p := range h.policies {
		out = append(out, p)
	}
	return out
}

// Policies returns the policy of every registered pattern.
func (h *Handler) Policies() map[string]Policy { return h.policies }

// Mux returns the underlying mux, for route-pattern metrics.
func (h *Handler) Mux() *http.ServeMux { return h.mux }

// ServeHTTP serves the API. Unknown paths and wrong methods get the JSON
// error shape instead of net/http's plain text.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		reqaudit.Ensure(h.opts.Audit, h.log, "", http.HandlerFunc(h.serveUnrouted)).ServeHTTP(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// serveUnrouted answers a path no route has (404) or a method a path does
// not take (405), in the JSON error shape.
func (h *Handler) serveUnrouted(w http.ResponseWriter, r *http.Request) {
	// The caller is not authenticated here (no route, no policy); the
	// request facts still go on record.
	r = r.WithContext(credtrack.NewContextWithActor(r.Context(), credtrack.Actor{Kind: credtrack.ActorAnonymous,
		IP: clientIP(r), UserAgent: r.UserAgent(), RequestID: httperr.RequestIDFromContext(r.Context())}))
	rec := &statusOnly{header: http.Header{}}
	h.mux.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		h.error(w, r, credtrack.Errorf(credtrack.EMETHOD, "method not allowed"))
		return
	}
	h.error(w, r, credtrack.Errorf(credtrack.ENOTFOUND, "no such API route"))
}

// statusOnly records the status net/http would send, discarding its body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

// authenticate resolves the bearer token into an actor, then applies the
// route's policy. A provider-role token passes routes marked Own; the
// store then limits it to its own record.
func (h *Handler) authenticate(p Policy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := credtrack.Actor{Kind: credtrack.ActorAnonymous, IP: clientIP(r), UserAgent: r.UserAgent(),
			RequestID: httperr.RequestIDFromContext(r.Context())}
		ctx := credtrack.NewContextWithActor(r.Context(), base)
		if p.Public {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		// The scheme name is case-insensitive (RFC 9110 §11.1).
		scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="credtrack"`)
			h.error(w, r, credtrack.Errorf(credtrack.EUNAUTHORIZED, "send an API token as Authorization: Bearer TOKEN"))
			return
		}
		tok, err := h.opts.Tokens.AuthenticateAPIToken(ctx, strings.TrimSpace(secret))
		if err != nil {
			if credtrack.ErrorCode(err) == credtrack.EUNAUTHORIZED {
				h.audit(ctx, &credtrack.AuditEvent{Action: "auth.token.rejected", Outcome: credtrack.OutcomeFailure})
				w.Header().Set("WWW-Authenticate", `Bearer realm="credtrack", error="invalid_token"`)
			}
			h.error(w, r, err)
			return
		}
		a := base
		a.Kind, a.ID, a.OrgID, a.Role = credtrack.ActorToken, tok.ID, tok.OrgID, tok.Role
		ctx = credtrack.NewContextWithActor(r.Context(), a)
		if p.Permission != "" && !a.Can(p.Permission) && !(p.Own && a.Can(credtrack.PermOwnRecordRead)) {
			h.audit(ctx, &credtrack.AuditEvent{Action: "authz.denied", TargetType: "route", TargetID: r.Pattern,
				Outcome: credtrack.OutcomeDenied})
			h.error(w, r, credtrack.Errorf(credtrack.EFORBIDDEN, "this token's role may not do this"))
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (h *Handler) audit(ctx context.Context, ev *credtrack.AuditEvent) {
	if err := h.opts.Audit.RecordEvent(ctx, ev); err != nil {
		h.log.Error("audit write failed", "action", ev.Action, "err", err)
	}
}

func (h *Handler) error(w http.ResponseWriter, r *http.Request, err error) {
	httperr.WriteJSON(w, r, h.log, err)
}

// writeJSON renders v with status 200.
func (h *Handler) writeJSON(w http.ResponseWriter, v any) { h.writeJSONStatus(w, http.StatusOK, v) }

// writeJSONStatus renders v with status code.
func (h *Handler) writeJSONStatus(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.log.Warn("writing a JSON response failed", "err", err)
	}
}

// clientIP is the host part of r.RemoteAddr: the client's address, which
// server.ClientAddress has already taken from a trusted proxy's
// X-Forwarded-For (--trusted-proxies). Headers are never read here.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
