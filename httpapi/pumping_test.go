package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

var cannotReceive = errBody("This number cannot receive SMS")

func TestNumbersThatCannotReceiveSMSAreRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, phone string
		regions     []string
	}{
		{"toll-free", "+18005550100", nil},
		{"premium rate", "+19005550100", nil},
		{"possible but not valid", "+15550100000", nil},
		{"a mobile outside the default region", "+447400123456", nil},
		{"a mobile outside the configured regions", "+14155550400", []string{"GB", "FR"}},
		{"a fixed line", "+442071838750", []string{"*"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.SMSRegions = tt.regions }})
			want(t, "register", h.post("/auth/api/Register/", map[string]any{"phonenumber": tt.phone}), 400, cannotReceive)
			want(t, "login", h.post("/auth/api/login/", map[string]any{"phone": tt.phone}), 400, cannotReceive)
			if n := len(h.sender.Sent()); n != 0 {
				t.Errorf("%d SMS sent, want none", n)
			}
		})
	}
	t.Run("mobiles of the configured regions are served", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.SMSRegions = []string{"GB", "FR"} }})
		h.verified("+447400123456")
		h.verified("+33612345678")
		h.login("+33612345678")
	})
	t.Run("* serves every region", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.SMSRegions = []string{"*"} }})
		h.verified("+447400123456")
		h.verified("+14155550401")
	})
}

func TestTestNumbers(t *testing.T) {
	t.Parallel()
	const phone = "+15550100000" // not a valid number: only a test number gets in
	h := newHarness(t, harnessOptions{
		policy: func(p *phoneauth.Policy) { p.SMSPerHour = 1; p.MaxAttempts = 2 },
		deps: func(d *phoneauth.Deps) {
			d.TestNumbers = map[string]string{phone: "123456", "+15550100001": "654321"}
			d.TestNumbersUntil = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC) // an hour after the harness's start
		},
	})
	r := h.post("/auth/api/Register/", map[string]any{"phonenumber": "+1 555 010 0000"})
	want(t, "register", r, 200, nil)
	want(t, "verify with the fixed code", h.post("/auth/api/verify/", map[string]any{"code": "123456", "token": r.str("token"), "phone": phone}), 200, nil)
	for i := range 3 { // the SMS budget of 1 per hour does not apply
		h.clock.Advance(5 * time.Minute)
		r = h.post("/auth/api/login/", map[string]any{"phone": phone})
		want(t, fmt.Sprintf("login %d", i+1), r, 200, nil)
		want(t, "login verify with the fixed code", h.post("/auth/api/login/verify/", map[string]any{"code": "123456", "user_id": r.str("user_id")}), 200, nil)
	}
	if n := len(h.sender.Sent()); n != 0 {
		t.Errorf("%d SMS sent to test numbers, want none", n)
	}
	t.Run("the attempt cap still applies", func(t *testing.T) {
		h.clock.Advance(5 * time.Minute)
		id := h.post("/auth/api/login/", map[string]any{"phone": phone}).str("user_id")
		for range 2 {
			h.post("/auth/api/login/verify/", map[string]any{"code": "000000", "user_id": id})
		}
		want(t, "fixed code after the cap", h.post("/auth/api/login/verify/", map[string]any{"code": "123456", "user_id": id}),
			429, errBody("Too many failed attempts, request a new code"))
	})
	t.Run("a fixed code sent just before the end time ends with the test numbers", func(t *testing.T) {
		h.clock.Advance(time.Date(2026, 11, 25, 12, 59, 0, 0, time.UTC).Sub(h.clock.Now())) // a minute before the end
		id := h.post("/auth/api/login/", map[string]any{"phone": phone}).str("user_id")
		h.clock.Advance(time.Minute)
		want(t, "fixed code at the end time", h.post("/auth/api/login/verify/", map[string]any{"code": "123456", "user_id": id}),
			400, errBody("Code has expired, request a new code"))
	})
	t.Run("after the end time a test number is an ordinary number", func(t *testing.T) {
		h.clock.Advance(time.Hour)
		want(t, "register", h.post("/auth/api/Register/", map[string]any{"phonenumber": "+15550100001"}), 400, cannotReceive)
	})
}

