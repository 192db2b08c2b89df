package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sqlite"
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

// claimsOf decodes the claims of a token without checking it.
func claimsOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments, want 3", raw, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return c
}

// wantTimes checks the iat and exp of token raw, in Unix seconds.
func wantTimes(t testing.TB, what, raw string, iat, exp time.Time) {
	t.Helper()
	c := claimsOf(t, raw)
	for _, tc := range []struct {
		claim string
		want  time.Time
	}{{"iat", iat}, {"exp", exp}} {
		if got, want := fmt.Sprint(c[tc.claim]), strconv.FormatInt(tc.want.Unix(), 10); got != want {
			t.Errorf("%s: claim %s = %s, want %s (%s)", what, tc.claim, got, want, tc.want.UTC())
		}
	}
}

// refresh presents refresh token tok and returns the answer, which must
// be 200 with a token pair.
func (h *harness) refresh(tok string) (access, refresh string) {
	h.t.Helper()
	r := h.auth("POST", "/auth/api/token/refresh/", tok)
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") == "" || len(r.body) != 2 {
		h.t.Fatalf("refresh: %d %v, want 200 with a token pair", r.status, r.body)
	}
	return r.str("access_token"), r.str("refresh_token")
}

// loginAgain opens another session of the verified account of phone.
func (h *harness) loginAgain(phone string) (access, refresh string) {
	h.t.Helper()
	userID := h.login(phone)
	r := h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(phone), "user_id": userID})
	if r.status != http.StatusOK {
		h.t.Fatalf("login verify %s: %d %v", phone, r.status, r.body)
	}
	return r.str("access_token"), r.str("refresh_token")
}

var (
	bodyReused  = errBody("Refresh token was already used; the session has been revoked")
	bodyRevoked = errBody("Token has been revoked")
	bodyExpired = errBody("Token has expired")
)

func TestSessionLifetimeIsAbsolute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	login := h.clock.Now()
	end := login.Add(720 * time.Hour)
	_, access, refresh := h.signIn("+14155550710")
	wantTimes(t, "login's refresh token", refresh, login, end)
	wantTimes(t, "login's access token", access, login, login.Add(15*time.Minute))

	h.clock.Advance(10 * 24 * time.Hour)
	now := h.clock.Now()
	access, refresh = h.refresh(refresh)
	wantTimes(t, "refresh token ten days on", refresh, now, end)
	wantTimes(t, "access token ten days on", access, now, now.Add(15*time.Minute))

	h.clock.Advance(end.Sub(h.clock.Now()) - 5*time.Minute)
	now = h.clock.Now()
	access, refresh = h.refresh(refresh)
	wantTimes(t, "refresh token five minutes before the end", refresh, now, end)
	wantTimes(t, "access token five minutes before the end: it ends with the session", access, now, end)

	h.clock.Advance(5 * time.Minute)
	wantExactly(t, "refresh at the session's end", h.auth("POST", "/auth/api/token/refresh/", refresh),
		http.StatusUnauthorized, bodyExpired, challengeToken)
	wantExactly(t, "me at the session's end", h.auth("GET", "/auth/api/me/", access),
		http.StatusUnauthorized, bodyExpired, challengeToken)
}

