package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// FuzzDecode checks decode on every request body type: it accepts exactly
// one JSON object, under a JSON content type and within maxBody, and
// decodes it as encoding/json does; everything else it refuses with an
// error that the error table answers with a 400 or a 413, never a 500.
// Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		checkDecode[registerRequest](t, contentType, body)
		checkDecode[verifyRequest](t, contentType, body)
		checkDecode[loginRequest](t, contentType, body)
		checkDecode[loginVerifyRequest](t, contentType, body)
	})
}

func checkDecode[T request](t *testing.T, contentType string, body []byte) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)

	got, err := decode[T](httptest.NewRecorder(), r)

	if err != nil {
		w := httptest.NewRecorder()
		writeError(w, r, slog.New(slog.DiscardHandler), err)
		if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("decode[%T](%q, %q) = %v, answered %d, want 400 or 413", got, contentType, body, err, w.Code)
		}
		return
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		t.Fatalf("decode[%T] accepted content type %q", got, contentType)
	}
	if len(body) > maxBody {
		t.Fatalf("decode[%T] accepted a body of %d bytes, over %d", got, len(body), maxBody)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
		t.Fatalf("decode[%T] accepted %q, which is not one JSON object", got, body)
	}
	var want T
	if err := json.Unmarshal(body, &want); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decode[%T](%q) = %+v; json.Unmarshal: %+v, %v", got, body, got, want, err)
	}
}
