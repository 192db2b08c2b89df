// Package metrics exposes what phoneauth does as Prometheus metrics, on
// client_golang with a registry of its own: the counters the flows report
// through phoneauth.Metrics, the HTTP requests httpapi reports, and the
// time spent in the store, the limiter and the SMS provider, measured by
// the decorators of this package. No series is labelled with a phone
// number, a user ID or an address.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/phoneauth/phoneauth"
)

// Registry holds every phoneauth series. Build it with New; it is safe
// for concurrent use. It implements phoneauth.Metrics and the Metrics of
// httpapi.
type Registry struct {
	reg *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	smsSent         *prometheus.CounterVec
	codeChecks      *prometheus.CounterVec
	limited         *prometheus.CounterVec
	refreshReuse    prometheus.Counter
	revoked         *prometheus.CounterVec
	storeDuration   *prometheus.HistogramVec
	limiterDuration *prometheus.HistogramVec
}

// Build says which build is running, for phoneauth_build_info.
type Build struct {
	Version  string
	Revision string // the VCS revision, "unknown" if empty
}

// New returns a Registry with every phoneauth series, the Go runtime's and
// the process's.
func New(b Build) *Registry {
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneauth_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "phoneauth_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		smsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneauth_sms_sent_total",
			Help: "SMS handed to the provider, by purpose, provider and outcome (ok, failed).",
		}, []string{"purpose", "provider", "outcome"}),
		codeChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneauth_code_checks_total",
			Help: "Checks of an SMS code, by purpose and outcome (ok, wrong, expired, too_many_attempts, locked).",
		}, []string{"purpose", "outcome"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneauth_limited_total",
			Help: "Requests refused by a limit, by the limit's name.",
		}, []string{"limit"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneauth_refresh_reuse_total",
			Help: "Refreshes with a spent refresh token, each of which revoked its session.",
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneauth_sessions_revoked_total",
			Help: "Sessions revoked, by reason (logout, reuse).",
		}, []string{"reason"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "phoneauth_store_duration_seconds",
			Help:    "Time spent in a store operation, by operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"op"}),
		limiterDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "phoneauth_limiter_duration_seconds",
			Help:    "Time spent in a limiter operation, by operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"op"}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "phoneauth_build_info",
		Help: "Always 1, labelled with the running build's version and VCS revision.",
	}, []string{"version", "revision"})
	buildInfo.WithLabelValues(b.Version, b.Revision).Set(1)
	r.reg.MustRegister(
		r.httpRequests, r.httpDuration, r.smsSent, r.codeChecks, r.limited,
		r.refreshReuse, r.revoked, r.storeDuration, r.limiterDuration, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// Handler serves the exposition of every series, for GET /metrics.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Request counts one HTTP request answered with status after elapsed, on
// route (a route pattern, never a raw path) with method (one of a known
// few).
func (r *Registry) Request(route, method string, status int, elapsed time.Duration) {
	r.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	r.httpDuration.WithLabelValues(route).Observe(elapsed.Seconds())
}

// CodeChecked implements phoneauth.Metrics.
func (r *Registry) CodeChecked(p phoneauth.Purpose, outcome phoneauth.CodeOutcome) {
	r.codeChecks.WithLabelValues(string(p), string(outcome)).Inc()
}

// Limited implements phoneauth.Metrics. The limit is labelled by its name
// in snake case, as ip_rate or sms_phone.
func (r *Registry) Limited(l phoneauth.Limit) {
	r.limited.WithLabelValues(limitLabel(l)).Inc()
}

// RefreshReused implements phoneauth.Metrics.
func (r *Registry) RefreshReused() { r.refreshReuse.Inc() }

// SessionRevoked implements phoneauth.Metrics.
func (r *Registry) SessionRevoked(reason phoneauth.RevokeReason) {
	r.revoked.WithLabelValues(string(reason)).Inc()
}

// limitLabel is the value of the limit label for l: its name in snake
// case, as ip_rate for phoneauth.LimitIP.
func limitLabel(l phoneauth.Limit) string {
	return strings.ReplaceAll(string(l), " ", "_")
}

// since returns the seconds elapsed since start.
func since(start time.Time) float64 { return time.Since(start).Seconds() }
