package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

var jsonEndpoints = []string{
	"/auth/api/Register/", "/auth/api/register/", "/auth/api/verify/",
	"/auth/api/login/", "/auth/api/login/verify/",
}

func TestNonJSONRequestsAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	for _, path := range jsonEndpoints {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"} {
			t.Run(path+" "+ct, func(t *testing.T) {
				r := h.do(http.MethodPost, path, ct, `{"phonenumber":"+14155552671"}`, nil)
				want(t, "non-JSON", r, http.StatusBadRequest, errBody("Only JSON requests are accepted"))
			})
		}
	}
	t.Run("charset parameter is allowed", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		r := h.do(http.MethodPost, "/auth/api/Register/", "application/json; charset=utf-8", `{"phonenumber":"+14155552671"}`, nil)
		want(t, "json with charset", r, http.StatusOK, nil)
	})
}

func TestBadBodiesAreClearErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"malformed JSON", `{"phonenumber":`, 400, "Malformed JSON"},
		{"empty body", ``, 400, "Request body must be a JSON object"},
		{"array body", `["+14155552671"]`, 400, "Request body must be a JSON object"},
		{"string body", `"+14155552671"`, 400, "Request body must be a JSON object"},
		{"null body", `null`, 400, "Request body must be a JSON object"},
		{"field of wrong type", `{"phonenumber": 14155552671}`, 400, `Field "phonenumber" must be a string`},
		{"two objects", `{"phonenumber":"+14155552671"}{}`, 400, "Request body must be a single JSON object"},
		{"missing field", `{}`, 400, "Missing required fields: phonenumber"},
		{"empty field", `{"phonenumber":"  "}`, 400, "Missing required fields: phonenumber"},
		{"unparseable number", `{"phonenumber":"call me"}`, 400, "Invalid phone number"},
		{"too short a number", `{"phonenumber":"+1 555"}`, 400, "Invalid phone number"},
		{"body over 16 KiB", `{"phonenumber":"+14155552671","x":"` + strings.Repeat("a", 17<<10) + `"}`, 413, "Request body too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			r := h.do(http.MethodPost, "/auth/api/Register/", "application/json", tt.body, nil)
			want(t, tt.name, r, tt.status, errBody(tt.msg))
			if n := len(h.sender.Sent()); n != 0 {
				t.Errorf("bad request sent %d SMS, want 0", n)
			}
		})
	}
	t.Run("unknown fields are ignored", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		r := h.do(http.MethodPost, "/auth/api/Register/", "application/json", `{"phonenumber":"+14155552671","extra":1}`, nil)
		want(t, "unknown field", r, http.StatusOK, nil)
	})
}

func TestRoutesAnswerJSONForEveryPathAndMethod(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	tests := []struct {
		name, method, path string
		status             int
		body               map[string]any
		allow              string
	}{
		{"path without slash", "POST", "/auth/api/Register", 400, errBody("Missing required fields: phonenumber"), ""},
		{"lower-case register alias", "POST", "/auth/api/register", 400, errBody("Missing required fields: phonenumber"), ""},
		{"login verify without slash", "POST", "/auth/api/login/verify", 400, errBody("Missing required fields: code, user_id"), ""},
		{"wrong method", "GET", "/auth/api/login/", 405, errBody("Method not allowed"), "POST"},
		{"wrong method without slash", "PUT", "/auth/api/verify", 405, errBody("Method not allowed"), "POST"},
		{"wrong method on me", "POST", "/auth/api/me/", 405, errBody("Method not allowed"), "GET, HEAD"},
		{"unknown path", "GET", "/nope", 404, errBody("Not found"), ""},
		{"unknown path under a route", "POST", "/auth/api/login/xyz", 404, errBody("Not found"), ""},
		{"other case is another path", "POST", "/auth/api/REGISTER/", 404, errBody("Not found"), ""},
		{"double slash is not redirected", "GET", "/auth/api//me/", 404, errBody("Not found"), ""},
		{"dot segment is not redirected", "POST", "/auth/api/./login/", 404, errBody("Not found"), ""},
		{"liveness", "GET", "/healthz", 200, map[string]any{"status": "ok"}, ""},
		{"readiness", "GET", "/readyz", 200, map[string]any{"checks": map[string]any{"sqlite": "ok"}, "status": "ok"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, "application/json", `{}`, nil)
			want(t, tt.name, r, tt.status, tt.body)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+1 (415) 555-0100"})
	if r.status != 200 || r.str("message") != "User Created Successfully" || r.str("phone") != "+14155550100" || len(r.body) != 3 {
		t.Fatalf("register = %d %v", r.status, r.body)
	}
	if _, err := uuid.Parse(r.str("token")); err != nil {
		t.Errorf("token %q is not a UUID", r.str("token"))
	}
	sent := h.sender.Sent()
	if len(sent) != 1 || sent[0].To != "+14155550100" || sent[0].Purpose != phoneauth.PurposeRegister || len(sent[0].Code) != 6 || !strings.Contains(sent[0].Text, sent[0].Code) {
		t.Fatalf("sent = %+v", sent)
	}
	// These rows only read the account registered above: a refused
	// registration changes nothing.
	for _, same := range []string{"+14155550100", "4155550100", "(415) 555-0100", "+1 415 555 0100"} {
		t.Run("same account written as "+same, func(t *testing.T) {
			r := h.post("/auth/api/register/", map[string]any{"phonenumber": same})
			want(t, same, r, http.StatusConflict, errBody("Account already Exists"))
		})
	}
	t.Run("verified account is also 409", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		h.verified("+14155550101")
		r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550101"})
		want(t, "verified", r, http.StatusConflict, errBody("Account already Exists"))
	})
	t.Run("unverified account with an expired code can register again", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		first := h.register("+14155550102")
		h.clock.Advance(5*time.Minute + time.Second)
		second := h.register("+14155550102")
		if first == second {
			t.Fatalf("got the same token twice")
		}
		r := h.post("/auth/api/verify/", map[string]any{"code": h.sender.LastCode("+14155550102"), "token": second, "phone": "+14155550102"})
		want(t, "verify new code", r, http.StatusOK, map[string]any{"message": "User verify Successfully!"})
	})
}

