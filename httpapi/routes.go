package httpapi

import (
	"net/http"
	"path"
	"strings"
)

// registrar is what routes registers on: a *http.ServeMux, or a test's
// recorder of the patterns served.
type registrar interface {
	Handle(pattern string, handler http.Handler)
}

// routes registers every endpoint. Each path answers with and without its
// trailing slash; other methods get a JSON 405 and unknown paths a JSON 404.
// openapi.json documents each one, and a test holds the two together.
func (s *Server) routes(mux registrar) {
	s.route(mux, "POST", "/auth/api/Register/", handleRegister(s))
	s.route(mux, "POST", "/auth/api/register/", handleRegister(s))
	s.route(mux, "POST", "/auth/api/verify/", handleVerify(s))
	s.route(mux, "POST", "/auth/api/login/", handleLogin(s))
	s.route(mux, "POST", "/auth/api/login/verify/", handleLoginVerify(s))
	s.route(mux, "POST", "/auth/api/token/refresh/", handleRefresh(s))
	s.route(mux, "POST", "/auth/api/logout/", handleLogout(s))
	s.route(mux, "GET", "/auth/api/me/", handleMe(s))
	s.route(mux, "POST", "/auth/api/me/delete/", handleDeleteRequest(s))
	s.route(mux, "POST", "/auth/api/me/delete/verify/", handleDeleteVerify(s))
	s.route(mux, "POST", "/auth/api/me/phone/", handlePhoneRequest(s))
	s.route(mux, "POST", "/auth/api/me/phone/verify/", handlePhoneVerify(s))
	s.route(mux, "GET", "/healthz", handleHealthz())
	s.route(mux, "GET", "/readyz", handleReadyz(s))
	s.route(mux, "GET", "/auth/api/openapi.json", handleOpenAPI())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusNotFound, errorBody("Not found"))
	}))
}

// route registers h for method on path, exactly (with {$}), on path without
// its trailing slash, and a JSON 405 for every other method on both.
func (s *Server) route(mux registrar, method, path string, h http.Handler) {
	paths := []string{path}
	if trimmed := strings.TrimSuffix(path, "/"); trimmed != path {
		paths = []string{path + "{$}", trimmed}
	}
	allow := method
	if method == http.MethodGet {
		allow = "GET, HEAD"
	}
	notAllowed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		encode(w, http.StatusMethodNotAllowed, errorBody("Method not allowed"))
	})
	for _, p := range paths {
		mux.Handle(method+" "+p, h)
		mux.Handle(p, notAllowed)
		s.routeNames[method+" "+p] = path
		s.routeNames[p] = path
	}
}

// cleanPaths answers a JSON 404 for paths such as /auth//login/ or
// /auth/./me, which ServeMux would otherwise redirect with an HTML body.
func cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if p == "" || clean != p {
			encode(w, http.StatusNotFound, errorBody("Not found"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
