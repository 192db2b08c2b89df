package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// maxBody bounds request bodies; the largest valid one is far smaller.
const maxBody = 16 << 10

// encode writes v as a JSON response with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // bodies are JSON for programs, never HTML
	// A failed write means the client went away; nothing to do.
	_ = enc.Encode(v)
}

// decode reads a JSON object body into a T. Errors: errNotJSON (wrong
// content type), errTooLarge, *badRequestError (malformed JSON, not an
// object, a field of the wrong type).
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	var p *T // stays nil for a body of null
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return v, errNotJSON
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&p); err != nil {
		return v, decodeError(err)
	}
	if p == nil {
		return v, &badRequestError{"Request body must be a JSON object"}
	}
	v = *p
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return v, errTooLarge
		}
		return v, &badRequestError{"Request body must be a single JSON object"}
	}
	return v, nil
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return errTooLarge
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return &badRequestError{"Request body must be a JSON object"}
	case errors.As(err, &typeErr):
		return &badRequestError{fmt.Sprintf("Field %q must be a %s", typeErr.Field, typeErr.Type.Kind())}
	case errors.Is(err, io.EOF):
		return &badRequestError{"Request body must be a JSON object"}
	default:
		return &badRequestError{"Malformed JSON"}
	}
}