func TestParallelRegistrationOfOneNumberHasOneWinner(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const n = 16
	count := statusCounts(n, func() int {
		return h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550111"}).status
	})
	if count[200] != 1 || count[409] != n-1 {
		t.Fatalf("statuses = %v, want one 200 and %d 409", count, n-1)
	}
}

// statusCounts runs f n times at once and counts the statuses it returns.
func statusCounts(n int, f func() int) map[int]int {
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { statuses <- f() })
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	return count
}

func TestRegisterSendFailureLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.sender.Fail(true)
	r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550120"})
	want(t, "failed send", r, http.StatusBadGateway, errBody("Could not send SMS, try again"))
	r = h.post("/auth/api/login/", map[string]any{"phone": "+14155550120"})
	want(t, "login after failed register", r, http.StatusNotFound, errBody("User does not exist"))
	h.sender.Fail(false)
	h.register("+14155550120")
}

func TestVerify(t *testing.T) {
	t.Parallel()
	const phone = "+14155550130"
	// fixture is a server of its own for each row, with phone and another
	// number registered.
	type fixture struct {
		h                       *harness
		tok, code, wrong, other string
	}
	newFixture := func(t *testing.T) fixture {
		t.Helper()
		h := newHarness(t, harnessOptions{})
		tok := h.register(phone)
		code := h.sender.LastCode(phone)
		return fixture{h: h, tok: tok, code: code, wrong: wrongCode(code), other: h.register("+14155550131")}
	}
	tests := []struct {
		name   string
		status int
		resp   map[string]any
		body   func(f fixture) map[string]any
	}{
		{"all fields missing", 400, errBody("Missing required fields: code, token, phone"), func(fixture) map[string]any {
			return map[string]any{}
		}},
		{"code missing", 400, errBody("Missing required fields: code"), func(f fixture) map[string]any {
			return map[string]any{"token": f.tok, "phone": phone}
		}},
		{"unknown token", 400, errBody("Invalid verification token"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code, "token": uuid.NewString(), "phone": phone}
		}},
		{"token that is not a UUID", 400, errBody("Invalid verification token"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code, "token": "abc", "phone": phone}
		}},
		{"token of another phone", 400, errBody("Invalid verification token"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code, "token": f.other, "phone": phone}
		}},
		{"invalid phone", 400, errBody("Invalid phone number"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code, "token": f.tok, "phone": "12"}
		}},
		{"wrong code", 400, errBody("Invalid code"), func(f fixture) map[string]any {
			return map[string]any{"code": f.wrong, "token": f.tok, "phone": phone}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			want(t, tt.name, f.h.post("/auth/api/verify/", tt.body(f)), tt.status, tt.resp)
		})
	}
	t.Run("after a wrong code the right one, phone written another way, verifies, and the code is then spent", func(t *testing.T) {
		f := newFixture(t)
		r := f.h.post("/auth/api/verify/", map[string]any{"code": f.wrong, "token": f.tok, "phone": phone})
		want(t, "wrong code", r, 400, errBody("Invalid code"))
		r = f.h.post("/auth/api/verify/", map[string]any{"code": f.code, "token": f.tok, "phone": "(415) 555-0130"})
		want(t, "right code, phone written another way", r, 200, map[string]any{"message": "User verify Successfully!"})
		r = f.h.post("/auth/api/verify/", map[string]any{"code": f.code, "token": f.tok, "phone": phone})
		want(t, "code is spent", r, 400, errBody("Invalid verification token"))
	})
	t.Run("expired code", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		tok := h.register("+14155550132")
		h.clock.Advance(5*time.Minute + time.Second)
		r := h.post("/auth/api/verify/", map[string]any{"code": h.sender.LastCode("+14155550132"), "token": tok, "phone": "+14155550132"})
		want(t, "expired", r, http.StatusBadRequest, errBody("Code has expired, request a new code"))
	})
}

