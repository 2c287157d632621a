package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded static file and the hash that names its version.
type asset struct {
	body []byte
	hash string // first 12 hex digits of the SHA-256 of body
}

// assets are the embedded static files by name ("app.css").
type assets map[string]asset

// loadAssets reads and hashes every file in static/ once. The hash is part
// of the URL, so a changed file gets a new URL and can be cached forever.
func loadAssets() assets {
	files, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic("web: read static: " + err.Error())
	}
	out := make(assets, len(files))
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		b, err := staticFS.ReadFile(path.Join("static", f.Name()))
		if err != nil {
			panic("web: read static: " + err.Error())
		}
		sum := sha256.Sum256(b)
		out[f.Name()] = asset{body: b, hash: hex.EncodeToString(sum[:])[:12]}
	}
	return out
}

// url returns the versioned URL of a static file, for the "asset"
// template function. An unknown name is an error, which fails the page
// render (and the template tests) instead of emitting a dead link.
func (a assets) url(name string) (string, error) {
	f, ok := a[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return "/static/" + f.hash + "/" + name, nil
}

// mustURL is url for names known to be embedded.
func (a assets) mustURL(name string) string {
	u, err := a.url(name)
	if err != nil {
		panic(err)
	}
	return u
}

// handleStatic serves GET /static/{hash}/{name}. Only the current hash of
// a known file is served: an old or made-up hash is a 404 rather than the
// current content, so a cached "immutable" response can never be wrong.
// There is nothing to list, since only names in the table are served.
func (h *Handler) handleStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := h.assets[r.PathValue("name")]
	if !ok || f.hash != r.PathValue("hash") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+f.hash+`"`)
	// ServeContent sets Content-Type from the extension and answers
	// If-None-Match and Range requests.
	http.ServeContent(w, r, r.PathValue("name"), time.Time{}, bytes.NewReader(f.body))
}
