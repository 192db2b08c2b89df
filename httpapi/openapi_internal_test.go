package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/phoneauth/phoneauth"
)

// patterns records what routes registers.
type patterns []string

func (p *patterns) Handle(pattern string, _ http.Handler) { *p = append(*p, pattern) }

// TestEveryRouteIsDocumented checks that every method and path the mux
// serves is an operation of openapi.json, and every operation a route: a
// path without its trailing slash counts as the path with it, as the
// document says.
func TestEveryRouteIsDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}

	var registered patterns
	// Registering reads only the policy; no request is served.
	(&Server{svc: &phoneauth.Service{}, routeNames: map[string]string{}}).routes(&registered)
	var served []string
	for _, p := range registered {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			continue // the JSON 404 and 405 answers, for any method
		}
		path = strings.TrimSuffix(path, "{$}")
		if !strings.HasSuffix(path, "/") && slices.Contains(registered, method+" "+path+"/{$}") {
			continue // the alias without the trailing slash
		}
		served = append(served, method+" "+path)
	}

	slices.Sort(documented)
	slices.Sort(served)
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("%s is served but not documented in openapi.json", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("%s is documented in openapi.json but not served", op)
		}
	}
	if len(served) == 0 {
		t.Fatal("no routes recorded")
	}
}

// TestEveryErrorAnswerIsDocumented checks each answer of the error table,
// those no end-to-end case reaches included (every SMS budget, every token
// refusal), against openapi.json: some operation documents its status with
// a body schema it fits and the headers it carries.
func TestEveryErrorAnswerIsDocumented(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatal(err)
	}
	errs := append(domainErrors(),
		errNotJSON, errTooLarge, errBadAuthHeader, errManyAuthHeaders,
		&badRequestError{"Malformed JSON"}, &badRequestError{"Request body must be a JSON object"},
		&badRequestError{"Request body must be a single JSON object"}, &badRequestError{`Field "user_id" must be a string`},
		&missingFieldsError{[]string{"code", "user_id"}}, errors.New("disk on fire"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, e := range errs {
		t.Run(e.Error(), func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest(http.MethodPost, "/", nil), log, fmt.Errorf("some flow: %w", e))
			var body any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			var misfits []string
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					resp := op.Responses.Status(w.Code)
					if resp == nil {
						continue
					}
					if misfit := fits(resp.Value, w.Header(), body); misfit != nil {
						misfits = append(misfits, fmt.Sprintf("%s %s: %v", method, path, misfit))
						continue
					}
					return
				}
			}
			t.Errorf("%d %s is documented by no operation: %q", w.Code, w.Body, misfits)
		})
	}
}

// fits returns why an answer with header and body does not fit resp, or
// nil. Headers the middleware sets to every answer are not looked for.
func fits(resp *openapi3.Response, header http.Header, body any) error {
	for name, h := range resp.Headers {
		if name == "X-Request-ID" || name == "X-Content-Type-Options" {
			continue
		}
		if h.Value.Required && header.Get(name) == "" {
			return fmt.Errorf("header %s missing", name)
		}
	}
	mt := resp.Content.Get("application/json")
	if mt == nil {
		return errors.New("no JSON body")
	}
	return mt.Schema.Value.VisitJSON(body)
}