func TestTooManyWrongCodesKillTheCode(t *testing.T) {
	t.Parallel()
	o := harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 3 }}
	t.Run("registration", func(t *testing.T) {
		h := newHarness(t, o)
		const phone = "+14155550140"
		tok := h.register(phone)
		code := h.sender.LastCode(phone)
		for i, wantStatus := range []int{400, 400, 429} {
			r := h.post("/auth/api/verify/", map[string]any{"code": wrongCode(code), "token": tok, "phone": phone})
			want(t, fmt.Sprintf("wrong try %d", i+1), r, wantStatus, nil)
		}
		h.clock.Advance(time.Minute)
		r := h.post("/auth/api/verify/", map[string]any{"code": code, "token": tok, "phone": phone})
		want(t, "right code after the limit", r, http.StatusTooManyRequests, errBody("Too many failed attempts, request a new code"))
		if got := r.header.Get("Retry-After"); got != "240" {
			t.Errorf("Retry-After = %q, want 240 (until the code expires and a new registration is possible)", got)
		}
	})
	t.Run("login, and a new code starts afresh", func(t *testing.T) {
		h := newHarness(t, o)
		const phone = "+14155550141"
		h.verified(phone)
		id := h.login(phone)
		code := h.sender.LastCode(phone)
		for range 3 {
			h.post("/auth/api/login/verify/", map[string]any{"code": wrongCode(code), "user_id": id})
		}
		h.clock.Advance(2 * time.Minute)
		r := h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id})
		want(t, "right code after the limit", r, http.StatusTooManyRequests, errBody("Too many failed attempts, request a new code"))
		if got := r.header.Get("Retry-After"); got != "180" {
			t.Errorf("Retry-After = %q, want 180 (until the login throttle ends)", got)
		}
		h.clock.Advance(3 * time.Minute)
		h.login(phone)
		r = h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(phone), "user_id": id})
		want(t, "new code", r, http.StatusOK, nil)
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550150"
	h.register("+14155550151")
	h.verified(phone)

	want(t, "unknown", h.post("/auth/api/login/", map[string]any{"phone": "+14155550159"}), 404, errBody("User does not exist"))
	want(t, "unverified", h.post("/auth/api/login/", map[string]any{"phone": "+14155550151"}), 403, errBody("Account is not verified"))
	want(t, "missing", h.post("/auth/api/login/", map[string]any{}), 400, errBody("Missing required fields: phone"))

	r := h.post("/auth/api/login/", map[string]any{"phone": "415-555-0150"})
	if r.status != 200 || r.str("expire_time") != "300" || r.str("message") != "Code Send to user" || len(r.body) != 3 {
		t.Fatalf("login = %d %v", r.status, r.body)
	}
	if _, err := uuid.Parse(r.str("user_id")); err != nil {
		t.Fatalf("user_id %q is not a UUID", r.str("user_id"))
	}
	id := r.str("user_id")
	r = h.post("/auth/api/login/", map[string]any{"phone": phone})
	want(t, "second request", r, http.StatusTooManyRequests, map[string]any{"message": "User already have a request for login", "user_id": id})
	if got := r.header.Get("Retry-After"); got != "300" {
		t.Errorf("Retry-After = %q, want 300", got)
	}
	h.clock.Advance(2 * time.Minute)
	r = h.post("/auth/api/login/", map[string]any{"phone": phone})
	if got := r.header.Get("Retry-After"); r.status != 429 || got != "180" {
		t.Errorf("after 2 minutes: %d Retry-After %q, want 429 and 180", r.status, got)
	}
	h.clock.Advance(3 * time.Minute)
	want(t, "after the throttle", h.post("/auth/api/login/", map[string]any{"phone": phone}), 200, nil)
}

func TestLoginAgainRightAfterSuccessfulVerification(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550160"
	h.signIn(phone)
	want(t, "new login at once", h.post("/auth/api/login/", map[string]any{"phone": phone}), 200, nil)
}

func TestLoginSendFailureLeavesNoThrottle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550161"
	h.verified(phone)
	h.sender.Fail(true)
	want(t, "failed send", h.post("/auth/api/login/", map[string]any{"phone": phone}), 502, errBody("Could not send SMS, try again"))
	h.sender.Fail(false)
	want(t, "retry", h.post("/auth/api/login/", map[string]any{"phone": phone}), 200, nil)
}

