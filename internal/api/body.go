package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"credtrack"
)

// maxJSONBody is the largest JSON request body: a provider or a
// credential is a few hundred bytes; 64 KiB leaves room for notes and
// details without letting a client make the server buffer megabytes.
const maxJSONBody = 64 << 10

// decodeJSON reads one JSON object from the request body into v. It
// refuses, with stable codes and without changing anything: a media type
// other than application/json (EUNSUPPORTED), a body over maxJSONBody
// (ETOOLARGE), malformed JSON, a value of the wrong type, an unknown
// field, or anything after the object (EINVALID). The messages name the
// field at fault but never echo a value.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := wantMediaType(r, "application/json"); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return jsonError(err)
		}
		return credtrack.Errorf(credtrack.EINVALID, "the body must hold exactly one JSON object")
	}
	return nil
}

// wantMediaType checks the request's Content-Type (parameters such as
// charset are allowed).
func wantMediaType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return credtrack.Errorf(credtrack.EUNSUPPORTED, "send the body as %s", want)
	}
	return nil
}

// jsonError turns a decoding error into a credtrack error.
func jsonError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var e *credtrack.Error
	switch {
	case errors.As(err, &maxErr):
		return credtrack.Errorf(credtrack.ETOOLARGE, "the JSON body is larger than %d KiB", maxJSONBody>>10)
	case errors.As(err, &e):
		// A field's own parser (a date) refused the value.
		return e
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return credtrack.Errorf(credtrack.EINVALID, "the body is not valid JSON")
	case errors.Is(err, io.EOF):
		return credtrack.Errorf(credtrack.EINVALID, "the body is empty; send a JSON object")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return credtrack.Errorf(credtrack.EINVALID, "the body must be a JSON object")
		}
		return credtrack.Errorf(credtrack.EINVALID, "field %q must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return credtrack.Errorf(credtrack.EINVALID, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return credtrack.Errorf(credtrack.EINVALID, "the body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "ptr":
		return "value of the documented type"
	}
	return "number"
}

// noBody refuses a request body on a route that takes none (DELETE): a
// body there is a client mistake, and acting while ignoring it could
// delete something the client did not mean.
func noBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	n, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1))
	if n > 0 || err != nil {
		return credtrack.Errorf(credtrack.EINVALID, "this request takes no body")
	}
	return nil
}