func TestRefreshReuseGrace(t *testing.T) {
	t.Parallel()
	const phone = "+14155550711"

	t.Run("the spent token within the grace gets the same successor and a fresh access token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		_, _, r0 := h.signIn(phone)
		a1, r1 := h.refresh(r0)
		h.clock.Advance(2 * time.Second)
		a1again, r1again := h.refresh(r0)
		if r1again != r1 {
			t.Errorf("refresh token within the grace:\n%s\nwant the first rotation's\n%s", r1again, r1)
		}
		if a1again == a1 {
			t.Errorf("access token within the grace is the first rotation's, want a fresh one")
		}
		now := h.clock.Now()
		wantTimes(t, "access token within the grace", a1again, now, now.Add(15*time.Minute))
		want(t, "me with it", h.auth("GET", "/auth/api/me/", a1again), http.StatusOK, nil)

		// The grace answered; the successor still rotates once.
		_, r2 := h.refresh(r1)
		if r2 == r1 {
			t.Fatalf("rotation of the successor returned it unchanged")
		}
		if _, again := h.refresh(r1); again != r2 {
			t.Errorf("successor within the grace: got another token than its rotation's")
		}
	})

	t.Run("after the grace the spent token revokes the session", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		_, _, r0 := h.signIn(phone)
		a1, r1 := h.refresh(r0)
		h.clock.Advance(phoneauth.DefaultPolicy().RefreshReuseGrace)
		wantExactly(t, "spent token at the grace's end", h.auth("POST", "/auth/api/token/refresh/", r0),
			http.StatusUnauthorized, bodyReused, challengeToken)
		wantExactly(t, "its successor", h.auth("POST", "/auth/api/token/refresh/", r1),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
		wantExactly(t, "the successor's access token", h.auth("GET", "/auth/api/me/", a1),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
	})

	t.Run("a grace of 0s disables it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.RefreshReuseGrace = 0 }})
		_, _, r0 := h.signIn(phone)
		_, r1 := h.refresh(r0)
		wantExactly(t, "spent token at once", h.auth("POST", "/auth/api/token/refresh/", r0),
			http.StatusUnauthorized, bodyReused, challengeToken)
		wantExactly(t, "its successor", h.auth("POST", "/auth/api/token/refresh/", r1),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
	})

	t.Run("a foreign refresh token gets the same successor within the grace, and reuse after it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		userID, _, _ := h.signIn(phone)
		now := h.clock.Now()
		f := h.foreign(userID, phoneauth.TokenRefresh, now)
		_, r1 := h.refresh(f)
		wantTimes(t, "the adopted session's refresh token", r1, now, now.Add(720*time.Hour))
		if _, again := h.refresh(f); again != r1 {
			t.Errorf("foreign token within the grace: got another successor")
		}
		h.clock.Advance(phoneauth.DefaultPolicy().RefreshReuseGrace)
		wantExactly(t, "foreign token after the grace", h.auth("POST", "/auth/api/token/refresh/", f),
			http.StatusUnauthorized, bodyReused, challengeToken)
		wantExactly(t, "its successor", h.auth("POST", "/auth/api/token/refresh/", r1),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
	})
}

// rawRefresh presents tok at refresh from any goroutine: it reports
// failures instead of stopping the test.
func rawRefresh(client *http.Client, url, tok string) (int, map[string]string, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/auth/api/token/refresh/", nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var body map[string]string
	err = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body, err
}

func TestParallelRefreshesNeverFork(t *testing.T) {
	t.Parallel()
	const n = 10
	parallel := func(h *harness, tok string) (statuses []int, bodies []map[string]string) {
		statuses, bodies = make([]int, n), make([]map[string]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				statuses[i], bodies[i], errs[i] = rawRefresh(h.srv.Client(), h.srv.URL, tok)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				h.t.Fatalf("refresh %d: %v", i, err)
			}
		}
		return statuses, bodies
	}

	t.Run("within the grace all ten get the one successor", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		_, _, r0 := h.signIn("+14155550712")
		statuses, bodies := parallel(h, r0)
		for i := range n {
			if statuses[i] != http.StatusOK || bodies[i]["refresh_token"] != bodies[0]["refresh_token"] {
				t.Errorf("refresh %d: %d, refresh token %.20s…; want 200 with the one successor %.20s…",
					i, statuses[i], bodies[i]["refresh_token"], bodies[0]["refresh_token"])
			}
		}
		// The successor is the session's one live refresh token: it
		// rotates, and the original is reuse once the grace is over.
		h.refresh(bodies[0]["refresh_token"])
		h.clock.Advance(phoneauth.DefaultPolicy().RefreshReuseGrace)
		wantExactly(t, "the original token", h.auth("POST", "/auth/api/token/refresh/", r0),
			http.StatusUnauthorized, bodyReused, challengeToken)
	})

	t.Run("without grace one rotates and the session ends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.RefreshReuseGrace = 0 }})
		_, _, r0 := h.signIn("+14155550713")
		statuses, bodies := parallel(h, r0)
		winner := -1
		for i := range n {
			switch {
			case statuses[i] == http.StatusOK && winner < 0:
				winner = i
			case statuses[i] == http.StatusOK:
				t.Errorf("refreshes %d and %d both rotated", winner, i)
			case statuses[i] != http.StatusUnauthorized ||
				bodies[i]["error"] != bodyReused["error"] && bodies[i]["error"] != bodyRevoked["error"]:
				t.Errorf("refresh %d: %d %v, want 401 reused or revoked", i, statuses[i], bodies[i])
			}
		}
		if winner < 0 {
			t.Fatalf("no refresh rotated: %v", statuses)
		}
		wantExactly(t, "the winner's successor", h.auth("POST", "/auth/api/token/refresh/", bodies[winner]["refresh_token"]),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
	})
}

