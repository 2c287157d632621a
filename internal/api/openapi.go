package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every route in
// routes(), written by hand. TestOpenAPIMatchesRoutes fails when a route is
// missing from it or it lists one that is not registered, and checks real
// responses against its schemas.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI document served at /api/openapi.json.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

// handleOpenAPI serves the OpenAPI document. It is public: it describes
// the API's shape, which is the same for every installation of a version
// and holds no organization's data, and clients and code generators can
// fetch it before they have a token. The request is audited like any
// other.
func (h *Handler) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(openAPIDocument)
}
