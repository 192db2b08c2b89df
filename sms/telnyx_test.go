package sms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// apiRequest is what an apiFake received.
type apiRequest struct {
	method string
	path   string
	query  string
	header http.Header
	body   []byte
}

// apiFake is a provider's API on loopback: it records each request and
// answers what answer returns for it, as XML if the body starts with "<"
// and as JSON otherwise.
type apiFake struct {
	url  string
	mu   sync.Mutex
	reqs []apiRequest
}

func newAPIFake(t *testing.T, answer func(apiRequest) (status int, body string)) *apiFake {
	t.Helper()
	f := &apiFake{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("fake API: read body: %v", err)
		}
		req := apiRequest{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		status, out := answer(req)
		if strings.HasPrefix(out, "<") {
			w.Header().Set("Content-Type", "text/xml")
		} else if out != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// answering returns an answer func that always answers status and body.
func answering(status int, body string) func(apiRequest) (int, string) {
	return func(apiRequest) (int, string) { return status, body }
}

// only returns the single request f received.
func (f *apiFake) only(t *testing.T) apiRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 1 {
		t.Fatalf("fake API got %d requests, want 1", len(f.reqs))
	}
	return f.reqs[0]
}

// jsonFields decodes body, a JSON object, keeping numbers as json.Number.
func jsonFields(t *testing.T, body []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var got map[string]any
	if err := d.Decode(&got); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return got
}

// refusal is how a send's error must be classified.
type refusal struct {
	status        int
	code          string
	temporary     bool
	undeliverable bool
}

// checkRefusal fails t unless err is a *ProviderError of provider
// classified as want, which Retryable and errors.Is agree with, and whose
// text has none of private (credentials, the code, the text).
func checkRefusal(t *testing.T, err error, provider string, want refusal, private ...string) {
	t.Helper()
	pe, ok := errors.AsType[*sms.ProviderError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *sms.ProviderError", err, err)
	}
	got := refusal{status: pe.Status, code: pe.Code, temporary: pe.Temporary, undeliverable: pe.Undeliverable}
	if got != want || pe.Provider != provider {
		t.Errorf("%s refusal = %+v, want %+v: %v", pe.Provider, got, want, err)
	}
	if pe.Reason == "" {
		t.Errorf("refusal has no reason: %v", err)
	}
	if is := errors.Is(err, phoneauth.ErrCannotReceiveSMS); is != want.undeliverable {
		t.Errorf("errors.Is(err, ErrCannotReceiveSMS) = %v, want %v", is, want.undeliverable)
	}
	if r := sms.Retryable(err); r != (want.temporary && !want.undeliverable) {
		t.Errorf("Retryable = %v, want %v", r, want.temporary)
	}
	for _, p := range private {
		if strings.Contains(err.Error(), p) {
			t.Errorf("error repeats %q: %v", p, err)
		}
	}
}

// checkConfigFields fails t unless err joins one *sms.ConfigError of
// provider per field of want, in order.
func checkConfigFields(t *testing.T, err error, provider string, want []string) {
	t.Helper()
	var got []string
	if err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			ce, ok := errors.AsType[*sms.ConfigError](e)
			if !ok {
				t.Fatalf("error %v (%T) is not a *sms.ConfigError", e, e)
			}
			if ce.Provider != provider {
				t.Errorf("ConfigError.Provider = %q, want %q", ce.Provider, provider)
			}
			got = append(got, ce.Field)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields refused = %q, want %q (%v)", got, want, err)
	}
}

const telnyxKey = "KEY0123456789ABCDEF_hunter2"

// telnyxAccepted is Telnyx's answer to a message it accepts, as its
// reference shows it, abridged.
const telnyxAccepted = `{"data":{"record_type":"message","direction":"outbound",
"id":"40385f64-5717-4562-b3fc-2c963f66afa6","type":"SMS",
"messaging_profile_id":"4001767e-ce0f-4cae-9d5f-0d5e636e7809",
"from":{"phone_number":"+18445550001","carrier":"TELNYX LLC","line_type":"VoIP"},
"to":[{"phone_number":"+15551234567","status":"queued","carrier":"","line_type":""}],
"text":"Your login code is 482913","media":[],"encoding":"GSM-7","parts":1,"tags":[],
"cost":null,"received_at":"2026-01-23T18:10:02.574Z","sent_at":null,"completed_at":null,
"valid_until":null,"errors":[]}}`