func TestLoginVerify(t *testing.T) {
	t.Parallel()
	const phone = "+14155550170"
	// fixture is a server of its own for each row, with a login pending
	// for phone and another account signed in, so with none pending.
	type fixture struct {
		h                     *harness
		id, code, wrong, idle string
	}
	newFixture := func(t *testing.T) fixture {
		t.Helper()
		h := newHarness(t, harnessOptions{})
		h.verified(phone)
		idle, _, _ := h.signIn("+14155550171")
		id := h.login(phone)
		code := h.sender.LastCode(phone)
		return fixture{h: h, id: id, code: code, wrong: wrongCode(code), idle: idle}
	}
	tests := []struct {
		name   string
		status int
		resp   map[string]any
		body   func(f fixture) map[string]any
	}{
		{"missing", 400, errBody("Missing required fields: user_id"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code}
		}},
		{"unknown user", 400, errBody("login first"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code, "user_id": uuid.NewString()}
		}},
		{"user_id not a UUID", 400, errBody("login first"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code, "user_id": "42"}
		}},
		{"no pending login", 400, errBody("login first"), func(f fixture) map[string]any {
			return map[string]any{"code": f.code, "user_id": f.idle}
		}},
		{"wrong code", 400, errBody("Invalid code"), func(f fixture) map[string]any {
			return map[string]any{"code": f.wrong, "user_id": f.id}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			want(t, tt.name, f.h.post("/auth/api/login/verify/", tt.body(f)), tt.status, tt.resp)
		})
	}
	t.Run("after a wrong code the right one opens a session, and the code is then spent", func(t *testing.T) {
		f := newFixture(t)
		r := f.h.post("/auth/api/login/verify/", map[string]any{"code": f.wrong, "user_id": f.id})
		want(t, "wrong code", r, 400, errBody("Invalid code"))
		r = f.h.post("/auth/api/login/verify/", map[string]any{"code": f.code, "user_id": f.id})
		if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == "" || len(r.body) != 2 {
			t.Fatalf("login verify = %d %v", r.status, r.body)
		}
		r = f.h.post("/auth/api/login/verify/", map[string]any{"code": f.code, "user_id": f.id})
		want(t, "code is single use", r, 400, errBody("login first"))
	})
	t.Run("expired", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		h.verified(phone)
		id := h.login(phone)
		h.clock.Advance(5*time.Minute + time.Second)
		r := h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(phone), "user_id": id})
		want(t, "expired", r, 400, errBody("Code has expired, request a new code"))
	})
}

func TestParallelLoginVerificationOfOneCodeHasOneWinner(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 10 }})
	const phone = "+14155550180"
	h.verified(phone)
	id := h.login(phone)
	code := h.sender.LastCode(phone)
	const n = 16
	count := statusCounts(n, func() int {
		return h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id}).status
	})
	if count[200] != 1 || count[400] != n-1 {
		t.Fatalf("statuses = %v, want one 200 and %d 400", count, n-1)
	}
}

