package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/httpapi"
	"github.com/phoneauth/phoneauth/inmem"
	"github.com/phoneauth/phoneauth/phoneauthtest"
	"github.com/phoneauth/phoneauth/sqlite"
	"github.com/phoneauth/phoneauth/token"
)

// testSecret signs the tokens of every harness.
var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// harness is a real service on a real SQLite file behind httptest, with a
// recording SMS sender and a settable clock.
type harness struct {
	t      testing.TB
	srv    *httptest.Server
	sender *phoneauthtest.Sender
	clock  *phoneauthtest.Clock
	signer *token.Signer
}

type harnessOptions struct {
	policy         func(*phoneauth.Policy)
	trustedProxies []netip.Prefix
	// store replaces the default SQLite file in t.TempDir().
	store phoneauth.Store
	// limiter, if set, wraps the in-memory limiter, to inject faults.
	limiter func(phoneauth.Limiter) phoneauth.Limiter
	// clock replaces the harness's own, so that a restarted service
	// (a new harness on the same store) reads the same time.
	clock *phoneauthtest.Clock
	// log, if set, receives the service's log as JSON lines, Debug and up.
	log io.Writer
	// deps, if set, changes the service's dependencies before New.
	deps func(*phoneauth.Deps)
	// sender, if set, wraps the recording sender.
	sender func(phoneauth.Sender) phoneauth.Sender
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	st := o.store
	if st == nil {
		st = openSQLite(t)
	}
	policy := phoneauth.DefaultPolicy()
	policy.IPRateLimit = 0
	policy.IPVerifyRateLimit = 0
	policy.SMSPerHour = 0
	policy.SMSPerDay = 0
	policy.SMSPerPhoneDay = 0
	policy.SMSPerRangeHour = 0
	if o.policy != nil {
		o.policy(&policy)
	}
	clock := o.clock
	if clock == nil {
		clock = phoneauthtest.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	}
	signer, err := token.New(testSecret, policy.AccessTTL, policy.RefreshTTL)
	if err != nil {
		t.Fatal(err)
	}
	sender := &phoneauthtest.Sender{}
	var send phoneauth.Sender = sender
	if o.sender != nil {
		send = o.sender(sender)
	}
	var limiter phoneauth.Limiter = inmem.New(inmem.WithClock(clock.Now))
	if o.limiter != nil {
		limiter = o.limiter(limiter)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.log != nil {
		log = slog.New(slog.NewJSONHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	deps := phoneauth.Deps{
		Store:   st,
		Sender:  send,
		Limiter: limiter,
		Tokens:  signer,
		Policy:  policy,
		Region:  "US",
		CodeKey: phoneauth.DeriveKey(testSecret, "code-hash"),
		Now:     clock.Now,
		Log:     log,

		StoreName: "sqlite",
	}
	if o.deps != nil {
		o.deps(&deps)
	}
	svc, err := phoneauth.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{TrustedProxies: o.trustedProxies, Log: log}))
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, sender: sender, clock: clock, signer: signer}
}

func openSQLite(t testing.TB) phoneauth.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "phoneauth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// response is a decoded JSON answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// do sends a request with a raw body and decodes the JSON answer. Every
// answer must be JSON and carry X-Content-Type-Options: nosniff, and every
// 503 Retry-After: 2.
func (h *harness) do(method, path, contentType, body string, header map[string]string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Fatalf("%s %s: Content-Type = %q, want application/json", method, path, ct)
	}
	// Every answer of every test holds to the rules of every answer.
	if got := res.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
		h.t.Errorf("%s %s: X-Content-Type-Options = %q, want [nosniff]", method, path, got)
	}
	if got := res.Header.Get("Retry-After"); res.StatusCode == http.StatusServiceUnavailable && got != "2" {
		h.t.Errorf("%s %s: 503 with Retry-After %q, want 2", method, path, got)
	}
	out := response{status: res.StatusCode, header: res.Header}
	if err := json.NewDecoder(res.Body).Decode(&out.body); err != nil {
		h.t.Fatalf("%s %s: body is not a JSON object: %v", method, path, err)
	}
	return out
}

// post sends v as JSON.
func (h *harness) post(path string, v any) response {
	h.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(http.MethodPost, path, "application/json", string(b), nil)
}

// auth sends a bodiless request with a bearer token.
func (h *harness) auth(method, path, tok string) response {
	h.t.Helper()
	return h.do(method, path, "", "", map[string]string{"Authorization": "Bearer " + tok})
}

// want checks status and the exact body.
func want(t testing.TB, what string, got response, status int, body map[string]any) {
	t.Helper()
	if got.status != status {
		t.Errorf("%s: status = %d, want %d (body %v)", what, got.status, status, got.body)
	}
	if body == nil {
		return
	}
	gotJSON, _ := json.Marshal(got.body)
	wantJSON, _ := json.Marshal(body)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("%s: body = %s, want %s", what, gotJSON, wantJSON)
	}
}

func errBody(msg string) map[string]any { return map[string]any{"error": msg} }

// wrongCode returns a code of the default length that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// issue returns a token of type typ for subject sub, signed with the
// harness's secret at its clock's time, as another instance of the service
// would sign it.
func (h *harness) issue(typ phoneauth.TokenType, sub string) string {
	h.t.Helper()
	tok, err := h.signer.Issue(sub, typ, h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return tok.Raw
}

// register registers phone and returns the verification token.
func (h *harness) register(phone string) string {
	h.t.Helper()
	r := h.post("/auth/api/Register/", map[string]any{"phonenumber": phone})
	if r.status != http.StatusOK {
		h.t.Fatalf("register %s: %d %v", phone, r.status, r.body)
	}
	return r.str("token")
}

// verified registers and verifies phone (E.164).
func (h *harness) verified(phone string) {
	h.t.Helper()
	tok := h.register(phone)
	r := h.post("/auth/api/verify/", map[string]any{"code": h.sender.LastCode(phone), "token": tok, "phone": phone})
	if r.status != http.StatusOK {
		h.t.Fatalf("verify %s: %d %v", phone, r.status, r.body)
	}
}

// login asks for a login code and returns the user ID.
func (h *harness) login(phone string) string {
	h.t.Helper()
	r := h.post("/auth/api/login/", map[string]any{"phone": phone})
	if r.status != http.StatusOK {
		h.t.Fatalf("login %s: %d %v", phone, r.status, r.body)
	}
	return r.str("user_id")
}

// signIn runs the whole flow and returns the user ID and tokens.
func (h *harness) signIn(phone string) (userID, access, refresh string) {
	h.t.Helper()
	h.verified(phone)
	userID = h.login(phone)
	r := h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(phone), "user_id": userID})
	if r.status != http.StatusOK {
		h.t.Fatalf("login verify %s: %d %v", phone, r.status, r.body)
	}
	return userID, r.str("access_token"), r.str("refresh_token")
}

// logLines is a log destination that tests read while the server writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns the JSON lines written so far.
func (l *logLines) records(t testing.TB) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var recs []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// await returns the first record match accepts, failing t if none comes
// within 10 s.
func (l *logLines) await(t testing.TB, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, rec := range l.records(t) {
			if match(rec) {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("log line never came")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// within fails t unless ch delivers within 10 s.
func within[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10 s", what)
		panic("unreachable")
	}
}