// telnyxRefusal is Telnyx's answer refusing a request with code.
func telnyxRefusal(code, title string) string {
	return `{"errors":[{"code":"` + code + `","title":"` + title + `",
"detail":"Messages cannot be sent from +18445550001 to +15551234567.",
"meta":{"url":"https://developers.telnyx.com/docs/overview/errors/` + code + `"}}]}`
}

func newTelnyx(t *testing.T, c sms.TelnyxConfig) *sms.Telnyx {
	t.Helper()
	tx, err := sms.NewTelnyx(c)
	if err != nil {
		t.Fatalf("NewTelnyx: %v", err)
	}
	return tx
}

func TestTelnyxSendsTheDocumentedRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		from, profile string
		want          map[string]any
	}{
		{
			name: "from a number",
			from: "+18445550001",
			want: map[string]any{"from": "+18445550001", "to": "+15551234567", "text": "Your login code is 482913"},
		},
		{
			name:    "from the messaging profile's pool",
			profile: "4001767e-ce0f-4cae-9d5f-0d5e636e7809",
			want:    map[string]any{"messaging_profile_id": "4001767e-ce0f-4cae-9d5f-0d5e636e7809", "to": "+15551234567", "text": "Your login code is 482913"},
		},
		{
			name:    "from an alphanumeric sender of a profile",
			from:    "PhoneAuth",
			profile: "4001767e-ce0f-4cae-9d5f-0d5e636e7809",
			want: map[string]any{
				"from": "PhoneAuth", "messaging_profile_id": "4001767e-ce0f-4cae-9d5f-0d5e636e7809",
				"to": "+15551234567", "text": "Your login code is 482913",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newAPIFake(t, answering(http.StatusOK, telnyxAccepted))
			tx := newTelnyx(t, sms.TelnyxConfig{APIKey: telnyxKey, From: tt.from, MessagingProfileID: tt.profile, BaseURL: api.url})
			if err := tx.Send(context.Background(), loginMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			req := api.only(t)
			if req.method != http.MethodPost || req.path != "/v2/messages" || req.query != "" {
				t.Errorf("request = %s %s?%s, want POST /v2/messages", req.method, req.path, req.query)
			}
			if got := req.header.Get("Authorization"); got != "Bearer "+telnyxKey {
				t.Errorf("Authorization = %q, want the bearer key", got)
			}
			if got := req.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := jsonFields(t, req.body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("body = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTelnyxUsesItsPublicAPIByDefault(t *testing.T) {
	t.Parallel()
	var got string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(telnyxAccepted)), Request: r}, nil
	})}
	tx := newTelnyx(t, sms.TelnyxConfig{APIKey: telnyxKey, From: "+18445550001", Client: client})
	if err := tx.Send(context.Background(), loginMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if want := "https://api.telnyx.com/v2/messages"; got != want {
		t.Errorf("request to %q, want %q", got, want)
	}
}

func TestTelnyxClassifiesItsAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   refusal
	}{
		{"invalid 'to' address: undeliverable", 400, telnyxRefusal("40310", "Invalid 'to' address"), refusal{400, "40310", false, true}},
		{"landline, not routable: undeliverable", 400, telnyxRefusal("40001", "Not routable"), refusal{400, "40001", false, true}},
		{"carrier does not take SMS: undeliverable", 400, telnyxRefusal("40008", "Undeliverable"), refusal{400, "40008", false, true}},
		{"invalid destination: undeliverable", 400, telnyxRefusal("40012", "Invalid destination number"), refusal{400, "40012", false, true}},
		{"recipient sent STOP: undeliverable", 409, telnyxRefusal("40300", "Blocked due to STOP message"), refusal{409, "40300", false, true}},
		{"API key refused: permanent", 401, telnyxRefusal("10009", "Authentication failed"), refusal{401, "10009", false, false}},
		{"permission refused: permanent", 403, telnyxRefusal("10010", "Authorization failed"), refusal{403, "10010", false, false}},
		{"source number refused: permanent", 400, telnyxRefusal("40013", "Invalid source number"), refusal{400, "40013", false, false}},
		{"sender blocked as spam for good: permanent", 400, telnyxRefusal("40003", "Blocked as spam - permanent"), refusal{400, "40003", false, false}},
		{"spend limit, a 429 that lasts: permanent", 429, telnyxRefusal("40333", "Messaging profile spend limit reached"), refusal{429, "40333", false, false}},
		{"rate limited: temporary", 429, telnyxRefusal("10011", "Too many requests"), refusal{429, "10011", true, false}},
		{"spam filter for now: temporary", 400, telnyxRefusal("40002", "Blocked as spam - temporary"), refusal{400, "40002", true, false}},
		{"carrier rate limit: temporary", 400, telnyxRefusal("40011", "Too many requests"), refusal{400, "40011", true, false}},
		{"unexpected error: temporary", 500, telnyxRefusal("10007", "Unexpected error"), refusal{500, "10007", true, false}},
		{"unknown code of a 4xx: permanent", 422, telnyxRefusal("10015", "Bad Request"), refusal{422, "10015", false, false}},
		{"code as a number", 400, `{"errors":[{"code":40310,"title":"Invalid 'to' address"}]}`, refusal{400, "40310", false, true}},
		{"502 page of a proxy: temporary", 502, "<html>Bad gateway</html>", refusal{502, "", true, false}},
		{"503 without a body: temporary", 503, "", refusal{503, "", true, false}},
		{"429 without a body: temporary", 429, "", refusal{429, "", true, false}},
		{"401 without a body: permanent", 401, "", refusal{401, "", false, false}},
		{"redirect, not followed: permanent", 301, "", refusal{301, "", false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newAPIFake(t, answering(tt.status, tt.body))
			tx := newTelnyx(t, sms.TelnyxConfig{APIKey: telnyxKey, From: "+18445550001", BaseURL: api.url})
			m := loginMessage()
			err := tx.Send(context.Background(), m)
			checkRefusal(t, err, "telnyx", tt.want, telnyxKey, m.Code, m.Text, m.To)
		})
	}
}

func TestTelnyxWithoutAnAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more

	tests := []struct {
		name string
		ctx  func() context.Context
		want refusal
	}{
		{"connection refused: temporary", context.Background, refusal{temporary: true}},
		{"caller gone: not retried", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, refusal{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tx := newTelnyx(t, sms.TelnyxConfig{APIKey: telnyxKey, From: "+18445550001", BaseURL: url})
			checkRefusal(t, tx.Send(tt.ctx(), loginMessage()), "telnyx", tt.want, telnyxKey, "482913")
		})
	}
}

func TestTelnyxConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    sms.TelnyxConfig
		want []string // the fields refused, in order
	}{
		{"key and number", sms.TelnyxConfig{APIKey: "k", From: "+18445550001"}, nil},
		{"key and profile", sms.TelnyxConfig{APIKey: "k", MessagingProfileID: "p"}, nil},
		{"key, sender and profile, local fake", sms.TelnyxConfig{APIKey: "k", From: "Acme", MessagingProfileID: "p", BaseURL: "http://127.0.0.1:8080"}, nil},
		{"nothing", sms.TelnyxConfig{}, []string{"APIKey", "From"}},
		{"no key", sms.TelnyxConfig{From: "+18445550001"}, []string{"APIKey"}},
		{"neither sender nor profile", sms.TelnyxConfig{APIKey: "k"}, []string{"From"}},
		{"base URL in clear to a remote host", sms.TelnyxConfig{APIKey: "k", From: "+1", BaseURL: "http://api.telnyx.com"}, []string{"BaseURL"}},
		{"base URL not a URL", sms.TelnyxConfig{APIKey: "k", From: "+1", BaseURL: "api.telnyx.com"}, []string{"BaseURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.c.Validate()
			checkConfigFields(t, err, "telnyx", tt.want)
			if _, nerr := sms.NewTelnyx(tt.c); (nerr == nil) != (err == nil) {
				t.Errorf("NewTelnyx error %v, Validate error %v: want both or neither", nerr, err)
			}
			if err != nil && strings.Contains(err.Error(), "api.telnyx.com") {
				t.Errorf("error repeats the base URL: %v", err)
			}
		})
	}
}
