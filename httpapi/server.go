// Package httpapi serves the phoneauth flows over HTTP with the JSON API
// of the contract. Handlers decode, call one Service method and encode;
// error.go is the only place that turns errors into responses.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/phoneauth/phoneauth"
)

// Server is the HTTP face of a phoneauth.Service.
type Server struct {
	svc     *phoneauth.Service
	log     *slog.Logger
	handler http.Handler
	// routeNames maps each pattern routes registers to the route it
	// serves, for the metrics.
	routeNames map[string]string
}

// Options configure a Server.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	// Metrics is told of every request answered; nil counts nothing.
	Metrics Metrics
}

// Metrics counts HTTP requests. It is given the route, never the raw
// path, so its series stay few and carry nothing a client typed.
type Metrics interface {
	// Request counts one request answered with status after elapsed.
	// route is the route as registered, as "/auth/api/login/", or
	// "unmatched" when no route matched; method is one of the standard
	// methods, or "other".
	Request(route, method string, status int, elapsed time.Duration)
}

// New returns a Server for svc.
func New(svc *phoneauth.Service, o Options) *Server {
	s := &Server{svc: svc, log: o.Log, routeNames: map[string]string{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	mux := http.NewServeMux()
	s.routes(mux)
	var h http.Handler = cleanPaths(mux)
	if o.Metrics != nil {
		// Right around the mux, which sets r.Pattern on the request it
		// was given: no middleware in between may replace the request.
		h = withMetrics(o.Metrics, s.routeNames)(h)
	}
	s.handler = withNosniff(withRequestID(withClientIP(o.TrustedProxies)(withLogging(s.log)(h))))
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.log.With("request_id", requestID(r.Context())), err)
}
