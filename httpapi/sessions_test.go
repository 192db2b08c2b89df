package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
)

// send sends a bodiless request with header exactly as given, repeated
// fields included, and decodes the JSON answer.
func (h *harness) send(method, path string, header http.Header) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header = header.Clone()
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Fatalf("%s %s: Content-Type = %q, want application/json", method, path, ct)
	}
	out := response{status: res.StatusCode, header: res.Header}
	if err := json.NewDecoder(res.Body).Decode(&out.body); err != nil {
		h.t.Fatalf("%s %s: body is not a JSON object: %v", method, path, err)
	}
	return out
}

// wantExactly checks status, exact body and the exact WWW-Authenticate
// values of r (none when challenge is empty).
func wantExactly(t testing.TB, what string, r response, status int, body map[string]any, challenge string) {
	t.Helper()
	want(t, what, r, status, body)
	var wantValues []string
	if challenge != "" {
		wantValues = []string{challenge}
	}
	if got := r.header.Values("WWW-Authenticate"); !slices.Equal(got, wantValues) {
		t.Errorf("%s: WWW-Authenticate = %q, want %q", what, got, wantValues)
	}
}

// bearerHeader is an Authorization header for each of tokens.
func bearerHeader(tokens ...string) http.Header {
	h := http.Header{}
	for _, tok := range tokens {
		h.Add("Authorization", "Bearer "+tok)
	}
	return h
}

const (
	challengeNone    = `Bearer realm="phoneauth"`
	challengeRequest = `Bearer realm="phoneauth", error="invalid_request"`
	challengeToken   = `Bearer realm="phoneauth", error="invalid_token"`
)

func TestEvery401CarriesABearerChallenge(t *testing.T) {
	t.Parallel()
	const phone = "+14155550700"
	tests := []struct {
		name, method, path string
		// header returns the request's headers, given a signed-in
		// harness and the session's tokens.
		header    func(h *harness, userID, access, refresh string) http.Header
		msg       string
		challenge string
	}{
		{
			name: "no Authorization header", method: "GET", path: "/auth/api/me/",
			header:    func(*harness, string, string, string) http.Header { return http.Header{} },
			msg:       "Missing Authorization header",
			challenge: challengeNone,
		},
		{
			name: "an empty Authorization header", method: "GET", path: "/auth/api/me/",
			header:    func(*harness, string, string, string) http.Header { return http.Header{"Authorization": {""}} },
			msg:       "Missing Authorization header",
			challenge: challengeNone,
		},
		{
			name: "another scheme", method: "GET", path: "/auth/api/me/",
			header: func(*harness, string, string, string) http.Header {
				return http.Header{"Authorization": {"Basic YTpi"}}
			},
			msg:       "Authorization header must be 'Bearer <token>'",
			challenge: challengeNone,
		},
		{
			name: "Bearer without a token", method: "GET", path: "/auth/api/me/",
			header:    func(*harness, string, string, string) http.Header { return http.Header{"Authorization": {"Bearer"}} },
			msg:       "Authorization header must be 'Bearer <token>'",
			challenge: challengeNone,
		},
		{
			name: "two Authorization headers", method: "GET", path: "/auth/api/me/",
			header:    func(_ *harness, _, access, _ string) http.Header { return bearerHeader(access, access) },
			msg:       "Only one Authorization header is allowed",
			challenge: challengeRequest,
		},
		{
			name: "a malformed token", method: "GET", path: "/auth/api/me/",
			header:    func(*harness, string, string, string) http.Header { return bearerHeader("abc.def.ghi") },
			msg:       "Token is invalid",
			challenge: challengeToken,
		},
		{
			name: "an expired token", method: "GET", path: "/auth/api/me/",
			header: func(h *harness, userID, _, _ string) http.Header {
				return bearerHeader(h.foreign(userID, phoneauth.TokenAccess, h.clock.Now().Add(-time.Hour)))
			},
			msg:       "Token has expired",
			challenge: challengeToken,
		},
		{
			name: "a refresh token where an access token is needed", method: "GET", path: "/auth/api/me/",
			header:    func(_ *harness, _, _, refresh string) http.Header { return bearerHeader(refresh) },
			msg:       "Only access tokens are allowed",
			challenge: challengeToken,
		},
		{
			name: "an access token at refresh", method: "POST", path: "/auth/api/token/refresh/",
			header:    func(_ *harness, _, access, _ string) http.Header { return bearerHeader(access) },
			msg:       "Only refresh tokens are allowed",
			challenge: challengeToken,
		},
		{
			name: "a token of an unknown subject", method: "GET", path: "/auth/api/me/",
			header: func(h *harness, _, _, _ string) http.Header {
				return bearerHeader(h.foreign(uuid.NewString(), phoneauth.TokenAccess, h.clock.Now()))
			},
			msg:       "Token subject is not a known user",
			challenge: challengeToken,
		},
		{
			name: "an access token of a logged-out session", method: "GET", path: "/auth/api/me/",
			header: func(h *harness, _, access, _ string) http.Header {
				want(h.t, "logout", h.auth("POST", "/auth/api/logout/", access), 200, nil)
				return bearerHeader(access)
			},
			msg:       "Token has been revoked",
			challenge: challengeToken,
		},
		{
			name: "a spent refresh token", method: "POST", path: "/auth/api/token/refresh/",
			header: func(h *harness, _, _, refresh string) http.Header {
				want(h.t, "refresh", h.auth("POST", "/auth/api/token/refresh/", refresh), 200, nil)
				h.clock.Advance(time.Minute) // past any reuse grace
				return bearerHeader(refresh)
			},
			msg:       "Refresh token was already used; the session has been revoked",
			challenge: challengeToken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			userID, access, refresh := h.signIn(phone)
			r := h.send(tt.method, tt.path, tt.header(h, userID, access, refresh))
			wantExactly(t, tt.name, r, http.StatusUnauthorized, errBody(tt.msg), tt.challenge)
		})
	}
}

func TestOnly401sCarryAChallenge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	_, access, _ := h.signIn("+14155550701")
	wantExactly(t, "me", h.send("GET", "/auth/api/me/", bearerHeader(access)), http.StatusOK, nil, "")
	wantExactly(t, "malformed JSON", h.do("POST", "/auth/api/login/", "application/json", "{", nil),
		http.StatusBadRequest, errBody("Malformed JSON"), "")
}

func TestTwoAuthorizationHeadersChangeNothing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		method, path string
		pick         func(access, refresh string) string
	}{
		{"GET", "/auth/api/me/", func(access, _ string) string { return access }},
		{"POST", "/auth/api/token/refresh/", func(_, refresh string) string { return refresh }},
		{"POST", "/auth/api/logout/", func(access, _ string) string { return access }},
	} {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			_, access, refresh := h.signIn("+14155550702")
			tok := tt.pick(access, refresh)
			wantExactly(t, "two headers with one token", h.send(tt.method, tt.path, bearerHeader(tok, tok)),
				http.StatusUnauthorized, errBody("Only one Authorization header is allowed"), challengeRequest)
			// Neither refreshed nor logged out: the session goes on.
			want(t, "me", h.auth("GET", "/auth/api/me/", access), http.StatusOK, nil)
			want(t, "refresh", h.auth("POST", "/auth/api/token/refresh/", refresh), http.StatusOK, nil)
		})
	}
}

// foreign returns a token for sub as a flask-jwt-extended backend sharing
// the secret mints it, issued at iat.
func (h *harness) foreign(sub string, typ phoneauth.TokenType, iat time.Time) string {
	h.t.Helper()
	tok, err := h.signer.Issue(sub, typ, iat)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok.Raw
}
