package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/inmem"
	"github.com/phoneauth/phoneauth/phoneauthtest"
	"github.com/phoneauth/phoneauth/token"
)

// recordedRequest is one call of Metrics.Request, its duration left out.
type recordedRequest struct {
	route, method string
	status        int
}

// recorder is a Metrics that keeps what it is told.
type recorder struct {
	mu  sync.Mutex
	got []recordedRequest
}

func (r *recorder) Request(route, method string, status int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, recordedRequest{route, method, status})
}

// TestMetricsNameTheRouteNeverThePath covers what the service's own
// end-to-end test does not reach: the paths cleanPaths refuses before the
// mux and the mux's catch-all are unmatched, a 405 names its route.
func TestMetricsNameTheRouteNeverThePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path string
		want         recordedRequest
	}{
		{"GET", "/healthz", recordedRequest{"/healthz", "GET", 200}},
		{"DELETE", "/healthz", recordedRequest{"/healthz", "DELETE", 405}},
		{"GET", "/auth/api/login", recordedRequest{"/auth/api/login/", "GET", 405}},
		{"GET", "/auth/api/login/+14155550100", recordedRequest{"unmatched", "GET", 404}},
		{"GET", "/auth//login/", recordedRequest{"unmatched", "GET", 404}},
		{"GET", "/auth/./me/", recordedRequest{"unmatched", "GET", 404}},
		{"PROPFIND", "/auth/api/me/", recordedRequest{"/auth/api/me/", "other", 405}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			s := New(idleService(t), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: rec})
			r := httptest.NewRequest(tt.method, "http://auth.example"+tt.path, nil)
			s.ServeHTTP(httptest.NewRecorder(), r)
			if len(rec.got) != 1 || rec.got[0] != tt.want {
				t.Errorf("recorded %+v, want [%+v]", rec.got, tt.want)
			}
		})
	}
}

// idleService is a Service for requests that never reach a flow: its
// store is an empty shell.
func idleService(t *testing.T) *phoneauth.Service {
	t.Helper()
	signer, err := token.New([]byte(strings.Repeat("s", 32)), time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := phoneauth.New(phoneauth.Deps{
		Store:   struct{ phoneauth.Store }{},
		Sender:  &phoneauthtest.Sender{},
		Limiter: inmem.New(),
		Tokens:  signer,
		Policy:  phoneauth.DefaultPolicy(),
		Region:  "US",
		CodeKey: []byte(strings.Repeat("k", 16)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestMetricsCountAPanicAsThe500ItAnswers(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := withLogging(slog.New(slog.NewTextHandler(io.Discard, nil)))(withMetrics(rec, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if want := (recordedRequest{"unmatched", "GET", 500}); len(rec.got) != 1 || rec.got[0] != want || w.Code != 500 {
		t.Errorf("answered %d, recorded %+v; want 500 and [%+v]", w.Code, rec.got, want)
	}
}