func TestSMSBudgets(t *testing.T) {
	t.Parallel()
	register := func(h *harness, phone string) response {
		return h.post("/auth/api/Register/", map[string]any{"phonenumber": phone})
	}
	for _, tt := range []struct {
		name   string
		policy func(*phoneauth.Policy)
		// phones are registered in order: all but the last succeed; the
		// last is refused with body and the Retry-After.
		phones     []string
		body       map[string]any
		retryAfter string
		// other is still served afterwards: the budget is not the one
		// that covers it.
		other string
	}{
		{"per number range per hour", func(p *phoneauth.Policy) { p.SMSPerRangeHour = 2 },
			[]string{"+14155550201", "+14155550202", "+14155550203"}, errBody("Too many codes sent to numbers like this one, try again later"), "3600", "+12025550123"},
		{"per country per hour", func(p *phoneauth.Policy) { p.SMSPerCountryHour = map[string]int{"US": 2}; p.SMSRegions = []string{"*"} },
			[]string{"+14155550201", "+12025550123", "+16505551234"}, errBody("SMS limit for this country reached, try again later"), "3600", "+447400123456"},
		{"per hour", func(p *phoneauth.Policy) { p.SMSPerHour = 2 },
			[]string{"+14155550201", "+12025550123", "+16505551234"}, errBody("SMS limit reached, try again later"), "3600", ""},
		{"per day", func(p *phoneauth.Policy) { p.SMSPerDay = 2 },
			[]string{"+14155550201", "+12025550123", "+16505551234"}, errBody("Daily SMS limit reached, try again later"), "86400", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{policy: tt.policy})
			// A send the provider refuses counts against no budget.
			h.sender.Fail(true)
			for range 3 {
				want(t, "refused send", register(h, tt.phones[0]), http.StatusBadGateway, nil)
			}
			h.sender.Fail(false)
			var first response
			for i, phone := range tt.phones[:len(tt.phones)-1] {
				r := register(h, phone)
				want(t, fmt.Sprintf("register %d", i+1), r, 200, nil)
				if i == 0 {
					first = r
				}
			}
			r := register(h, tt.phones[len(tt.phones)-1])
			want(t, "over the budget", r, http.StatusTooManyRequests, tt.body)
			if got := r.header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if tt.other != "" {
				want(t, "a number the budget does not cover", register(h, tt.other), 200, nil)
			}
			// Codes already sent still verify while the budget is spent.
			want(t, "verify while the budget is spent", h.post("/auth/api/verify/", map[string]any{
				"code": h.sender.LastCode(tt.phones[0]), "token": first.str("token"), "phone": tt.phones[0]}), 200, nil)
		})
	}

	t.Run("the service-wide budgets, once spent by registrations, still let verified accounts log in", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.SMSPerHour = 2; p.SMSPerDay = 2 }})
		h.verified("+14155550230") // one SMS
		want(t, "register", register(h, "+12025550123"), 200, nil)
		r := register(h, "+16505551234")
		want(t, "a third registration", r, http.StatusTooManyRequests, errBody("SMS limit reached, try again later"))
		h.login("+14155550230") // counted, not refused
		if got := len(h.sender.Sent()); got != 3 {
			t.Errorf("%d SMS sent, want 3", got)
		}
		want(t, "registrations still refused", register(h, "+16505551234"), http.StatusTooManyRequests, nil)
	})

	t.Run("a country budget for every region not named", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) {
			p.SMSRegions = []string{"*"}
			p.SMSPerCountryHour = map[string]int{"*": 1, "US": 2}
		}})
		want(t, "GB", register(h, "+447400123456"), 200, nil)
		want(t, "a second GB number", register(h, "+447400123457"), http.StatusTooManyRequests, errBody("SMS limit for this country reached, try again later"))
		want(t, "FR", register(h, "+33612345678"), 200, nil)
		want(t, "US", register(h, "+14155550231"), 200, nil)
		want(t, "a second US number", register(h, "+12025550124"), 200, nil)
	})

	t.Run("per number per day, re-registrations included", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.SMSPerPhoneDay = 2 }})
		const phone = "+14155550210"
		want(t, "register", register(h, phone), 200, nil)
		h.clock.Advance(5 * time.Minute) // the code expires; the number may register again
		want(t, "register again", register(h, phone), 200, nil)
		h.clock.Advance(5 * time.Minute)
		r := register(h, phone)
		want(t, "a third time", r, http.StatusTooManyRequests, errBody("Too many codes sent to this number, try again later"))
		if got, want := r.header.Get("Retry-After"), fmt.Sprint(int((24*time.Hour-10*time.Minute)/time.Second)); got != want {
			t.Errorf("Retry-After = %q, want %q", got, want)
		}
		want(t, "another number", register(h, "+14155550211"), 200, nil)
	})

	t.Run("a budget whose counter cannot be reached fails closed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{
			policy:  func(p *phoneauth.Policy) { p.SMSPerPhoneDay = 10 },
			limiter: func(l phoneauth.Limiter) phoneauth.Limiter { return &failingBudgets{Limiter: l} },
		})
		r := register(h, "+14155550220")
		want(t, "register", r, http.StatusServiceUnavailable, errBody("Service unavailable"))
		if n := len(h.sender.Sent()); n != 0 {
			t.Errorf("%d SMS sent without a budget, want none", n)
		}
	})
}

// failingBudgets is a limiter whose SMS budget counters cannot be reached.
type failingBudgets struct{ phoneauth.Limiter }

func (l *failingBudgets) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if strings.HasPrefix(key, "sms:") {
		return 0, 0, fmt.Errorf("budget store down: %w", phoneauth.ErrUnavailable)
	}
	return l.Limiter.Hit(ctx, key, window)
}
