package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
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
		r := h.do(http.MethodPost, "/auth/api/Register/", "application/json; charset=utf-8", `{"phonenumber":"+14155552671"}`, nil)
		want(t, "json with charset", r, http.StatusOK, nil)
	})
}

func TestBadBodiesAreClearErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
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
			r := h.do(http.MethodPost, "/auth/api/Register/", "application/json", tt.body, nil)
			want(t, tt.name, r, tt.status, errBody(tt.msg))
		})
	}
	if n := len(h.sender.Sent()); n != 0 {
		t.Errorf("bad requests sent %d SMS, want 0", n)
	}
	t.Run("unknown fields are ignored", func(t *testing.T) {
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
		{"readiness", "GET", "/readyz", 200, map[string]any{"checks": map[string]any{"database": "ok", "limiter": "ok"}, "status": "ok"}, ""},
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
	r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+1 (555) 010-0000"})
	if r.status != 200 || r.str("message") != "User Created Successfully" || r.str("phone") != "+15550100000" || len(r.body) != 3 {
		t.Fatalf("register = %d %v", r.status, r.body)
	}
	if _, err := uuid.Parse(r.str("token")); err != nil {
		t.Errorf("token %q is not a UUID", r.str("token"))
	}
	sent := h.sender.Sent()
	if len(sent) != 1 || sent[0].To != "+15550100000" || sent[0].Purpose != phoneauth.PurposeRegister || len(sent[0].Code) != 6 || !strings.Contains(sent[0].Text, sent[0].Code) {
		t.Fatalf("sent = %+v", sent)
	}
	for _, same := range []string{"+15550100000", "5550100000", "(555) 010-0000", "+1 555 010 0000"} {
		t.Run("same account written as "+same, func(t *testing.T) {
			r := h.post("/auth/api/register/", map[string]any{"phonenumber": same})
			want(t, same, r, http.StatusConflict, errBody("Account already Exists"))
		})
	}
	t.Run("verified account is also 409", func(t *testing.T) {
		h.verified("+14155550101")
		r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+14155550101"})
		want(t, "verified", r, http.StatusConflict, errBody("Account already Exists"))
	})
	t.Run("unverified account with an expired code can register again", func(t *testing.T) {
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
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550130"
	tok := h.register(phone)
	code := h.sender.LastCode(phone)
	other := h.register("+14155550131")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		resp   map[string]any
	}{
		{"all fields missing", map[string]any{}, 400, errBody("Missing required fields: code, token, phone")},
		{"code missing", map[string]any{"token": tok, "phone": phone}, 400, errBody("Missing required fields: code")},
		{"unknown token", map[string]any{"code": code, "token": uuid.NewString(), "phone": phone}, 400, errBody("Invalid verification token")},
		{"token that is not a UUID", map[string]any{"code": code, "token": "abc", "phone": phone}, 400, errBody("Invalid verification token")},
		{"token of another phone", map[string]any{"code": code, "token": other, "phone": phone}, 400, errBody("Invalid verification token")},
		{"invalid phone", map[string]any{"code": code, "token": tok, "phone": "12"}, 400, errBody("Invalid phone number")},
		{"wrong code", map[string]any{"code": wrong, "token": tok, "phone": phone}, 400, errBody("Invalid code")},
		{"right code, phone written another way", map[string]any{"code": code, "token": tok, "phone": "(415) 555-0130"}, 200, map[string]any{"message": "User verify Successfully!"}},
		{"code is spent", map[string]any{"code": code, "token": tok, "phone": phone}, 400, errBody("Invalid verification token")},
	}
	for _, tt := range tests {
		r := h.post("/auth/api/verify/", tt.body)
		want(t, tt.name, r, tt.status, tt.resp)
	}
	t.Run("expired code", func(t *testing.T) {
		tok := h.register("+14155550132")
		h.clock.Advance(5*time.Minute + time.Second)
		r := h.post("/auth/api/verify/", map[string]any{"code": h.sender.LastCode("+14155550132"), "token": tok, "phone": "+14155550132"})
		want(t, "expired", r, http.StatusBadRequest, errBody("Code has expired, request a new code"))
	})
}

func TestTooManyWrongCodesKillTheCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 3 }})
	wrongFor := func(code string) string {
		if code == "000000" {
			return "111111"
		}
		return "000000"
	}
	t.Run("registration", func(t *testing.T) {
		const phone = "+14155550140"
		tok := h.register(phone)
		code := h.sender.LastCode(phone)
		for i, wantStatus := range []int{400, 400, 429} {
			r := h.post("/auth/api/verify/", map[string]any{"code": wrongFor(code), "token": tok, "phone": phone})
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
		const phone = "+14155550141"
		h.verified(phone)
		id := h.login(phone)
		code := h.sender.LastCode(phone)
		for range 3 {
			h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id})
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
	r = h.post("/auth/api/login/", map[string]any{"phone": phone})
	want(t, "second request", r, http.StatusTooManyRequests, map[string]any{"message": "User already have a request for login"})
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
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550170"
	h.verified(phone)
	h.verified("+14155550171")
	idle := h.login("+14155550171")
	h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode("+14155550171"), "user_id": idle})
	id := h.login(phone)
	code := h.sender.LastCode(phone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		resp   map[string]any
	}{
		{"missing", map[string]any{"code": code}, 400, errBody("Missing required fields: user_id")},
		{"unknown user", map[string]any{"code": code, "user_id": uuid.NewString()}, 400, errBody("login first")},
		{"user_id not a UUID", map[string]any{"code": code, "user_id": "42"}, 400, errBody("login first")},
		{"no pending login", map[string]any{"code": code, "user_id": idle}, 400, errBody("login first")},
		{"wrong code", map[string]any{"code": wrong, "user_id": id}, 400, errBody("Invalid code")},
	}
	for _, tt := range tests {
		want(t, tt.name, h.post("/auth/api/login/verify/", tt.body), tt.status, tt.resp)
	}
	r := h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id})
	if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == "" || len(r.body) != 2 {
		t.Fatalf("login verify = %d %v", r.status, r.body)
	}
	want(t, "code is single use", h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id}), 400, errBody("login first"))

	t.Run("expired", func(t *testing.T) {
		id := h.login(phone)
		h.clock.Advance(5*time.Minute + time.Second)
		r := h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(phone), "user_id": id})
		want(t, "expired", r, 400, errBody("Code has expired, request a new code"))
	})
}

