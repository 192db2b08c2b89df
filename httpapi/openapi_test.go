package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
)

// faultStore is a real store that, while fail holds an error, fails every
// flow's first write or read with it: an unknown error for a 500,
// phoneauth.ErrUnavailable for a 503.
type faultStore struct {
	phoneauth.Store
	fail atomic.Pointer[error]
}

// failWith makes every call fail with err from now on.
func (s *faultStore) failWith(err error) { s.fail.Store(&err) }

func (s *faultStore) err() error {
	if p := s.fail.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *faultStore) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) (time.Time, error) {
	if err := s.err(); err != nil {
		return time.Time{}, err
	}
	return s.Store.Register(ctx, u, c, now)
}

func (s *faultStore) UserByPhone(ctx context.Context, phone string) (phoneauth.User, error) {
	if err := s.err(); err != nil {
		return phoneauth.User{}, err
	}
	return s.Store.UserByPhone(ctx, phone)
}

func (s *faultStore) PutLoginChallenge(ctx context.Context, phone string, c phoneauth.Challenge, notBefore time.Time) (phoneauth.User, time.Time, error) {
	if err := s.err(); err != nil {
		return phoneauth.User{}, time.Time{}, err
	}
	return s.Store.PutLoginChallenge(ctx, phone, c, notBefore)
}

func (s *faultStore) VerifyRegistration(ctx context.Context, challengeID, phone string, t phoneauth.Try) (phoneauth.User, error) {
	if err := s.err(); err != nil {
		return phoneauth.User{}, err
	}
	return s.Store.VerifyRegistration(ctx, challengeID, phone, t)
}

func (s *faultStore) VerifyLogin(ctx context.Context, userID string, t phoneauth.Try, ses phoneauth.Session) (phoneauth.User, error) {
	if err := s.err(); err != nil {
		return phoneauth.User{}, err
	}
	return s.Store.VerifyLogin(ctx, userID, t, ses)
}

func (s *faultStore) RotateRefresh(ctx context.Context, r phoneauth.Rotation) (phoneauth.Session, error) {
	if err := s.err(); err != nil {
		return phoneauth.Session{}, err
	}
	return s.Store.RotateRefresh(ctx, r)
}

func (s *faultStore) RevokeToken(ctx context.Context, r phoneauth.Revocation) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.RevokeToken(ctx, r)
}

func (s *faultStore) AccessUser(ctx context.Context, userID string, t phoneauth.TokenRef) (phoneauth.User, error) {
	if err := s.err(); err != nil {
		return phoneauth.User{}, err
	}
	return s.Store.AccessUser(ctx, userID, t)
}

func (s *faultStore) PutChallenge(ctx context.Context, c phoneauth.Challenge, notBefore time.Time) (time.Time, time.Time, error) {
	if err := s.err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return s.Store.PutChallenge(ctx, c, notBefore)
}

func (s *faultStore) DeleteAccount(ctx context.Context, userID string, access phoneauth.TokenRef, t phoneauth.Try) (phoneauth.User, error) {
	if err := s.err(); err != nil {
		return phoneauth.User{}, err
	}
	return s.Store.DeleteAccount(ctx, userID, access, t)
}

func (s *faultStore) ChangePhone(ctx context.Context, userID string, access phoneauth.TokenRef, t phoneauth.Try) (phoneauth.User, error) {
	if err := s.err(); err != nil {
		return phoneauth.User{}, err
	}
	return s.Store.ChangePhone(ctx, userID, access, t)
}

var (
	errDiskOnFire = errors.New("disk on fire")
	errDown       = fmt.Errorf("connection refused: %w", phoneauth.ErrUnavailable)
)

// call is one HTTP request of a documented case.
type call struct {
	method, path, contentType, body string
	header                          http.Header
}

func jsonPost(path, body string) call {
	return call{method: http.MethodPost, path: path, contentType: "application/json", body: body}
}

func withBearer(method, path, tok string) call {
	return call{method: method, path: path, header: http.Header{"Authorization": {"Bearer " + tok}}}
}

