package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/phoneauthtest"
	"github.com/phoneauth/phoneauth/sqlite"
)

// wrongFor returns a code that is not code.
func wrongFor(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// lockedBody is the answer of every code flow while an account is locked.
var lockedBody = errBody("Account temporarily locked, try again later")

func TestAccountLockout(t *testing.T) {
	t.Parallel()
	const threshold = 4
	var logs logLines
	h := newHarness(t, harnessOptions{log: &logs, policy: func(p *phoneauth.Policy) {
		p.MaxAttempts = 3
		p.LockoutThreshold = threshold
		p.LockoutDuration = 10 * time.Minute
	}})
	const phone = "+14155550300"
	h.verified(phone)

	// Failures across codes: a new code does not reset the count.
	id := h.login(phone)
	code := h.sender.LastCode(phone)
	for i := range 2 {
		r := h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id})
		want(t, fmt.Sprintf("wrong try %d of the first code", i+1), r, 400, errBody("Invalid code"))
	}
	h.clock.Advance(5 * time.Minute)
	h.login(phone)
	code = h.sender.LastCode(phone)
	want(t, "wrong try 1 of the second code", h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id}), 400, errBody("Invalid code"))
	r := h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id})
	want(t, "the threshold-th failure", r, http.StatusTooManyRequests, lockedBody)
	if got := r.header.Get("Retry-After"); got != "600" {
		t.Errorf("Retry-After = %q, want 600", got)
	}
	var warned []map[string]any
	for _, rec := range logs.records(t) {
		if rec["level"] == "WARN" && rec["msg"] == "account locked after too many failed code checks" {
			warned = append(warned, rec)
		}
		for k, v := range rec {
			if s, _ := v.(string); strings.Contains(s, phone) {
				t.Errorf("log field %s holds the whole phone number: %v", k, rec)
			}
		}
	}
	if len(warned) != 1 || warned[0]["phone"] != "+1***00" || warned[0]["client_ip"] != "127.0.0.1" || warned[0]["locked_for"] != "10m0s" {
		t.Errorf("lockout WARN lines %v, want one naming the masked phone, the client IP and the lockout", warned)
	}

	t.Run("while locked the right code is refused, and login sends no SMS", func(t *testing.T) {
		r := h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id})
		want(t, "right code while locked", r, http.StatusTooManyRequests, lockedBody)
		sent := len(h.sender.Sent())
		h.clock.Advance(5 * time.Minute)
		r = h.post("/auth/api/login/", map[string]any{"phone": phone})
		want(t, "login while locked", r, http.StatusTooManyRequests, lockedBody)
		if got := r.header.Get("Retry-After"); got != "300" {
			t.Errorf("Retry-After = %q, want 300", got)
		}
		if got := len(h.sender.Sent()); got != sent {
			t.Errorf("%d SMS sent while locked, want none", got-sent)
		}
	})

	t.Run("after the lockout the right code works and clears the count", func(t *testing.T) {
		h.clock.Advance(5 * time.Minute)
		id := h.login(phone)
		want(t, "right code after the lockout", h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(phone), "user_id": id}), 200, nil)
	})

	t.Run("verify of an unverified account is locked too", func(t *testing.T) {
		const phone = "+14155550301"
		tok := h.register(phone)
		code := h.sender.LastCode(phone)
		for range threshold - 1 {
			h.post("/auth/api/verify/", map[string]any{"code": wrongFor(code), "token": tok, "phone": phone})
			h.clock.Advance(5 * time.Minute) // the code expires: the number may register again
			tok = h.register(phone)
			code = h.sender.LastCode(phone)
		}
		want(t, "the threshold-th failure", h.post("/auth/api/verify/", map[string]any{"code": wrongFor(code), "token": tok, "phone": phone}), 429, lockedBody)
		want(t, "right code while locked", h.post("/auth/api/verify/", map[string]any{"code": code, "token": tok, "phone": phone}), 429, lockedBody)
		h.clock.Advance(5 * time.Minute) // the code expires; the account stays locked
		sent := len(h.sender.Sent())
		want(t, "register again while locked", h.post("/auth/api/Register/", map[string]any{"phonenumber": phone}), 429, lockedBody)
		if got := len(h.sender.Sent()); got != sent {
			t.Errorf("%d SMS sent to a locked account, want none", got-sent)
		}
	})
}

func TestPerIPVerifyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.IPVerifyRateLimit = 3 }})
	const phone = "+14155550310"
	tok := h.register(phone)
	h.verified("+14155550311")
	id := h.login("+14155550311")
	h.clock.Advance(time.Minute) // a fresh window: the set-up verified an account
	// Both verify endpoints count against one limit per address.
	want(t, "verify 1", h.post("/auth/api/verify/", map[string]any{"code": "000000", "token": tok, "phone": phone}), 400, nil)
	want(t, "login verify 2", h.post("/auth/api/login/verify/", map[string]any{"code": "000000", "user_id": id}), 400, nil)
	want(t, "verify 3", h.post("/auth/api/verify/", map[string]any{"code": "000000", "token": tok, "phone": phone}), 400, nil)
	r := h.post("/auth/api/login/verify/", map[string]any{"code": "000000", "user_id": id})
	want(t, "login verify 4", r, http.StatusTooManyRequests, errBody("Too many requests, try again later"))
	if got := r.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60", got)
	}
	h.clock.Advance(time.Minute)
	want(t, "after a minute", h.post("/auth/api/verify/", map[string]any{"code": h.sender.LastCode(phone), "token": tok, "phone": phone}), 200, nil)
}

func TestKilledLoginCodeKeepsTheThrottleAndThe429NamesTheUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.MaxAttempts = 2 }})
	const phone = "+14155550320"
	h.verified(phone)
	id := h.login(phone)
	code := h.sender.LastCode(phone)
	for range 2 {
		h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id})
	}
	h.clock.Advance(time.Minute)
	r := h.post("/auth/api/login/", map[string]any{"phone": phone})
	want(t, "login while the killed code's throttle runs", r, http.StatusTooManyRequests,
		map[string]any{"message": "User already have a request for login", "user_id": id})
	if got := r.header.Get("Retry-After"); got != "240" {
		t.Errorf("Retry-After = %q, want 240", got)
	}
}

// TestGuessingLimitsSurviveARestart restarts the service on the same
// SQLite file, with a fresh in-memory limiter, between tries: the tries of
// a code and the failures of an account are in the database.
func TestGuessingLimitsSurviveARestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	clock := phoneauthtest.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	policy := func(p *phoneauth.Policy) { p.MaxAttempts = 3; p.LockoutThreshold = 5 }
	start := func() (*harness, func()) {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, harnessOptions{store: st, clock: clock, policy: policy})
		return h, func() { h.srv.Close(); st.Close() }
	}
	const phone = "+14155550330"
	h, stop := start()
	h.verified(phone)
	id := h.login(phone)
	code := h.sender.LastCode(phone)
	for range 2 {
		h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id})
	}
	stop()

	h, stop = start()
	want(t, "the code's last try after a restart", h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id}),
		429, errBody("Too many failed attempts, request a new code"))
	want(t, "the right code after a restart", h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id}),
		429, errBody("Too many failed attempts, request a new code"))
	want(t, "a new login within the throttle after a restart", h.post("/auth/api/login/", map[string]any{"phone": phone}), 429, nil)
	stop()

	clock.Advance(5 * time.Minute)
	h, stop = start()
	h.login(phone)
	code = h.sender.LastCode(phone)
	h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id})
	stop()

	h, stop = start()
	defer stop()
	want(t, "the fifth failure, across codes and restarts, locks", h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id}), 429, lockedBody)
	want(t, "the right code after the lockout began", h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id}), 429, lockedBody)
}

func TestFortyParallelWrongGuessesAreCheckedAtMostMaxAttemptsTimes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550340"
	h.verified(phone)
	id := h.login(phone)
	code := h.sender.LastCode(phone)
	const n = 40
	bodies := make(chan string, n)
	count := statusCounts(n, func() int {
		r := h.post("/auth/api/login/verify/", map[string]any{"code": wrongFor(code), "user_id": id})
		bodies <- r.str("error")
		return r.status
	})
	close(bodies)
	checked := 0
	for b := range bodies {
		if b == "Invalid code" {
			checked++
		}
	}
	// MaxAttempts is 5: four answers say the code is wrong, the fifth
	// that it is dead, and the other 35 were refused unchecked.
	if max := phoneauth.DefaultPolicy().MaxAttempts; checked != max-1 || count[400] != max-1 || count[429] != n-max+1 {
		t.Errorf("statuses %v, %d answers Invalid code; want %d × 400 and %d × 429", count, checked, max-1, n-max+1)
	}
	want(t, "the right code afterwards", h.post("/auth/api/login/verify/", map[string]any{"code": code, "user_id": id}),
		429, errBody("Too many failed attempts, request a new code"))
}

func TestVerifiedOldCodeNeverEndsTheNewerLoginsThrottle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	const phone = "+14155550350"
	h.verified(phone)
	id := h.login(phone)
	old := h.sender.LastCode(phone)
	// Once the throttle of the first code runs out, a new code replaces it
	// (again, in the one-in-a-million case that both codes are equal).
	for h.sender.LastCode(phone) == old {
		h.clock.Advance(5 * time.Minute)
		h.login(phone)
	}
	want(t, "the first code, replaced", h.post("/auth/api/login/verify/", map[string]any{"code": old, "user_id": id}), 400, errBody("Invalid code"))
	r := h.post("/auth/api/login/", map[string]any{"phone": phone})
	want(t, "login while the second code is pending", r, 429, map[string]any{"message": "User already have a request for login", "user_id": id})
}