func TestParallelLoginVerificationOfOneCodeHasOneWinner(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 100 }})
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
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 100 }})
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
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550190"
	id, access, refresh := h.signIn(phone)

	r := h.auth("GET", "/auth/api/me/", access)
	if r.status != 200 || r.str("user_id") != id || r.str("phone") != phone || r.body["verified"] != true || len(r.body) != 4 {
		t.Fatalf("me = %d %v", r.status, r.body)
	}
	if _, err := time.Parse(time.RFC3339, r.str("created_at")); err != nil {
		t.Errorf("created_at %q: %v", r.str("created_at"), err)
	}

	foreign := func(typ phoneauth.TokenType, sub string) string {
		tok, err := h.signer.Issue(sub, typ, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok.Raw
	}
	tests := []struct {
		name, method, path, header string
		msg                        string
	}{
		{"me without header", "GET", "/auth/api/me/", "", "Missing Authorization header"},
		{"me with basic auth", "GET", "/auth/api/me/", "Basic abc", "Authorization header must be 'Bearer <token>'"},
		{"me with garbage", "GET", "/auth/api/me/", "Bearer abc.def.ghi", "Token is invalid"},
		{"me with refresh token", "GET", "/auth/api/me/", "Bearer " + refresh, "Only access tokens are allowed"},
		{"refresh with access token", "POST", "/auth/api/token/refresh/", "Bearer " + access, "Only refresh tokens are allowed"},
		{"me for an unknown subject", "GET", "/auth/api/me/", "Bearer " + foreign(phoneauth.TokenAccess, uuid.NewString()), "Token subject is not a known user"},
		{"logout without header", "POST", "/auth/api/logout/", "", "Missing Authorization header"},
	}
	for _, tt := range tests {
		hdr := map[string]string{}
		if tt.header != "" {
			hdr["Authorization"] = tt.header
		}
		want(t, tt.name, h.do(tt.method, tt.path, "", "", hdr), 401, errBody(tt.msg))
	}

	t.Run("a token minted elsewhere with the same secret is accepted", func(t *testing.T) {
		want(t, "foreign access", h.auth("GET", "/auth/api/me/", foreign(phoneauth.TokenAccess, id)), 200, nil)
	})

	// Rotation, then reuse detection.
	r = h.auth("POST", "/auth/api/token/refresh/", refresh)
	if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == refresh {
		t.Fatalf("refresh = %d %v", r.status, r.body)
	}
	access2, refresh2 := r.str("access_token"), r.str("refresh_token")
	want(t, "new access works", h.auth("GET", "/auth/api/me/", access2), 200, nil)
	h.clock.Advance(phoneauth.DefaultPolicy().RefreshReuseGrace) // within it, the spent token gets refresh2 again
	want(t, "spent refresh token again", h.auth("POST", "/auth/api/token/refresh/", refresh), 401,
		errBody("Refresh token was already used; the session has been revoked"))
	want(t, "newest refresh token after reuse", h.auth("POST", "/auth/api/token/refresh/", refresh2), 401, errBody("Token has been revoked"))
	want(t, "access token after reuse", h.auth("GET", "/auth/api/me/", access2), 401, errBody("Token has been revoked"))

	t.Run("logout with the access token revokes the session", func(t *testing.T) {
		h.clock.Advance(5 * time.Minute)
		_, access, refresh := h.signIn("+14155550191")
		want(t, "logout", h.auth("POST", "/auth/api/logout/", access), 200, map[string]any{"message": "Logged out"})
		want(t, "me", h.auth("GET", "/auth/api/me/", access), 401, errBody("Token has been revoked"))
		want(t, "refresh", h.auth("POST", "/auth/api/token/refresh/", refresh), 401, errBody("Token has been revoked"))
		want(t, "logout twice", h.auth("POST", "/auth/api/logout/", access), 200, nil)
	})
	t.Run("logout with the refresh token revokes the session", func(t *testing.T) {
		_, access, refresh := h.signIn("+14155550192")
		want(t, "logout", h.auth("POST", "/auth/api/logout/", refresh), 200, nil)
		want(t, "me", h.auth("GET", "/auth/api/me/", access), 401, errBody("Token has been revoked"))
	})
	t.Run("expired tokens", func(t *testing.T) {
		_, access, _ := h.signIn("+14155550193")
		h.clock.Advance(15*time.Minute + time.Second)
		want(t, "me", h.auth("GET", "/auth/api/me/", access), 401, errBody("Token has expired"))
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

// lostReplyLimiter takes holds but, while lose is set, reports an outage
// as a backend would whose reply to a write it did was lost.
type lostReplyLimiter struct {
	phoneauth.Limiter
	lose atomic.Bool
}

func (l *lostReplyLimiter) Hold(ctx context.Context, key, owner string, ttl time.Duration) (bool, time.Duration, error) {
	ok, left, err := l.Limiter.Hold(ctx, key, owner, ttl)
	if l.lose.Load() {
		return false, 0, fmt.Errorf("reply lost: %w", phoneauth.ErrUnavailable)
	}
	return ok, left, err
}

func TestLoginHoldIsUndoneWhenItsReplyIsLost(t *testing.T) {
	t.Parallel()
	var lim *lostReplyLimiter
	h := newHarness(t, harnessOptions{limiter: func(l phoneauth.Limiter) phoneauth.Limiter {
		lim = &lostReplyLimiter{Limiter: l}
		return lim
	}})
	const phone = "+14155550250"
	h.verified(phone)
	lim.lose.Store(true)
	want(t, "login during the fault", h.post("/auth/api/login/", map[string]any{"phone": phone}), 503, errBody("Service unavailable"))
	lim.lose.Store(false)
	want(t, "login after the fault", h.post("/auth/api/login/", map[string]any{"phone": phone}), 200, nil)
	want(t, "throttle of that login still holds", h.post("/auth/api/login/", map[string]any{"phone": phone}), 429, nil)
}

// lostReplyStore registers but, while lose is set, reports an outage as a
// database would whose commit reply was lost.
type lostReplyStore struct {
	phoneauth.Store
	lose atomic.Bool
}

func (s *lostReplyStore) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) error {
	err := s.Store.Register(ctx, u, c, now)
	if err == nil && s.lose.Load() {
		return fmt.Errorf("reply lost: %w", phoneauth.ErrUnavailable)
	}
	return err
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
