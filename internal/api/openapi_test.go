package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"credtrack/internal/api"
)

// specURL is the OpenAPI document's address inside the schema compiler.
const specURL = "file:///openapi.json"

// spec is the OpenAPI document, with its schemas compiled on demand by a
// JSON Schema 2020-12 validator (OpenAPI 3.1's schema dialect).
type spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
	// validated records "METHOD path status" of every response checked.
	validated map[string]int
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	raw := api.OpenAPIDocument()
	s := &spec{schemas: map[string]*jsonschema.Schema{}, validated: map[string]int{}}
	if err := json.Unmarshal(raw, &s.doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if s.doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json declares openapi %v, want 3.1.0", s.doc["openapi"])
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	s.compiler = jsonschema.NewCompiler()
	s.compiler.DefaultDraft(jsonschema.Draft2020)
	s.compiler.AssertFormat()
	if err := s.compiler.AddResource(specURL, inst); err != nil {
		t.Fatal(err)
	}
	// Every schema in components compiles.
	for name := range s.doc["components"].(map[string]any)["schemas"].(map[string]any) {
		if _, err := s.schema("#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	return s
}

func (s *spec) schema(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[ptr]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(specURL + ptr)
	if err != nil {
		return nil, err
	}
	s.schemas[ptr] = sch
	return sch, nil
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations returns every "METHOD path" the document lists, with its
// operation object and JSON pointer.
func (s *spec) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	for path, item := range s.doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			if slices.Contains(httpMethods, m) {
				out[strings.ToUpper(m)+" "+path] = op.(map[string]any)
			}
		}
	}
	return out
}

// pointerEscape escapes one JSON pointer token.
func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// check validates one real response against the document: the route
// ("" for an unrouted request, answered with the Error shape) must be
// documented, its status must be listed, its media type must be one the
// response lists, and a JSON body must match the schema.
func (s *spec) check(route string, status int, header http.Header, body []byte) error {
	ctype := header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ctype)
	if route == "" {
		if status != 404 && status != 405 {
			return fmt.Errorf("unrouted request answered %d", status)
		}
		return s.validate("#/components/schemas/Error", body)
	}
	method, path, _ := strings.Cut(route, " ")
	op := s.operations()[route]
	if op == nil {
		return fmt.Errorf("%s is not in openapi.json", route)
	}
	if status == http.StatusMethodNotAllowed {
		return s.validate("#/components/schemas/Error", body)
	}
	ptr := "#/paths/" + pointerEscape(path) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(status)
	resp, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return fmt.Errorf("%s answered %d, which openapi.json does not list (body %.200s)", route, status, body)
	}
	if ref, ok := resp["$ref"].(string); ok {
		ptr = ref
		name := strings.TrimPrefix(ref, "#/components/responses/")
		resp = s.doc["components"].(map[string]any)["responses"].(map[string]any)[name].(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) != 0 {
			return fmt.Errorf("%s %d: openapi.json lists no content, the body has %d bytes", route, status, len(body))
		}
		return nil
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %d: media type %q is not listed in openapi.json", route, status, ctype)
	}
	if sch, _ := media["schema"].(map[string]any); len(sch) == 0 || mt != "application/json" {
		return nil
	}
	return s.validate(ptr+"/content/"+pointerEscape(mt)+"/schema", body)
}

func (s *spec) validate(ptr string, body []byte) error {
	sch, err := s.schema(ptr)
	if err != nil {
		return fmt.Errorf("compiling %s: %v", ptr, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %v: %.200s", err, body)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("body does not match %s: %v\nbody: %.500s", ptr, err, body)
	}
	return nil
}

// checkingTransport sends requests to the test server and validates every
// complete response against the document.
type checkingTransport struct {
	t    *testing.T
	spec *spec
	h    *api.Handler
}

func (c *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	_, route := c.h.Mux().Handler(req)
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		// A body cut off on purpose (a download that failed its
		// fingerprint check): hand the error to the caller.
		res.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return res, nil
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err := c.spec.check(route, res.StatusCode, res.Header, body); err != nil {
		c.t.Errorf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	} else {
		c.spec.mu.Lock()
		c.spec.validated[route+" "+strconv.Itoa(res.StatusCode)]++
		c.spec.mu.Unlock()
	}
	return res, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestOpenAPIMatchesRoutes: every route registered on the API mux is in
// the document, and the document lists no path or method that is not
// registered. Each operation names its permission, declares 401 when it
// needs a token, and refers only to schemas and responses that exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := loadSpec(t)
	h := api.New(api.Options{})
	registered := h.Routes()
	ops := s.operations()
	for _, route := range registered {
		if ops[route] == nil {
			t.Errorf("route %q is registered but missing from openapi.json", route)
		}
	}
	for route, op := range ops {
		if !slices.Contains(registered, route) {
			t.Errorf("openapi.json lists %q, which is not registered on the API mux", route)
			continue
		}
		pol := h.Policies()[route]
		resp := op["responses"].(map[string]any)
		sec, hasSec := op["security"].([]any)
		if pol.Public {
			if !hasSec || len(sec) != 0 {
				t.Errorf("%s is public but openapi.json does not say security: []", route)
			}
			continue
		}
		if hasSec && len(sec) == 0 {
			t.Errorf("%s needs a token but openapi.json says security: []", route)
		}
		if resp["401"] == nil {
			t.Errorf("%s needs a token but lists no 401", route)
		}
		if pol.Permission != "" {
			if resp["403"] == nil {
				t.Errorf("%s needs %s but lists no 403", route, pol.Permission)
			}
			if perm, _ := op["x-permission"].(string); !strings.HasPrefix(perm, string(pol.Permission)) {
				t.Errorf("%s: x-permission %q, the route needs %q", route, perm, pol.Permission)
			}
		}
		if strings.Contains(route, "{id}") && !strings.HasPrefix(route, "POST /api/v1/documents/verify") && resp["404"] == nil {
			t.Errorf("%s takes an ID but lists no 404", route)
		}
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
				var cur any = s.doc
				for _, p := range parts {
					m, _ := cur.(map[string]any)
					cur = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(p)]
				}
				if cur == nil {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(s.doc)
	t.Logf("%d routes, %d operations in openapi.json", len(registered), len(ops))
}