func TestParallelRegistrationVerificationOfOneCodeHasOneWinner(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 10 }})
	const phone = "+14155550181"
	tok := h.register(phone)
	code := h.sender.LastCode(phone)
	const n = 16
	count := statusCounts(n, func() int {
		return h.post("/auth/api/verify/", map[string]any{"code": code, "token": tok, "phone": phone}).status
	})
	if count[200] != 1 || count[400] != n-1 {
		t.Fatalf("statuses = %v, want one 200 and %d 400", count, n-1)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	const phone = "+14155550190"
	// session is a server of its own for each row, with phone signed in.
	type session struct {
		h                   *harness
		id, access, refresh string
	}
	signedIn := func(t *testing.T) session {
		t.Helper()
		h := newHarness(t, harnessOptions{})
		id, access, refresh := h.signIn(phone)
		return session{h: h, id: id, access: access, refresh: refresh}
	}

	t.Run("me answers with the account of the access token", func(t *testing.T) {
		s := signedIn(t)
		r := s.h.auth("GET", "/auth/api/me/", s.access)
		if r.status != 200 || r.str("user_id") != s.id || r.str("phone") != phone || r.body["verified"] != true || len(r.body) != 4 {
			t.Fatalf("me = %d %v", r.status, r.body)
		}
		if _, err := time.Parse(time.RFC3339, r.str("created_at")); err != nil {
			t.Errorf("created_at %q: %v", r.str("created_at"), err)
		}
	})

	tests := []struct {
		name, method, path string
		msg                string
		header             func(s session) string
	}{
		{"me without header", "GET", "/auth/api/me/", "Missing Authorization header", func(session) string {
			return ""
		}},
		{"me with basic auth", "GET", "/auth/api/me/", "Authorization header must be 'Bearer <token>'", func(session) string {
			return "Basic abc"
		}},
		{"me with garbage", "GET", "/auth/api/me/", "Token is invalid", func(session) string {
			return "Bearer abc.def.ghi"
		}},
		{"me with refresh token", "GET", "/auth/api/me/", "Only access tokens are allowed", func(s session) string {
			return "Bearer " + s.refresh
		}},
		{"refresh with access token", "POST", "/auth/api/token/refresh/", "Only refresh tokens are allowed", func(s session) string {
			return "Bearer " + s.access
		}},
		{"me for an unknown subject", "GET", "/auth/api/me/", "Token subject is not a known user", func(s session) string {
			return "Bearer " + s.h.issue(phoneauth.TokenAccess, uuid.NewString())
		}},
		{"logout without header", "POST", "/auth/api/logout/", "Missing Authorization header", func(session) string {
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := signedIn(t)
			hdr := map[string]string{}
			if v := tt.header(s); v != "" {
				hdr["Authorization"] = v
			}
			want(t, tt.name, s.h.do(tt.method, tt.path, "", "", hdr), 401, errBody(tt.msg))
		})
	}

	t.Run("a token minted elsewhere with the same secret is accepted", func(t *testing.T) {
		s := signedIn(t)
		want(t, "foreign access", s.h.auth("GET", "/auth/api/me/", s.h.issue(phoneauth.TokenAccess, s.id)), 200, nil)
	})
	t.Run("refresh rotates the tokens, and the spent refresh token presented again revokes the session", func(t *testing.T) {
		s := signedIn(t)
		r := s.h.auth("POST", "/auth/api/token/refresh/", s.refresh)
		if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == s.refresh {
			t.Fatalf("refresh = %d %v", r.status, r.body)
		}
		access2, refresh2 := r.str("access_token"), r.str("refresh_token")
		want(t, "new access works", s.h.auth("GET", "/auth/api/me/", access2), 200, nil)
		s.h.clock.Advance(phoneauth.DefaultPolicy().RefreshReuseGrace) // within it, the spent token gets refresh2 again
		want(t, "spent refresh token again", s.h.auth("POST", "/auth/api/token/refresh/", s.refresh), 401,
			errBody("Refresh token was already used; the session has been revoked"))
		want(t, "newest refresh token after reuse", s.h.auth("POST", "/auth/api/token/refresh/", refresh2), 401, errBody("Token has been revoked"))
		want(t, "access token after reuse", s.h.auth("GET", "/auth/api/me/", access2), 401, errBody("Token has been revoked"))
	})

	t.Run("logout with the access token revokes the session", func(t *testing.T) {
		s := signedIn(t)
		want(t, "logout", s.h.auth("POST", "/auth/api/logout/", s.access), 200, map[string]any{"message": "Logged out"})
		want(t, "me", s.h.auth("GET", "/auth/api/me/", s.access), 401, errBody("Token has been revoked"))
		want(t, "refresh", s.h.auth("POST", "/auth/api/token/refresh/", s.refresh), 401, errBody("Token has been revoked"))
		want(t, "logout twice", s.h.auth("POST", "/auth/api/logout/", s.access), 200, nil)
	})
	t.Run("logout with the refresh token revokes the session", func(t *testing.T) {
		s := signedIn(t)
		want(t, "logout", s.h.auth("POST", "/auth/api/logout/", s.refresh), 200, nil)
		want(t, "me", s.h.auth("GET", "/auth/api/me/", s.access), 401, errBody("Token has been revoked"))
	})
	t.Run("expired tokens", func(t *testing.T) {
		s := signedIn(t)
		s.h.clock.Advance(15*time.Minute + time.Second)
		want(t, "me", s.h.auth("GET", "/auth/api/me/", s.access), 401, errBody("Token has expired"))
	})
}

func TestIPRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("peer address", func(t *testing.T) {
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.IPRateLimit = 2 }})
		h.register("+14155550200")
		h.register("+14155550201")
		r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550202"})
		want(t, "third", r, 429, errBody("Too many requests, try again later"))
		if got := r.header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After = %q, want 60", got)
		}
		h.clock.Advance(time.Minute)
		h.register("+14155550202")
	})
	// Each step registers phone behind a trusted proxy that names the
	// client in X-Forwarded-For, one request a minute per client allowed.
	type step struct {
		what, phone, xff string
		want             int
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"IPv6 clients count by their /64", []step{
			{"first address", "+14155550215", "2001:db8:1:2::1", 200},
			{"same /64", "+14155550216", "2001:db8:1:2:ffff::9", 429},
			{"another /64", "+14155550217", "2001:db8:1:3::1", 200},
		}},
		{"X-Forwarded-For from a trusted proxy", []step{
			{"first client", "+14155550210", "203.0.113.1", 200},
			{"second client behind two proxies", "+14155550211", "203.0.113.2, 127.0.0.5", 200},
			{"first client again, spoofed left entry", "+14155550212", "198.51.100.9, 203.0.113.1", 429},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{
				policy:         func(p *phoneauth.Policy) { p.IPRateLimit = 1 },
				trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			})
			for _, s := range tt.steps {
				r := h.do("POST", "/auth/api/Register/", "application/json", `{"phonenumber":"`+s.phone+`"}`, map[string]string{"X-Forwarded-For": s.xff})
				if r.status != s.want {
					t.Fatalf("%s: %d, want %d", s.what, r.status, s.want)
				}
			}
		})
	}
}

func TestSMSBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.SMSPerHour = 2 }})
	h.register("+14155550220")
	h.register("+14155550221")
	r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550222"})
	want(t, "over budget", r, 429, errBody("SMS limit reached, try again later"))
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	want(t, "nothing left behind", h.post("/auth/api/login/", map[string]any{"phone": "+14155550222"}), 404, nil)
}

func TestUnknownTokensAndUsersNeverCountAsAttempts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 2 }})
	h.register("+14155550230")
	token, userID := uuid.NewString(), uuid.NewString()
	for i := range 4 {
		want(t, fmt.Sprintf("unknown token, try %d", i+1),
			h.post("/auth/api/verify/", map[string]any{"code": "123456", "token": token, "phone": "+14155550230"}),
			400, errBody("Invalid verification token"))
		want(t, fmt.Sprintf("unknown user, try %d", i+1),
			h.post("/auth/api/login/verify/", map[string]any{"code": "123456", "user_id": userID}),
			400, errBody("login first"))
	}
}

func TestFailedSendsDoNotSpendTheSMSBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.SMSPerHour = 2 }})
	h.sender.Fail(true)
	for i := range 3 {
		want(t, fmt.Sprintf("failed send %d", i+1), h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550240"}), 502, nil)
	}
	h.sender.Fail(false)
	h.register("+14155550240")
	h.register("+14155550241")
	want(t, "budget spent by real sends", h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550242"}), 429, nil)
}

// lostReplyStore registers but, while lose is set, reports an outage as a
// database would whose commit reply was lost.
type lostReplyStore struct {
	phoneauth.Store
	lose atomic.Bool
}

func (s *lostReplyStore) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) (time.Time, error) {
	lockedUntil, err := s.Store.Register(ctx, u, c, now)
	if err == nil && s.lose.Load() {
		return time.Time{}, fmt.Errorf("reply lost: %w", phoneauth.ErrUnavailable)
	}
	return lockedUntil, err
}

func (s *lostReplyStore) PutLoginChallenge(ctx context.Context, phone string, c phoneauth.Challenge, notBefore time.Time) (phoneauth.User, time.Time, error) {
	u, since, err := s.Store.PutLoginChallenge(ctx, phone, c, notBefore)
	if err == nil && s.lose.Load() {
		return phoneauth.User{}, time.Time{}, fmt.Errorf("reply lost: %w", phoneauth.ErrUnavailable)
	}
	return u, since, err
}

func TestLoginThrottleIsUndoneWhenItsReplyIsLost(t *testing.T) {
	t.Parallel()
	st := &lostReplyStore{Store: openSQLite(t)}
	h := newHarness(t, harnessOptions{store: st})
	const phone = "+14155550250"
	h.verified(phone)
	st.lose.Store(true)
	want(t, "login during the fault", h.post("/auth/api/login/", map[string]any{"phone": phone}), 503, errBody("Service unavailable"))
	st.lose.Store(false)
	want(t, "login after the fault", h.post("/auth/api/login/", map[string]any{"phone": phone}), 200, nil)
	want(t, "throttle of that login still holds", h.post("/auth/api/login/", map[string]any{"phone": phone}), 429, nil)
}

func TestRegistrationIsUndoneWhenItsReplyIsLost(t *testing.T) {
	t.Parallel()
	st := &lostReplyStore{Store: openSQLite(t)}
	h := newHarness(t, harnessOptions{store: st})
	const phone = "+14155550260"
	st.lose.Store(true)
	want(t, "register during the fault", h.post("/auth/api/Register/", map[string]any{"phonenumber": phone}), 503, errBody("Service unavailable"))
	st.lose.Store(false)
	h.register(phone)
}

// brokenStore fails registrations with an error no row of the error table
// knows: a bug, not an outage.
type brokenStore struct{ phoneauth.Store }

func (brokenStore) Register(context.Context, phoneauth.User, phoneauth.Challenge, time.Time) (time.Time, error) {
	return time.Time{}, errors.New("disk on fire")
}