// openSQLiteAt opens and migrates the SQLite store at path.
func openSQLiteAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// backup copies the SQLite database at path, live, as a backup tool would.
func backup(t testing.TB, path, to string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`VACUUM INTO ?`, to); err != nil {
		t.Fatalf("VACUUM INTO: %v", err)
	}
}

func TestRestoredBackupRefusesNewerTokensAndEndsASessionAtTheFirstReuse(t *testing.T) {
	t.Parallel()
	const phone = "+14155550714"
	// setup signs in on a live database, backs it up, then rotates the
	// session twice and opens a second one. It returns a service on the
	// backup, restored, and the tokens.
	type tokens struct{ a0, r0, r1, a2, r2, second, secondRefresh string }
	setup := func(t *testing.T) (*harness, tokens) {
		dir := t.TempDir()
		live := filepath.Join(dir, "live.db")
		h := newHarness(t, harnessOptions{store: openSQLiteAt(t, live)})
		var tk tokens
		_, tk.a0, tk.r0 = h.signIn(phone)
		backup(t, live, filepath.Join(dir, "backup.db"))
		_, tk.r1 = h.refresh(tk.r0)
		h.clock.Advance(time.Minute)
		tk.a2, tk.r2 = h.refresh(tk.r1)
		tk.second, tk.secondRefresh = h.loginAgain(phone)
		restored := newHarness(t, harnessOptions{store: openSQLiteAt(t, filepath.Join(dir, "backup.db"))})
		restored.clock.Advance(2 * time.Minute) // time has passed since
		return restored, tk
	}

	t.Run("tokens of a session opened after the backup are refused", func(t *testing.T) {
		t.Parallel()
		h, tk := setup(t)
		wantExactly(t, "me", h.auth("GET", "/auth/api/me/", tk.second), http.StatusUnauthorized, bodyRevoked, challengeToken)
		wantExactly(t, "refresh", h.auth("POST", "/auth/api/token/refresh/", tk.secondRefresh),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
	})

	t.Run("a token newer than the backup ends the session, so the token the backup still believes current is refused", func(t *testing.T) {
		t.Parallel()
		h, tk := setup(t)
		wantExactly(t, "me with an access token newer than the backup", h.auth("GET", "/auth/api/me/", tk.a2),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
		wantExactly(t, "refresh with the client's newest token", h.auth("POST", "/auth/api/token/refresh/", tk.r2),
			http.StatusUnauthorized, bodyReused, challengeToken)
		wantExactly(t, "refresh with the token spent after the backup", h.auth("POST", "/auth/api/token/refresh/", tk.r0),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
		wantExactly(t, "me with the login's access token", h.auth("GET", "/auth/api/me/", tk.a0),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
	})

	t.Run("if the token spent after the backup comes first, the fork is reuse when the client comes", func(t *testing.T) {
		t.Parallel()
		h, tk := setup(t)
		_, forked := h.refresh(tk.r0) // the backup cannot know it was spent
		wantExactly(t, "refresh with a token of the lost rotations", h.auth("POST", "/auth/api/token/refresh/", tk.r1),
			http.StatusUnauthorized, bodyReused, challengeToken)
		wantExactly(t, "refresh with the fork's token", h.auth("POST", "/auth/api/token/refresh/", forked),
			http.StatusUnauthorized, bodyRevoked, challengeToken)
	})
}

// BenchmarkRefresh measures rotations through HTTP on a real SQLite file
// and, when PHONEAUTH_TEST_POSTGRES_URL is set, on PostgreSQL: every
// parallel client rotates the refresh token of its own session. One op is
// one refresh.
func BenchmarkRefresh(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchRefresh(b, openSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchRefresh(b, openPostgres(b)) })
}

func benchRefresh(b *testing.B, st phoneauth.Store) {
	h := newHarness(b, harnessOptions{store: st})
	sessions := make([]string, 64) // more than the parallel clients
	for i := range sessions {
		_, _, sessions[i] = h.signIn(fmt.Sprintf("+1415%03d%04d", 200+i/10000, i%10000))
	}
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tok := sessions[next.Add(1)-1]
		for pb.Next() {
			status, body, err := rawRefresh(h.srv.Client(), h.srv.URL, tok)
			if err != nil || status != http.StatusOK {
				b.Errorf("refresh: %d %v %v", status, body, err)
				return
			}
			tok = body["refresh_token"]
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
}
