package sms_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// recordedRequest is what a fake provider API received.
type recordedRequest struct {
	method string
	path   string
	query  string
	header http.Header
	body   []byte
}

// recordingAPI is a provider's API on loopback that records each request
// and answers each with the same status and JSON body, as the provider
// documents them.
type recordingAPI struct {
	url  string
	mu   sync.Mutex
	reqs []recordedRequest
}

func newRecordingAPI(t *testing.T, status int, body string) *recordingAPI {
	t.Helper()
	a := &recordingAPI{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("fake API: read body: %v", err)
		}
		a.mu.Lock()
		a.reqs = append(a.reqs, recordedRequest{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: b})
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// only returns the single request a received.
func (a *recordingAPI) only(t *testing.T) recordedRequest {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.reqs) != 1 {
		t.Fatalf("fake API got %d requests, want 1", len(a.reqs))
	}
	return a.reqs[0]
}

// closedURL returns the URL of a loopback server that no longer listens:
// a request to it gets no answer.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// roundTripFunc is an http.RoundTripper in one function, for a client
// that must not reach any network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// urlRecorder returns a client that answers every request with status
// and body without sending it, and a function returning the URL of the
// last request.
func urlRecorder(status int, body string) (*http.Client, func() string) {
	var mu sync.Mutex
	var last string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		last = r.URL.String()
		mu.Unlock()
		return &http.Response{
			StatusCode: status,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(body)),
			Request:    r,
		}, nil
	})}
	return client, func() string { mu.Lock(); defer mu.Unlock(); return last }
}

// wantProviderError is how a failed send must be classified.
type wantProviderError struct {
	status        int    // the HTTP status; 0 if no answer
	code          string // the provider's error code
	temporary     bool
	undeliverable bool
	reason        string // a part of the Reason
}

// checkProviderError fails t unless err is a *sms.ProviderError of
// provider classified as want, whose text contains none of secrets.
func checkProviderError(t *testing.T, provider string, err error, want wantProviderError, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("Send = nil, want an error")
	}
	pe, ok := errors.AsType[*sms.ProviderError](err)
	if !ok {
		t.Fatalf("Send error %v (%T) is not a *sms.ProviderError", err, err)
	}
	if pe.Provider != provider || pe.Status != want.status || pe.Code != want.code ||
		pe.Temporary != want.temporary || pe.Undeliverable != want.undeliverable {
		t.Errorf("Send error = %+v, want provider %q status %d code %q temporary %v undeliverable %v",
			pe, provider, want.status, want.code, want.temporary, want.undeliverable)
	}
	if !strings.Contains(pe.Reason, want.reason) {
		t.Errorf("Reason = %q, want it to contain %q", pe.Reason, want.reason)
	}
	if got := errors.Is(err, phoneauth.ErrCannotReceiveSMS); got != want.undeliverable {
		t.Errorf("errors.Is(err, ErrCannotReceiveSMS) = %v, want %v", got, want.undeliverable)
	}
	if got := sms.Retryable(err); got != want.temporary {
		t.Errorf("Retryable = %v, want %v", got, want.temporary)
	}
	assertNoSecrets(t, err, secrets...)
}

// checkConfigErrors fails t unless err joins exactly one *sms.ConfigError
// of provider per field of want, in any order, whose text contains none
// of secrets.
func checkConfigErrors(t *testing.T, provider string, err error, want []string, secrets ...string) {
	t.Helper()
	var got []string
	if err != nil {
		j, ok := err.(interface{ Unwrap() []error })
		if !ok {
			t.Fatalf("Validate error %v does not join errors", err)
		}
		for _, e := range j.Unwrap() {
			ce, ok := errors.AsType[*sms.ConfigError](e)
			if !ok {
				t.Errorf("Validate error %v is not a *sms.ConfigError", e)
				continue
			}
			if ce.Provider != provider {
				t.Errorf("ConfigError provider = %q, want %q", ce.Provider, provider)
			}
			got = append(got, ce.Field)
		}
		assertNoSecrets(t, err, secrets...)
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("Validate refuses fields %q, want %q; error: %v", got, want, err)
	}
}