// downLimiter answers everything but says, when pinged, that its backend
// does not answer.
type downLimiter struct{ phoneauth.Limiter }

func (downLimiter) Ping(context.Context) error {
	return fmt.Errorf("ping: %w", phoneauth.ErrUnavailable)
}

func TestHeadersOfEveryKindOfAnswer(t *testing.T) {
	t.Parallel()
	register := func(h *harness) response {
		return h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550270"})
	}
	tests := []struct {
		name   string
		opts   func(t *testing.T) harnessOptions
		setup  func(h *harness)
		do     func(h *harness) response
		status int
		body   map[string]any
		header map[string]string // besides nosniff; Retry-After and Allow are absent unless named
	}{
		{name: "200", do: register, status: 200},
		{name: "400 malformed JSON", do: func(h *harness) response {
			return h.do("POST", "/auth/api/Register/", "application/json", "{", nil)
		}, status: 400, body: errBody("Malformed JSON")},
		{name: "404 unknown path", do: func(h *harness) response {
			return h.do("GET", "/nope", "", "", nil)
		}, status: 404, body: errBody("Not found")},
		{name: "405 wrong method", do: func(h *harness) response {
			return h.do("DELETE", "/auth/api/login/", "", "", nil)
		}, status: 405, body: errBody("Method not allowed"), header: map[string]string{"Allow": "POST"}},
		{name: "413 body too large", do: func(h *harness) response {
			return h.do("POST", "/auth/api/login/", "application/json", `{"phone":"`+strings.Repeat("1", 17<<10)+`"}`, nil)
		}, status: 413, body: errBody("Request body too large")},
		{name: "429 per-IP limit", opts: func(*testing.T) harnessOptions {
			return harnessOptions{policy: func(p *phoneauth.Policy) { p.IPRateLimit = 1 }}
		}, setup: func(h *harness) { h.register("+14155550271") },
			do: register, status: 429, body: errBody("Too many requests, try again later"), header: map[string]string{"Retry-After": "60"}},
		{name: "500 unknown failure", opts: func(t *testing.T) harnessOptions {
			return harnessOptions{store: brokenStore{openSQLite(t)}}
		}, do: register, status: 500, body: errBody("Internal error")},
		{name: "502 SMS refused", setup: func(h *harness) { h.sender.Fail(true) },
			do: register, status: 502, body: errBody("Could not send SMS, try again")},
		{name: "503 from the error table", opts: func(t *testing.T) harnessOptions {
			st := &lostReplyStore{Store: openSQLite(t)}
			st.lose.Store(true)
			return harnessOptions{store: st}
		}, do: register, status: 503, body: errBody("Service unavailable"), header: map[string]string{"Retry-After": "2"}},
		{name: "503 from readiness names the dependency that is down", opts: func(*testing.T) harnessOptions {
			return harnessOptions{
				limiter: func(l phoneauth.Limiter) phoneauth.Limiter { return downLimiter{l} },
				deps:    func(d *phoneauth.Deps) { d.LimiterName = "redis" },
			}
		}, do: func(h *harness) response { return h.do("GET", "/readyz", "", "", nil) },
			status: 503, body: map[string]any{"checks": map[string]any{"sqlite": "ok", "redis": "unavailable"}, "status": "unavailable"},
			header: map[string]string{"Retry-After": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var o harnessOptions
			if tt.opts != nil {
				o = tt.opts(t)
			}
			h := newHarness(t, o)
			if tt.setup != nil {
				tt.setup(h)
			}
			r := tt.do(h)
			want(t, tt.name, r, tt.status, tt.body)
			wantHeader := map[string]string{"X-Content-Type-Options": "nosniff", "Retry-After": "", "Allow": ""}
			maps.Copy(wantHeader, tt.header)
			for k, v := range wantHeader {
				var want []string
				if v != "" {
					want = []string{v}
				}
				if got := r.header.Values(k); !slices.Equal(got, want) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// stallingStore holds the first registration until its request's context
// ends, then hands SQLite the cancelled context: a slow database call
// whose client went away.
type stallingStore struct {
	phoneauth.Store
	arrived chan<- struct{}
	stalled atomic.Bool
}

func (s *stallingStore) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) (time.Time, error) {
	if s.stalled.CompareAndSwap(false, true) {
		s.arrived <- struct{}{}
		<-ctx.Done()
	}
	return s.Store.Register(ctx, u, c, now)
}

// stallingSender holds the first send until its request's context ends,
// then fails as the webhook provider does: a slow SMS gateway whose client
// went away.
type stallingSender struct {
	phoneauth.Sender
	arrived chan<- struct{}
	stalled atomic.Bool
}

func (s *stallingSender) Send(ctx context.Context, m phoneauth.Message) error {
	if s.stalled.CompareAndSwap(false, true) {
		s.arrived <- struct{}{}
		<-ctx.Done()
		return fmt.Errorf("sms webhook: post to http://127.0.0.1: %w", ctx.Err())
	}
	return s.Sender.Send(ctx, m)
}

func TestClientGoneIsNoFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts func(t *testing.T, arrived chan<- struct{}) harnessOptions
	}{
		{"while the database answers", func(t *testing.T, arrived chan<- struct{}) harnessOptions {
			return harnessOptions{store: &stallingStore{Store: openSQLite(t), arrived: arrived}}
		}},
		{"while the SMS is sent", func(_ *testing.T, arrived chan<- struct{}) harnessOptions {
			return harnessOptions{sender: func(s phoneauth.Sender) phoneauth.Sender {
				return &stallingSender{Sender: s, arrived: arrived}
			}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const phone = "+14155550280"
			arrived := make(chan struct{}, 1)
			logs := &logLines{}
			o := tt.opts(t, arrived)
			o.log = logs
			h := newHarness(t, o)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/auth/api/Register/", strings.NewReader(`{"phonenumber":"`+phone+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			done := make(chan error, 1)
			go func() {
				res, err := h.srv.Client().Do(req)
				if err == nil {
					res.Body.Close()
				}
				done <- err
			}()

			within(t, "request reaching the stall", arrived)
			cancel()

			if err := within(t, "client giving up", done); !errors.Is(err, context.Canceled) {
				t.Fatalf("client: %v, want context.Canceled", err)
			}
			line := logs.await(t, func(rec map[string]any) bool { return rec["msg"] == "request" })
			if line["level"] != "INFO" || line["status"] != float64(499) {
				t.Errorf("request line = %v, want level INFO, status 499", line)
			}
			logs.await(t, func(rec map[string]any) bool { return rec["msg"] == "client went away" && rec["level"] == "DEBUG" })
			for _, rec := range logs.records(t) {
				if rec["level"] == "ERROR" {
					t.Errorf("ERROR line for a client gone: %v", rec)
				}
			}
			// The abandoned request left nothing behind.
			h.register(phone)
		})
	}
}

// gateSender holds every send to one number until released, as a slow
// gateway would; sends to other numbers pass.
type gateSender struct {
	phoneauth.Sender
	phone   string
	arrived chan<- struct{}
	release <-chan struct{}
}

func (s gateSender) Send(ctx context.Context, m phoneauth.Message) error {
	if m.To == s.phone {
		s.arrived <- struct{}{}
		<-s.release
	}
	return s.Sender.Send(ctx, m)
}

func TestSendRefusedForWantOfASlotLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	const phone, occupier = "+14155550290", "+14155550291"
	tests := []struct {
		name   string
		setup  func(h *harness)
		path   string
		body   map[string]any
		budget int // every SMS of the test: a refused one that still counted would exceed it
	}{
		{"register", func(*harness) {}, "/auth/api/Register/", map[string]any{"phonenumber": phone}, 2},
		{"login", func(h *harness) { h.verified(phone) }, "/auth/api/login/", map[string]any{"phone": phone}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			arrived := make(chan struct{}, 1)
			release := make(chan struct{})
			h := newHarness(t, harnessOptions{
				policy: func(p *phoneauth.Policy) { p.SMSPerHour = tt.budget },
				sender: func(s phoneauth.Sender) phoneauth.Sender {
					c, err := sms.NewCapped(gateSender{Sender: s, phone: occupier, arrived: arrived, release: release}, 1)
					if err != nil {
						t.Fatal(err)
					}
					return c
				},
			})
			tt.setup(h)
			occupied := make(chan int, 1)
			go func() {
				res, err := h.srv.Client().Post(h.srv.URL+"/auth/api/Register/", "application/json", strings.NewReader(`{"phonenumber":"`+occupier+`"}`))
				if err != nil {
					occupied <- 0
					return
				}
				res.Body.Close()
				occupied <- res.StatusCode
			}()
			within(t, "the occupier's SMS reaching the gateway", arrived)
			sent := len(h.sender.Sent())

			r := h.post(tt.path, tt.body)

			want(t, "while the only slot is taken", r, http.StatusServiceUnavailable, errBody("Service unavailable"))
			if got := r.header.Get("Retry-After"); got != "2" {
				t.Errorf("Retry-After = %q, want 2", got)
			}
			if n := len(h.sender.Sent()); n != sent {
				t.Errorf("%d SMS sent while refusing, want none", n-sent)
			}
			close(release)
			if status := within(t, "the occupier's answer", occupied); status != http.StatusOK {
				t.Fatalf("occupier: status %d, want 200", status)
			}
			// No account, challenge, throttle or spent budget stays behind.
			want(t, "again once the slot is free", h.post(tt.path, tt.body), http.StatusOK, nil)
		})
	}
}
