package sms_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// The example of the Standard Webhooks specification
// (https://www.standardwebhooks.com, repeated in Svix's documentation). It
// pins verifySignature to the spec, so that verifySignature, not the code
// under test, is the judge of the signatures Webhook writes.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = "1614265330"
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// verifySignature checks a request as a Standard Webhooks receiver would:
// the key is the base64 after "whsec_", or else the secret's bytes; the
// signed content is id.timestamp.body; the header is a space-separated
// list of "v1,<base64 HMAC-SHA256>", any of which may match.
func verifySignature(t *testing.T, secret, id, timestamp, signature string, body []byte) bool {
	t.Helper()
	key := []byte(secret)
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		var err error
		if key, err = base64.StdEncoding.DecodeString(b64); err != nil {
			t.Fatalf("test secret %q is not base64: %v", secret, err)
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte("."))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	want := mac.Sum(nil)
	for sig := range strings.FieldsSeq(signature) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func TestVerifySignatureFollowsSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		id, ts    string
		body      string
		signature string
		want      bool
	}{
		{"spec example verifies", specID, specTimestamp, specBody, specSignature, true},
		{"spec example among other signatures verifies", specID, specTimestamp, specBody, "v1,AAAA " + specSignature, true},
		{"tampered body fails", specID, specTimestamp, `{"test": 2432232315}`, specSignature, false},
		{"other id fails", "msg_other", specTimestamp, specBody, specSignature, false},
		{"other timestamp fails", specID, "1614265331", specBody, specSignature, false},
		{"other version fails", specID, specTimestamp, specBody, "v2" + specSignature[2:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := verifySignature(t, specSecret, tt.id, tt.ts, tt.signature, []byte(tt.body)); got != tt.want {
				t.Errorf("verifySignature = %v, want %v", got, tt.want)
			}
		})
	}
}

// request is what a test gateway received.
type request struct {
	method string
	header http.Header
	body   []byte
}

// gateway is a test SMS gateway on loopback that records each request and
// answers status.
type gateway struct {
	url  string
	mu   sync.Mutex
	reqs []request
}

func newGateway(t *testing.T, status int) *gateway {
	t.Helper()
	g := &gateway{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("gateway: read body: %v", err)
		}
		g.mu.Lock()
		g.reqs = append(g.reqs, request{method: r.Method, header: r.Header.Clone(), body: body})
		g.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte("gateway says hello"))
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

func (g *gateway) requests() []request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]request(nil), g.reqs...)
}