func (c call) request(t *testing.T, base string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range c.header {
		req.Header[k] = slices.Clone(vs)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	return req
}

// docCase drives the server to one documented response.
type docCase struct {
	name   string
	policy func(*phoneauth.Policy)
	opts   func(*harnessOptions)
	// prepare brings the service to the state the case needs and returns
	// its request.
	prepare func(h *harness, st *faultStore) call
	status  int
	// outside marks a request the document does not allow (not JSON, a
	// field missing, no bearer token): the validator must refuse it.
	outside bool
}

// checkBearer stands for the bearer scheme in request validation: a
// request conforms when it carries exactly one Authorization header of the
// Bearer scheme with a token, whether or not the server accepts the token.
func checkBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	values := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(values) != 1 {
		return fmt.Errorf("want one Authorization header, got %d", len(values))
	}
	scheme, tok, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("not a bearer token")
	}
	return nil
}

func loadDoc(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	data, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// documentedCases returns a case for every (path, method, status) of
// openapi.json, and then some.
func documentedCases() []docCase {
	const phone = "+14155550300"
	register := func(path string) []docCase {
		body := `{"phonenumber":"` + phone + `"}`
		req := func(*harness, *faultStore) call { return jsonPost(path, body) }
		return []docCase{
			{name: "registered", prepare: req, status: 200},
			{name: "charset parameter", prepare: func(*harness, *faultStore) call {
				c := jsonPost(path, body)
				c.contentType = "application/json; charset=utf-8"
				return c
			}, status: 200},
			{name: "not JSON", prepare: func(*harness, *faultStore) call {
				c := jsonPost(path, body)
				c.contentType = "text/plain"
				return c
			}, status: 400, outside: true},
			{name: "malformed JSON", prepare: func(*harness, *faultStore) call { return jsonPost(path, `{"phonenumber":`) }, status: 400, outside: true},
			{name: "not an object", prepare: func(*harness, *faultStore) call { return jsonPost(path, `["`+phone+`"]`) }, status: 400, outside: true},
			// Outside the document too, but kin-openapi reads only the
			// first JSON value of a body, so it cannot tell.
			{name: "two objects", prepare: func(*harness, *faultStore) call { return jsonPost(path, body+`{}`) }, status: 400},
			{name: "field of the wrong type", prepare: func(*harness, *faultStore) call { return jsonPost(path, `{"phonenumber":14155550300}`) }, status: 400, outside: true},
			{name: "field missing", prepare: func(*harness, *faultStore) call { return jsonPost(path, `{}`) }, status: 400, outside: true},
			{name: "field blank", prepare: func(*harness, *faultStore) call { return jsonPost(path, `{"phonenumber":"  "}`) }, status: 400, outside: true},
			{name: "invalid number", prepare: func(*harness, *faultStore) call { return jsonPost(path, `{"phonenumber":"call me"}`) }, status: 400},
			{name: "number that cannot receive SMS", prepare: func(*harness, *faultStore) call {
				return jsonPost(path, `{"phonenumber":"+15550100000"}`)
			}, status: 400},
			{name: "account exists", prepare: func(h *harness, _ *faultStore) call { h.verified(phone); return req(h, nil) }, status: 409},
			{name: "body too large", prepare: func(*harness, *faultStore) call {
				return jsonPost(path, `{"phonenumber":"`+phone+`","x":"`+strings.Repeat("a", 17<<10)+`"}`)
			}, status: 413},
			{name: "per-IP limit", policy: func(p *phoneauth.Policy) { p.IPRateLimit = 1 },
				prepare: func(h *harness, _ *faultStore) call { h.register("+14155550301"); return req(h, nil) }, status: 429},
			{name: "SMS budget spent", policy: func(p *phoneauth.Policy) { p.SMSPerHour = 1 },
				prepare: func(h *harness, _ *faultStore) call { h.register("+14155550301"); return req(h, nil) }, status: 429},
			{name: "unknown failure", prepare: func(h *harness, st *faultStore) call { st.failWith(errDiskOnFire); return req(h, nil) }, status: 500},
			{name: "SMS refused", prepare: func(h *harness, _ *faultStore) call { h.sender.Fail(true); return req(h, nil) }, status: 502},
			{name: "database down", prepare: func(h *harness, st *faultStore) call { st.failWith(errDown); return req(h, nil) }, status: 503},
		}
	}

	verify := func(h *harness, code func(string) string) call {
		tok := h.register(phone)
		return jsonPost("/auth/api/verify/", fmt.Sprintf(`{"code":%q,"token":%q,"phone":%q}`, code(h.sender.LastCode(phone)), tok, phone))
	}
	same := func(c string) string { return c }
	verifyCases := []docCase{
		{name: "verified", prepare: func(h *harness, _ *faultStore) call { return verify(h, same) }, status: 200},
		{name: "wrong code", prepare: func(h *harness, _ *faultStore) call { return verify(h, wrongCode) }, status: 400},
		{name: "unknown token", prepare: func(*harness, *faultStore) call {
			return jsonPost("/auth/api/verify/", fmt.Sprintf(`{"code":"123456","token":%q,"phone":%q}`, uuid.NewString(), phone))
		}, status: 400},
		{name: "fields missing", prepare: func(*harness, *faultStore) call { return jsonPost("/auth/api/verify/", `{"phone":"`+phone+`"}`) }, status: 400, outside: true},
		{name: "body too large", prepare: func(*harness, *faultStore) call {
			return jsonPost("/auth/api/verify/", `{"code":"1","token":"t","phone":"`+strings.Repeat("1", 17<<10)+`"}`)
		}, status: 413},
		{name: "too many wrong codes", policy: func(p *phoneauth.Policy) { p.MaxAttempts = 1 },
			prepare: func(h *harness, _ *faultStore) call { return verify(h, wrongCode) }, status: 429},
		{name: "unknown failure", prepare: func(h *harness, st *faultStore) call {
			c := verify(h, same)
			st.failWith(errDiskOnFire)
			return c
		}, status: 500},
		{name: "database down", prepare: func(h *harness, st *faultStore) call {
			c := verify(h, same)
			st.failWith(errDown)
			return c
		}, status: 503},
	}

	loginBody := `{"phone":"` + phone + `"}`
	login := func(*harness, *faultStore) call { return jsonPost("/auth/api/login/", loginBody) }
	verifiedLogin := func(h *harness, _ *faultStore) call { h.verified(phone); return login(h, nil) }
	loginCases := []docCase{
		{name: "code sent", prepare: verifiedLogin, status: 200},
		{name: "number that cannot receive SMS", prepare: func(*harness, *faultStore) call {
			return jsonPost("/auth/api/login/", `{"phone":"+15550100000"}`)
		}, status: 400},
		{name: "field missing", prepare: func(*harness, *faultStore) call { return jsonPost("/auth/api/login/", `{"phonenumber":"`+phone+`"}`) }, status: 400, outside: true},
		{name: "not verified", prepare: func(h *harness, _ *faultStore) call { h.register(phone); return login(h, nil) }, status: 403},
		{name: "no such account", prepare: login, status: 404},
		{name: "body too large", prepare: func(*harness, *faultStore) call {
			return jsonPost("/auth/api/login/", `{"phone":"`+strings.Repeat("1", 17<<10)+`"}`)
		}, status: 413},
		{name: "login throttle", prepare: func(h *harness, _ *faultStore) call { h.verified(phone); h.login(phone); return login(h, nil) }, status: 429},
		{name: "account locked", policy: func(p *phoneauth.Policy) { p.LockoutThreshold = 1 },
			prepare: func(h *harness, _ *faultStore) call {
				h.verified(phone)
				id := h.login(phone)
				h.post("/auth/api/login/verify/", map[string]any{"code": wrongCode(h.sender.LastCode(phone)), "user_id": id})
				return login(h, nil)
			}, status: 429},
		{name: "unknown failure", prepare: func(h *harness, st *faultStore) call { st.failWith(errDiskOnFire); return login(h, nil) }, status: 500},
		{name: "SMS refused", prepare: func(h *harness, _ *faultStore) call {
			h.verified(phone)
			h.sender.Fail(true)
			return login(h, nil)
		}, status: 502},
		{name: "database down", prepare: func(h *harness, st *faultStore) call { st.failWith(errDown); return login(h, nil) }, status: 503},
	}

	loginVerify := func(h *harness, code func(string) string) call {
		h.verified(phone)
		id := h.login(phone)
		return jsonPost("/auth/api/login/verify/", fmt.Sprintf(`{"code":%q,"user_id":%q}`, code(h.sender.LastCode(phone)), id))
	}
	loginVerifyCases := []docCase{
		{name: "signed in", prepare: func(h *harness, _ *faultStore) call { return loginVerify(h, same) }, status: 200},
		{name: "wrong code", prepare: func(h *harness, _ *faultStore) call { return loginVerify(h, wrongCode) }, status: 400},
		{name: "login first", prepare: func(*harness, *faultStore) call {
			return jsonPost("/auth/api/login/verify/", `{"code":"123456","user_id":"`+uuid.NewString()+`"}`)
		}, status: 400},
		{name: "body too large", prepare: func(*harness, *faultStore) call {
			return jsonPost("/auth/api/login/verify/", `{"code":"1","user_id":"`+strings.Repeat("1", 17<<10)+`"}`)
		}, status: 413},
		{name: "too many wrong codes", policy: func(p *phoneauth.Policy) { p.MaxAttempts = 1 },
			prepare: func(h *harness, _ *faultStore) call { return loginVerify(h, wrongCode) }, status: 429},
		{name: "unknown failure", prepare: func(h *harness, st *faultStore) call {
			c := loginVerify(h, same)
			st.failWith(errDiskOnFire)
			return c
		}, status: 500},
		{name: "database down", prepare: func(h *harness, st *faultStore) call {
			c := loginVerify(h, same)
			st.failWith(errDown)
			return c
		}, status: 503},
	}

	// tokenCases are the cases of an endpoint that takes a bearer token;
	// pick chooses the token it wants of a fresh session.
	tokenCases := func(method, path string, pick func(access, refresh string) string) []docCase {
		signedIn := func(h *harness) string {
			_, access, refresh := h.signIn(phone)
			return pick(access, refresh)
		}
		return []docCase{
			{name: "accepted", prepare: func(h *harness, _ *faultStore) call { return withBearer(method, path, signedIn(h)) }, status: 200},
			{name: "no Authorization header", prepare: func(*harness, *faultStore) call { return call{method: method, path: path} }, status: 401, outside: true},
			{name: "another scheme", prepare: func(*harness, *faultStore) call {
				return call{method: method, path: path, header: http.Header{"Authorization": {"Basic abc"}}}
			}, status: 401, outside: true},
			{name: "two Authorization headers", prepare: func(h *harness, _ *faultStore) call {
				tok := signedIn(h)
				return call{method: method, path: path, header: http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}}
			}, status: 401, outside: true},
			{name: "garbage token", prepare: func(*harness, *faultStore) call { return withBearer(method, path, "abc.def.ghi") }, status: 401},
			{name: "expired token", prepare: func(h *harness, _ *faultStore) call {
				tok := signedIn(h)
				h.clock.Advance(phoneauth.DefaultPolicy().RefreshTTL + time.Second)
				return withBearer(method, path, tok)
			}, status: 401},
			{name: "unknown subject", prepare: func(h *harness, _ *faultStore) call {
				return withBearer(method, path, pick(h.issue(phoneauth.TokenAccess, uuid.NewString()), h.issue(phoneauth.TokenRefresh, uuid.NewString())))
			}, status: 401},
			{name: "unknown failure", prepare: func(h *harness, st *faultStore) call {
				tok := signedIn(h)
				st.failWith(errDiskOnFire)
				return withBearer(method, path, tok)
			}, status: 500},
			{name: "database down", prepare: func(h *harness, st *faultStore) call {
				tok := signedIn(h)
				st.failWith(errDown)
				return withBearer(method, path, tok)
			}, status: 503},
		}
	}
	access := func(a, _ string) string { return a }
	refresh := func(_, r string) string { return r }

	const deletePath, deleteVerifyPath = "/auth/api/me/delete/", "/auth/api/me/delete/verify/"
	signedIn := func(h *harness) string { _, a, _ := h.signIn(phone); return a }
	deleteRequestCases := append(tokenCases(http.MethodPost, deletePath, access),
		docCase{name: "number that can no longer receive SMS", opts: func(o *harnessOptions) {
			o.deps = func(d *phoneauth.Deps) {
				d.TestNumbers = map[string]string{"+15550100000": "123456"}
				d.TestNumbersUntil = d.Now().Add(time.Minute)
			}
		}, prepare: func(h *harness, _ *faultStore) call {
			// Signed in with a test number, which then stops working.
			const test = "+15550100000"
			tok := h.register(test)
			h.post("/auth/api/verify/", map[string]any{"code": "123456", "token": tok, "phone": test})
			r := h.post("/auth/api/login/verify/", map[string]any{"code": "123456", "user_id": h.login(test)})
			h.clock.Advance(2 * time.Minute)
			return withBearer(http.MethodPost, deletePath, r.str("access_token"))
		}, status: 400},
		docCase{name: "deletion code sent recently", prepare: func(h *harness, _ *faultStore) call {
			tok := signedIn(h)
			h.auth(http.MethodPost, deletePath, tok)
			return withBearer(http.MethodPost, deletePath, tok)
		}, status: 429},
		docCase{name: "SMS refused", prepare: func(h *harness, _ *faultStore) call {
			tok := signedIn(h)
			h.sender.Fail(true)
			return withBearer(http.MethodPost, deletePath, tok)
		}, status: 502},
	)
	// deleteVerify signs in, asks for a deletion code and returns the
	// request that answers it with code(the code sent).
	deleteVerify := func(h *harness, code func(string) string) call {
		tok := signedIn(h)
		if r := h.auth(http.MethodPost, deletePath, tok); r.status != http.StatusOK {
			h.t.Fatalf("request deletion: %d %v", r.status, r.body)
		}
		c := jsonPost(deleteVerifyPath, fmt.Sprintf(`{"code":%q}`, code(h.sender.LastCode(phone))))
		c.header = http.Header{"Authorization": {"Bearer " + tok}}
		return c
	}
	deleteVerifyCases := []docCase{
		{name: "deleted", prepare: func(h *harness, _ *faultStore) call { return deleteVerify(h, same) }, status: 200},
		{name: "wrong code", prepare: func(h *harness, _ *faultStore) call { return deleteVerify(h, wrongCode) }, status: 400},
		{name: "no deletion code requested", prepare: func(h *harness, _ *faultStore) call {
			c := jsonPost(deleteVerifyPath, `{"code":"123456"}`)
			c.header = http.Header{"Authorization": {"Bearer " + signedIn(h)}}
			return c
		}, status: 400},
		{name: "field missing", prepare: func(h *harness, _ *faultStore) call {
			c := deleteVerify(h, same)
			c.body = `{}`
			return c
		}, status: 400, outside: true},
		{name: "no Authorization header", prepare: func(*harness, *faultStore) call {
			return jsonPost(deleteVerifyPath, `{"code":"123456"}`)
		}, status: 401, outside: true},
		{name: "garbage token", prepare: func(*harness, *faultStore) call {
			c := jsonPost(deleteVerifyPath, `{"code":"123456"}`)
			c.header = http.Header{"Authorization": {"Bearer abc.def.ghi"}}
			return c
		}, status: 401},
		{name: "body too large", prepare: func(h *harness, _ *faultStore) call {
			c := deleteVerify(h, same)
			c.body = `{"code":"` + strings.Repeat("1", 17<<10) + `"}`
			return c
		}, status: 413},
		{name: "too many wrong codes", policy: func(p *phoneauth.Policy) { p.MaxAttempts = 1 },
			prepare: func(h *harness, _ *faultStore) call { return deleteVerify(h, wrongCode) }, status: 429},
		{name: "unknown failure", prepare: func(h *harness, st *faultStore) call {
			c := deleteVerify(h, same)
			st.failWith(errDiskOnFire)
			return c
		}, status: 500},
		{name: "database down", prepare: func(h *harness, st *faultStore) call {
			c := deleteVerify(h, same)
			st.failWith(errDown)
			return c
		}, status: 503},
	}

	get := func(path string) func(*harness, *faultStore) call {
		return func(*harness, *faultStore) call { return call{method: http.MethodGet, path: path} }
	}
	operations := []docCase{
		{name: "GET /healthz", prepare: get("/healthz"), status: 200},
		{name: "GET /readyz ready", prepare: get("/readyz"), status: 200},
		{name: "GET /readyz redis down", opts: func(o *harnessOptions) {
			o.limiter = func(l phoneauth.Limiter) phoneauth.Limiter { return downLimiter{l} }
			o.deps = func(d *phoneauth.Deps) { d.LimiterName = "redis" }
		}, prepare: get("/readyz"), status: 503},
		{name: "GET /auth/api/openapi.json", prepare: get("/auth/api/openapi.json"), status: 200},
	}

	var cases []docCase
	add := func(prefix string, cs []docCase) {
		for _, c := range cs {
			c.name = strings.TrimSpace(prefix + " " + c.name)
			cases = append(cases, c)
		}
	}
	add("POST /auth/api/Register/", register("/auth/api/Register/"))
	add("POST /auth/api/register/", register("/auth/api/register/"))
	add("POST /auth/api/verify/", verifyCases)
	add("POST /auth/api/login/", loginCases)
	add("POST /auth/api/login/verify/", loginVerifyCases)
	add("POST /auth/api/token/refresh/", tokenCases(http.MethodPost, "/auth/api/token/refresh/", refresh))
	add("POST /auth/api/logout/", tokenCases(http.MethodPost, "/auth/api/logout/", access))
	add("POST /auth/api/logout/ with the refresh token", tokenCases(http.MethodPost, "/auth/api/logout/", refresh)[:1])
	add("GET /auth/api/me/", tokenCases(http.MethodGet, "/auth/api/me/", access))
	add("GET /auth/api/me/ with the refresh token", []docCase{{name: "refused", prepare: func(h *harness, _ *faultStore) call {
		_, _, r := h.signIn(phone)
		return withBearer(http.MethodGet, "/auth/api/me/", r)
	}, status: 401}})
	const phonePath, phoneVerifyPath, newPhone = "/auth/api/me/phone/", "/auth/api/me/phone/verify/", "+14155550310"
	bearerJSON := func(path, tok, body string) call {
		c := jsonPost(path, body)
		c.header = http.Header{"Authorization": {"Bearer " + tok}}
		return c
	}
	phoneBody := `{"phone":"` + newPhone + `"}`
	phoneRequest := func(h *harness, _ *faultStore) call { return bearerJSON(phonePath, signedIn(h), phoneBody) }
	phoneRequestCases := []docCase{
		{name: "code sent", prepare: phoneRequest, status: 200},
		{name: "invalid number", prepare: func(h *harness, _ *faultStore) call {
			return bearerJSON(phonePath, signedIn(h), `{"phone":"call me"}`)
		}, status: 400},
		{name: "number that cannot receive SMS", prepare: func(h *harness, _ *faultStore) call {
			return bearerJSON(phonePath, signedIn(h), `{"phone":"+15550100000"}`)
		}, status: 400},
		{name: "field missing", prepare: func(h *harness, _ *faultStore) call {
			return bearerJSON(phonePath, signedIn(h), `{}`)
		}, status: 400, outside: true},
		{name: "no Authorization header", prepare: func(*harness, *faultStore) call { return jsonPost(phonePath, phoneBody) }, status: 401, outside: true},
		{name: "garbage token", prepare: func(*harness, *faultStore) call { return bearerJSON(phonePath, "abc.def.ghi", phoneBody) }, status: 401},
		{name: "the number has an account", prepare: func(h *harness, st *faultStore) call {
			h.verified(newPhone)
			return phoneRequest(h, st)
		}, status: 409},
		{name: "body too large", prepare: func(h *harness, _ *faultStore) call {
			return bearerJSON(phonePath, signedIn(h), `{"phone":"`+strings.Repeat("1", 17<<10)+`"}`)
		}, status: 413},
		{name: "code sent recently", prepare: func(h *harness, st *faultStore) call {
			c := phoneRequest(h, st)
			h.do(c.method, c.path, c.contentType, c.body, map[string]string{"Authorization": c.header.Get("Authorization")})
			return c
		}, status: 429},
		{name: "unknown failure", prepare: func(h *harness, st *faultStore) call {
			c := phoneRequest(h, st)
			st.failWith(errDiskOnFire)
			return c
		}, status: 500},
		{name: "SMS refused", prepare: func(h *harness, st *faultStore) call {
			c := phoneRequest(h, st)
			h.sender.Fail(true)
			return c
		}, status: 502},
		{name: "database down", prepare: func(h *harness, st *faultStore) call {
			c := phoneRequest(h, st)
			st.failWith(errDown)
			return c
		}, status: 503},
	}
	// phoneVerify signs in, asks for a code to newPhone and returns the
	// request that answers it with code(the code sent).
	phoneVerify := func(h *harness, code func(string) string) call {
		tok := signedIn(h)
		c := bearerJSON(phonePath, tok, phoneBody)
		if r := h.do(c.method, c.path, c.contentType, c.body, map[string]string{"Authorization": "Bearer " + tok}); r.status != http.StatusOK {
			h.t.Fatalf("request phone change: %d %v", r.status, r.body)
		}
		return bearerJSON(phoneVerifyPath, tok, fmt.Sprintf(`{"code":%q}`, code(h.sender.LastCode(newPhone))))
	}
	phoneVerifyCases := []docCase{
		{name: "changed", prepare: func(h *harness, _ *faultStore) call { return phoneVerify(h, same) }, status: 200},
		{name: "wrong code", prepare: func(h *harness, _ *faultStore) call { return phoneVerify(h, wrongCode) }, status: 400},
		{name: "no code requested", prepare: func(h *harness, _ *faultStore) call {
			return bearerJSON(phoneVerifyPath, signedIn(h), `{"code":"123456"}`)
		}, status: 400},
		{name: "field missing", prepare: func(h *harness, _ *faultStore) call {
			c := phoneVerify(h, same)
			c.body = `{}`
			return c
		}, status: 400, outside: true},
		{name: "no Authorization header", prepare: func(*harness, *faultStore) call {
			return jsonPost(phoneVerifyPath, `{"code":"123456"}`)
		}, status: 401, outside: true},
		{name: "garbage token", prepare: func(*harness, *faultStore) call {
			return bearerJSON(phoneVerifyPath, "abc.def.ghi", `{"code":"123456"}`)
		}, status: 401},
		{name: "number taken since the code was sent", prepare: func(h *harness, _ *faultStore) call {
			c := phoneVerify(h, same)
			h.register(newPhone)
			return c
		}, status: 409},
		{name: "body too large", prepare: func(h *harness, _ *faultStore) call {
			c := phoneVerify(h, same)
			c.body = `{"code":"` + strings.Repeat("1", 17<<10) + `"}`
			return c
		}, status: 413},
		{name: "too many wrong codes", policy: func(p *phoneauth.Policy) { p.MaxAttempts = 1 },
			prepare: func(h *harness, _ *faultStore) call { return phoneVerify(h, wrongCode) }, status: 429},
		{name: "unknown failure", prepare: func(h *harness, st *faultStore) call {
			c := phoneVerify(h, same)
			st.failWith(errDiskOnFire)
			return c
		}, status: 500},
		{name: "database down", prepare: func(h *harness, st *faultStore) call {
			c := phoneVerify(h, same)
			st.failWith(errDown)
			return c
		}, status: 503},
	}

	add("POST "+phonePath, phoneRequestCases)
	add("POST "+phoneVerifyPath, phoneVerifyCases)
	add("POST "+deletePath, deleteRequestCases)
	add("POST "+deleteVerifyPath, deleteVerifyCases)
	add("", operations)
	return cases
}

