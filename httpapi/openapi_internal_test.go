package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

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
	(&Server{svc: &phoneauth.Service{}}).routes(&registered)
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