// only returns the single request g received.
func (g *gateway) only(t *testing.T) request {
	t.Helper()
	reqs := g.requests()
	if len(reqs) != 1 {
		t.Fatalf("gateway got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func newWebhook(t *testing.T, c sms.WebhookConfig) *sms.Webhook {
	t.Helper()
	w, err := sms.NewWebhook(c)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	return w
}

func loginMessage() phoneauth.Message {
	return phoneauth.Message{
		To:        "+15551234567",
		Text:      "Your login code is 482913",
		Code:      "482913",
		Purpose:   phoneauth.PurposeLogin,
		ExpiresIn: 5 * time.Minute,
	}
}

func TestWebhookSendBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  phoneauth.Message
		want map[string]any
	}{
		{
			name: "login message carries exactly its fields",
			msg:  loginMessage(),
			want: map[string]any{
				"to": "+15551234567", "message": "Your login code is 482913", "code": "482913",
				"purpose": "login", "expires_in": json.Number("300"),
			},
		},
		{
			name: "register message carries exactly its fields",
			msg: phoneauth.Message{
				To: "+447700900123", Text: "Code <1234> & welcome", Code: "1234",
				Purpose: phoneauth.PurposeRegister, ExpiresIn: 90 * time.Second,
			},
			want: map[string]any{
				"to": "+447700900123", "message": "Code <1234> & welcome", "code": "1234",
				"purpose": "register", "expires_in": json.Number("90"),
			},
		},
		{
			name: "deletion message carries exactly its fields",
			msg: phoneauth.Message{
				To: "+15551234567", Text: "Code 1234", Code: "1234",
				Purpose: phoneauth.PurposeDelete, ExpiresIn: 300 * time.Second,
			},
			want: map[string]any{
				"to": "+15551234567", "message": "Code 1234", "code": "1234",
				"purpose": "delete", "expires_in": json.Number("300"),
			},
		},
		{
			name: "expires_in is whole seconds rounded down",
			msg: phoneauth.Message{
				To: "+15551234567", Text: "Code 1234", Code: "1234",
				Purpose: phoneauth.PurposeLogin, ExpiresIn: 1999 * time.Millisecond,
			},
			want: map[string]any{
				"to": "+15551234567", "message": "Code 1234", "code": "1234",
				"purpose": "login", "expires_in": json.Number("1"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, http.StatusOK)
			w := newWebhook(t, sms.WebhookConfig{URL: g.url + "/sms"})

			if err := w.Send(context.Background(), tt.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			req := g.only(t)
			if req.method != http.MethodPost {
				t.Errorf("method = %s, want POST", req.method)
			}
			if got := req.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			dec := json.NewDecoder(bytes.NewReader(req.body))
			dec.UseNumber()
			var got map[string]any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("body is not a JSON object: %v\n%s", err, req.body)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("body = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name   string
		secret string
	}{
		{"whsec secret signs with its decoded key", "whsec_" + base64.StdEncoding.EncodeToString([]byte("a key of twenty-four+ bytes, binary \x00\xff"))},
		{"spec secret signs with its decoded key", specSecret},
		{"raw secret signs with its bytes", "plain shared secret, 24+ bytes"},
		{"raw secret that looks like base64 signs with its bytes", "c2VjcmV0LWtleS1ieXRlcw=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, http.StatusOK)
			w := newWebhook(t, sms.WebhookConfig{
				URL: g.url, Secret: tt.secret,
				Now: func() time.Time { return now },
			})
			for range 2 {
				if err := w.Send(context.Background(), loginMessage()); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}

			reqs := g.requests()
			if len(reqs) != 2 {
				t.Fatalf("gateway got %d requests, want 2", len(reqs))
			}
			for _, req := range reqs {
				id := req.header.Get("webhook-id")
				ts := req.header.Get("webhook-timestamp")
				sig := req.header.Get("webhook-signature")
				if !strings.HasPrefix(id, "msg_") || len(id) <= len("msg_") {
					t.Errorf("webhook-id = %q, want msg_ and a random part", id)
				}
				if want := strconv.FormatInt(now.Unix(), 10); ts != want {
					t.Errorf("webhook-timestamp = %q, want %q", ts, want)
				}
				if !verifySignature(t, tt.secret, id, ts, sig, req.body) {
					t.Errorf("signature %q does not verify", sig)
				}
				tampered := bytes.Replace(req.body, []byte("482913"), []byte("482914"), 1)
				if bytes.Equal(tampered, req.body) {
					t.Fatalf("body does not contain the code to tamper with: %s", req.body)
				}
				if verifySignature(t, tt.secret, id, ts, sig, tampered) {
					t.Errorf("signature %q verifies a tampered body", sig)
				}
			}
			if a, b := reqs[0].header.Get("webhook-id"), reqs[1].header.Get("webhook-id"); a == b {
				t.Errorf("two messages share webhook-id %q", a)
			}
		})
	}
}

func TestWebhookWithoutSecretSendsNoSignatureHeaders(t *testing.T) {
	t.Parallel()
	g := newGateway(t, http.StatusOK)
	w := newWebhook(t, sms.WebhookConfig{URL: g.url})

	if err := w.Send(context.Background(), loginMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}

	req := g.only(t)
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if v, ok := req.header[http.CanonicalHeaderKey(h)]; ok {
			t.Errorf("header %s = %q, want absent", h, v)
		}
	}
}

func TestWebhookStatus(t *testing.T) {
	t.Parallel()
	const secret = "whsec_c2VjcmV0LWtleS1ieXRlcy0yNC1sb25n" // "secret-key-bytes-24-long"
	tests := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"200 is success", http.StatusOK, false},
		{"202 is success", http.StatusAccepted, false},
		{"204 is success", http.StatusNoContent, false},
		{"400 is an error", http.StatusBadRequest, true},
		{"401 is an error", http.StatusUnauthorized, true},
		{"429 is an error", http.StatusTooManyRequests, true},
		{"500 is an error", http.StatusInternalServerError, true},
		{"503 is an error", http.StatusServiceUnavailable, true},
		{"304 is an error", http.StatusNotModified, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, tt.status)
			w := newWebhook(t, sms.WebhookConfig{URL: g.url + "/hook/pathtoken?key=querytoken", Secret: secret})
			msg := loginMessage()

			err := w.Send(context.Background(), msg)

			if tt.wantErr != (err != nil) {
				t.Fatalf("Send error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tt.status)) {
				t.Errorf("error %q does not name status %d", err, tt.status)
			}
			assertNoSecrets(t, err, msg.Code, secret, "pathtoken", "querytoken", "gateway says hello")
		})
	}
}

