// Package httpapi serves the phoneauth flows over HTTP with the JSON API
// of the contract. Handlers decode, call one Service method and encode;
// error.go is the only place that turns errors into responses.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/phoneauth/phoneauth"
)

// Server is the HTTP face of a phoneauth.Service.
type Server struct {
	svc     *phoneauth.Service
	log     *slog.Logger
	handler http.Handler
}

// Options configure a Server.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
}

// New returns a Server for svc.
func New(svc *phoneauth.Service, o Options) *Server {
	s := &Server{svc: svc, log: o.Log}
	if s.log == nil {
		s.log = slog.Default()
	}
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = withNosniff(withRequestID(withClientIP(o.TrustedProxies)(withLogging(s.log)(cleanPaths(mux)))))
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.log.With("request_id", requestID(r.Context())), err)
}