// triple is one documented response: path (as the document spells it),
// method and status.
type triple struct {
	path, method string
	status       int
}

func (tr triple) String() string { return fmt.Sprintf("%s %s %d", tr.method, tr.path, tr.status) }

// TestServerAnswersAsDocumented drives the server through every response
// openapi.json documents and validates each request and response against
// it, so the document cannot drift from the code.
func TestServerAnswersAsDocumented(t *testing.T) {
	t.Parallel()
	doc, router := loadDoc(t)

	var mu sync.Mutex
	reached := map[triple]bool{}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range documentedCases() {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				st := &faultStore{Store: openSQLite(t)}
				o := harnessOptions{store: st, policy: tc.policy}
				if tc.opts != nil {
					tc.opts(&o)
				}
				h := newHarness(t, o)
				c := tc.prepare(h, st)

				req := c.request(t, h.srv.URL)
				route, params, err := router.FindRoute(req)
				if err != nil {
					t.Fatalf("%s %s is not in the document: %v", c.method, c.path, err)
				}
				in := &openapi3filter.RequestValidationInput{
					Request:    req,
					PathParams: params,
					Route:      route,
					Options:    &openapi3filter.Options{AuthenticationFunc: checkBearer, MultiError: true},
				}
				err = openapi3filter.ValidateRequest(context.Background(), in)
				switch {
				case tc.outside && err == nil:
					t.Errorf("the document allows a request the case means to be outside it")
				case !tc.outside && err != nil:
					t.Errorf("request does not conform: %v", err)
				}

				res, err := h.srv.Client().Do(c.request(t, h.srv.URL))
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != tc.status {
					t.Fatalf("status = %d, want %d (body %s)", res.StatusCode, tc.status, body)
				}
				out := &openapi3filter.ResponseValidationInput{
					RequestValidationInput: in,
					Status:                 res.StatusCode,
					Header:                 res.Header,
					Body:                   io.NopCloser(bytes.NewReader(body)),
					Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
				}
				if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
					t.Fatalf("response %d %s does not conform: %v", res.StatusCode, body, err)
				}
				mu.Lock()
				reached[triple{route.Path, route.Method, res.StatusCode}] = true
				mu.Unlock()
			})
		}
	})

	var documented []triple
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				var status int
				if _, err := fmt.Sscan(code, &status); err != nil {
					t.Errorf("%s %s: response %q is not a status code", method, path, code)
					continue
				}
				documented = append(documented, triple{path, method, status})
			}
		}
	}
	missed := 0
	for _, tr := range documented {
		if !reached[tr] {
			t.Errorf("%v is documented but no case reached it", tr)
			missed++
		}
	}
	t.Logf("%d documented responses, %d reached", len(documented), len(documented)-missed)
}

// TestServedDocumentIsTheFile checks that the served document is
// openapi.json as embedded, answered as every other answer is.
func TestServedDocumentIsTheFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	r := h.do(http.MethodGet, "/auth/api/openapi.json", "", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d", r.status)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	var want map[string]any
	if err := json.Unmarshal(file, &want); err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(r.body)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Error("served document differs from openapi.json")
	}
}