// assertNoSecrets fails t if err's text contains any of secrets.
func assertNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target := newGateway(t, http.StatusOK)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.url, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	w := newWebhook(t, sms.WebhookConfig{URL: redirector.URL})

	err := w.Send(context.Background(), loginMessage())

	if err == nil || !strings.Contains(err.Error(), "307") {
		t.Errorf("Send error = %v, want one naming 307", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

// hangingGateway returns the URL of a loopback server that answers no
// request until the client gives up, and a channel that receives once per
// request that reached it.
func hangingGateway(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first, so Close does not wait
	return srv.URL, arrived
}

func TestWebhookClientTimeoutIsAnError(t *testing.T) {
	t.Parallel()
	url, _ := hangingGateway(t)
	w := newWebhook(t, sms.WebhookConfig{
		URL:    url + "/hook/pathtoken?key=querytoken",
		Client: &http.Client{Timeout: 50 * time.Millisecond},
	})
	msg := loginMessage()

	err := w.Send(context.Background(), msg)

	if err == nil {
		t.Fatal("Send to a hanging gateway returned nil, want an error")
	}
	assertNoSecrets(t, err, msg.Code, "pathtoken", "querytoken")
}

func TestWebhookHonoursContext(t *testing.T) {
	t.Parallel()
	t.Run("canceled before sending is an error and nothing is sent", func(t *testing.T) {
		t.Parallel()
		g := newGateway(t, http.StatusOK)
		w := newWebhook(t, sms.WebhookConfig{URL: g.url})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		err := w.Send(ctx, loginMessage())

		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send error = %v, want context.Canceled", err)
		}
		if n := len(g.requests()); n != 0 {
			t.Errorf("gateway got %d requests, want 0", n)
		}
	})
	t.Run("canceled while the gateway is answering is an error", func(t *testing.T) {
		t.Parallel()
		url, arrived := hangingGateway(t)
		w := newWebhook(t, sms.WebhookConfig{URL: url})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)

		done := make(chan error, 1)
		go func() { done <- w.Send(ctx, loginMessage()) }()
		<-arrived
		cancel()

		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Send error = %v, want context.Canceled", err)
		}
	})
}

func TestWebhookRejectsUnknownPurpose(t *testing.T) {
	t.Parallel()
	g := newGateway(t, http.StatusOK)
	w := newWebhook(t, sms.WebhookConfig{URL: g.url})
	msg := loginMessage()
	msg.Purpose = "reset"

	if err := w.Send(context.Background(), msg); err == nil {
		t.Error("Send with purpose reset returned nil, want an error")
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("gateway got %d requests, want 0", n)
	}
}

func TestNewWebhookValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		url       string
		allowHTTP bool
		secret    string
		wantErr   bool
		private   string // must not appear in the error
		allowedBy string // the AllowedBy of the error
	}{
		{name: "http URL to 127.0.0.1 is accepted", url: "http://127.0.0.1:8080/sms"},
		{name: "http URL to another loopback address is accepted", url: "http://127.0.0.2:8080/sms"},
		{name: "http URL to ::1 is accepted", url: "http://[::1]:8080/sms"},
		{name: "http URL to localhost is accepted", url: "http://localhost:8080/sms"},
		{name: "http URL to LOCALHOST is accepted", url: "http://LOCALHOST/sms"},
		{name: "https URL with host is accepted", url: "https://sms.example/hook?key=k"},
		{name: "upper-case scheme is accepted", url: "HTTPS://sms.example/"},
		{name: "http URL to a remote host is rejected without quoting it", url: "http://sms.example/hook/topsecret", wantErr: true, private: "topsecret", allowedBy: "AllowHTTP"},
		{name: "upper-case http URL to a remote host is rejected", url: "HTTP://sms.example/", wantErr: true, allowedBy: "AllowHTTP"},
		{name: "http URL to a private address is rejected", url: "http://10.0.0.7:8080/", wantErr: true, allowedBy: "AllowHTTP"},
		{name: "http URL to every address is rejected", url: "http://0.0.0.0:8080/", wantErr: true, allowedBy: "AllowHTTP"},
		{name: "http URL to a name ending in localhost. is rejected", url: "http://localhost.:8080/", wantErr: true, allowedBy: "AllowHTTP"},
		{name: "http URL to a remote host is accepted with AllowHTTP", url: "http://sms.example/hook", allowHTTP: true},
		{name: "empty URL is rejected", url: "", wantErr: true},
		{name: "URL without scheme is rejected", url: "sms.example/hook", wantErr: true},
		{name: "host:port without scheme is rejected", url: "localhost:8080", wantErr: true},
		{name: "scheme-relative URL is rejected", url: "//sms.example/hook", wantErr: true},
		{name: "ftp URL is rejected", url: "ftp://sms.example/", wantErr: true},
		{name: "ftp URL is rejected with AllowHTTP", url: "ftp://sms.example/", allowHTTP: true, wantErr: true},
		{name: "mailto URL is rejected", url: "mailto:sms@example.org", wantErr: true},
		{name: "http URL without host is rejected", url: "http:///hook", wantErr: true},
		{name: "http URL with only a port is rejected", url: "http://:8080/", wantErr: true},
		{name: "opaque http URL is rejected", url: "http:sms.example", wantErr: true},
		{name: "unparsable URL is rejected without quoting it", url: "http://user:topsecret@sms.example/\x7f", wantErr: true, private: "topsecret"},
		{name: "whsec secret of a 24-byte key is accepted", url: "http://127.0.0.1/", secret: specSecret},
		{name: "whsec secret of a 23-byte key is rejected without quoting it", url: "http://127.0.0.1/", secret: "whsec_dHdlbnR5LXRocmVlLWJ5dGUta2V5ISE=", wantErr: true, private: "dHdlbnR5"},
		{name: "raw secret of 24 bytes is accepted", url: "http://127.0.0.1/", secret: "not base64 at all, 24 b!"},
		{name: "raw secret of 23 bytes is rejected without quoting it", url: "http://127.0.0.1/", secret: "not base64 at all, 23b!", wantErr: true, private: "base64"},
		{name: "whsec secret that is not base64 is rejected without quoting it", url: "http://127.0.0.1/", secret: "whsec_not*base64!", wantErr: true, private: "not*base64!"},
		{name: "whsec secret without a key is rejected", url: "http://127.0.0.1/", secret: "whsec_", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := sms.WebhookConfig{URL: tt.url, Secret: tt.secret, AllowHTTP: tt.allowHTTP}
			if verr := c.Validate(); tt.wantErr != (verr != nil) {
				t.Errorf("Validate = %v, want error: %v", verr, tt.wantErr)
			}
			w, err := sms.NewWebhook(c)
			if tt.wantErr != (err != nil) {
				t.Fatalf("NewWebhook error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if e, ok := errors.AsType[*sms.ConfigError](err); !ok {
				t.Errorf("NewWebhook error %v is not a *sms.ConfigError", err)
			} else if e.AllowedBy != tt.allowedBy {
				t.Errorf("NewWebhook error %v allowed by %q, want %q", err, e.AllowedBy, tt.allowedBy)
			}
			if w != nil {
				t.Errorf("NewWebhook returned %v with its error, want nil", w)
			}
			if tt.private != "" {
				assertNoSecrets(t, err, tt.private)
			}
		})
	}
}

// TestWebhookIgnoresProxyVariables sets the proxy variables, so it cannot
// run in parallel (t.Setenv). net/http reads them once per process, at the
// first request that consults them: running before every parallel test,
// this test is that first request, and it checks that net/http would send
// its URL through the proxy, or it would prove nothing.
func TestWebhookIgnoresProxyVariables(t *testing.T) {
	var contacted atomic.Int64
	proxy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the proxy answers nothing", http.StatusBadGateway)
	}))
	proxy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			contacted.Add(1)
		}
	}
	proxy.Start()
	t.Cleanup(proxy.Close)
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, proxy.URL)
	}
	for _, v := range []string{"NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(v, "")
	}
	g := newGateway(t, http.StatusOK)
	// LOCALHOST is loopback (/etc/hosts), but unlike localhost and
	// loopback addresses not exempt from the proxy variables.
	url := strings.Replace(g.url, "127.0.0.1", "LOCALHOST", 1)
	if p, err := http.ProxyFromEnvironment(httptest.NewRequest(http.MethodPost, url, nil)); err != nil || p == nil {
		t.Fatalf("net/http would not send %s through the proxy (%v, %v): the test proves nothing", url, p, err)
	}
	w := newWebhook(t, sms.WebhookConfig{URL: url})

	if err := w.Send(context.Background(), loginMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}

	g.only(t)
	if n := contacted.Load(); n != 0 {
		t.Errorf("the proxy got %d connections, want 0", n)
	}
}
