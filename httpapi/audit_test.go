package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
)

// auditStores are the stores the audit trail is tested on: a SQLite file
// and, when PHONEAUTH_TEST_POSTGRES_URL is set, PostgreSQL.
var auditStores = []struct {
	name string
	open func(testing.TB) phoneauth.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

// wantEvent is an event a test expects: its kind/outcome, and the masked
// number and user agent it holds.
type wantEvent struct {
	what, phone, userAgent string
}

// checkTrail fails t unless the events of userID (empty: those of no
// account) are, oldest first, those of want, each from 127.0.0.1 about
// userID, and none holds one of secrets.
func checkTrail(t *testing.T, st phoneauth.Store, userID string, want []wantEvent, secrets ...string) {
	t.Helper()
	events, err := st.Events(t.Context(), userID, "", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(events) // oldest first
	// An empty userID selects the events that name no account.
	events = slices.DeleteFunc(events, func(e phoneauth.Event) bool { return e.UserID != userID })
	var got, wantKinds []string
	for _, e := range events {
		got = append(got, string(e.Kind)+"/"+string(e.Outcome))
	}
	for _, w := range want {
		wantKinds = append(wantKinds, w.what)
	}
	if !slices.Equal(got, wantKinds) {
		t.Fatalf("events of %s: got %v, want %v", userID, got, wantKinds)
	}
	for i, e := range events {
		w := want[i]
		if e.ClientIP != "127.0.0.1" || e.UserAgent != w.userAgent || e.PhoneMasked != w.phone || e.UserID != userID {
			t.Errorf("event %d %s: got client %q %q, phone %q, user %q; want 127.0.0.1, %q, %q, %s",
				i, w.what, e.ClientIP, e.UserAgent, e.PhoneMasked, e.UserID, w.userAgent, w.phone, userID)
		}
		for _, secret := range secrets {
			for _, field := range []string{string(e.Kind), e.UserID, e.PhoneMasked, e.ClientIP, e.UserAgent, string(e.Outcome)} {
				if secret != "" && strings.Contains(field, secret) {
					t.Errorf("event %d %s holds %q", i, w.what, secret)
				}
			}
		}
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	for _, db := range auditStores {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			st := db.open(t)
			h := newHarness(t, harnessOptions{store: st})
			const phone, next = "+14155550123", "+14155550124"
			const ua = "Go-http-client/1.1"
			long := strings.Repeat("é", phoneauth.MaxUserAgent) // 400 bytes
			userID, _, refresh := h.signIn(phone)
			codes := []string{h.sender.LastCode(phone)}
			// A wrong login code: the failed check is recorded with its count.
			h.clock.Advance(10 * time.Minute)
			h.login(phone)
			code := h.sender.LastCode(phone)
			codes = append(codes, code)
			r := h.post("/auth/api/login/verify/", map[string]any{"code": wrongCode(code), "user_id": userID})
			if r.status != http.StatusBadRequest {
				t.Fatalf("login verify with a wrong code: %d %v", r.status, r.body)
			}
			r = h.auth(http.MethodPost, "/auth/api/token/refresh/", refresh)
			if r.status != http.StatusOK {
				t.Fatalf("refresh: %d %v", r.status, r.body)
			}
			access, refreshed := r.str("access_token"), r.str("refresh_token")
			// The account code requests, one with a user agent to truncate.
			r = h.do(http.MethodPost, deletePath, "", "", map[string]string{"Authorization": "Bearer " + access, "User-Agent": long})
			if r.status != http.StatusOK {
				t.Fatalf("request deletion: %d %v", r.status, r.body)
			}
			codes = append(codes, h.sender.LastCode(phone))
			if r = h.bearerPost(phonePath, access, `{"phone":"`+next+`"}`); r.status != http.StatusOK {
				t.Fatalf("request a phone change: %d %v", r.status, r.body)
			}
			codes = append(codes, h.sender.LastCode(next))
			if r = h.auth(http.MethodPost, "/auth/api/logout/", access); r.status != http.StatusOK {
				t.Fatalf("logout: %d %v", r.status, r.body)
			}

			// The token flows know the account, not its number; a phone
			// change's request is recorded with the number the code went to.
			const masked = "+1***23"
			checkTrail(t, st, userID, []wantEvent{
				{"register/ok", masked, ua},
				{"verify/ok", masked, ua},
				{"login_request/ok", masked, ua},
				{"login/ok", masked, ua},
				{"login_request/ok", masked, ua},
				{"login/failed", masked, ua},
				{"refresh/ok", "", ua},
				{"delete_request/ok", masked, long[:phoneauth.MaxUserAgent]},
				{"phone_request/ok", "+1***24", ua},
				{"logout/ok", "", ua},
			}, append(codes, refresh, refreshed, access, phone, next)...)
		})
	}
}

// userOf returns the ID of the account of phone.
func userOf(t *testing.T, st phoneauth.Store, phone string) string {
	t.Helper()
	u, err := st.UserByPhone(t.Context(), phone)
	if err != nil {
		t.Fatalf("UserByPhone(%s): %v", phone, err)
	}
	return u.ID
}

// wantStatus fails t unless r has status.
func wantStatus(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got %d %v, want %d", what, r.status, r.body, status)
	}
}

// Refusals that write nothing are recorded on their own, after the
// refusal, with the account and number they are about.
func TestAuditTrailRefusals(t *testing.T) {
	t.Parallel()
	for _, db := range auditStores {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			st := db.open(t)
			h := newHarness(t, harnessOptions{store: st, policy: func(p *phoneauth.Policy) { p.LockoutThreshold = 3 }})
			const alice, bob, dave, nobody = "+14155550130", "+14155550131", "+14155550132", "+14155550133"
			const ua = "Go-http-client/1.1"
			register := func(phone string) response {
				return h.post("/auth/api/Register/", map[string]any{"phonenumber": phone})
			}
			login := func(phone string) response { return h.post("/auth/api/login/", map[string]any{"phone": phone}) }
			var codes []string
			sent := func(phone string) { codes = append(codes, h.sender.LastCode(phone)) }

			// Bob registers, is locked guessing his code, and may neither
			// register again nor, unverified, log in.
			tok := h.register(bob)
			sent(bob)
			for range 3 {
				r := h.post("/auth/api/verify/", map[string]any{"code": wrongCode(h.sender.LastCode(bob)), "token": tok, "phone": bob})
				if r.status != http.StatusBadRequest && r.status != http.StatusTooManyRequests {
					t.Fatalf("verify with a wrong code: %d %v", r.status, r.body)
				}
			}
			wantStatus(t, "register while locked", register(bob), http.StatusTooManyRequests)
			wantStatus(t, "login unverified", login(bob), http.StatusForbidden)

			// Alice, signed in: an account exists, a code is pending, a
			// number is taken or her own, a session is revoked.
			aliceID, access, refresh := h.signIn(alice)
			sent(alice)
			wantStatus(t, "register an existing account", register(alice), http.StatusConflict)
			wantStatus(t, "login", login(alice), http.StatusOK)
			sent(alice)
			wantStatus(t, "login while a code is pending", login(alice), http.StatusTooManyRequests)
			wantStatus(t, "request deletion", h.auth(http.MethodPost, deletePath, access), http.StatusOK)
			sent(alice)
			wantStatus(t, "request deletion while a code is pending", h.auth(http.MethodPost, deletePath, access), http.StatusTooManyRequests)
			wantStatus(t, "request a taken number", h.bearerPost(phonePath, access, `{"phone":"`+bob+`"}`), http.StatusConflict)
			wantStatus(t, "request her own number", h.bearerPost(phonePath, access, `{"phone":"`+alice+`"}`), http.StatusConflict)
			wantStatus(t, "logout", h.auth(http.MethodPost, "/auth/api/logout/", access), http.StatusOK)
			for range 3 { // replayed: recorded once
				wantStatus(t, "refresh of the revoked session", h.auth(http.MethodPost, "/auth/api/token/refresh/", refresh), http.StatusUnauthorized)
			}

			// Dave, signed in, is locked guessing a login code.
			daveID, daveAccess, daveRefresh := h.signIn(dave)
			sent(dave)
			h.login(dave)
			sent(dave)
			for range 3 {
				r := h.post("/auth/api/login/verify/", map[string]any{"code": wrongCode(h.sender.LastCode(dave)), "user_id": daveID})
				if r.status != http.StatusBadRequest && r.status != http.StatusTooManyRequests {
					t.Fatalf("login verify with a wrong code: %d %v", r.status, r.body)
				}
			}
			wantStatus(t, "login while locked", login(dave), http.StatusTooManyRequests)
			wantStatus(t, "request deletion while locked", h.auth(http.MethodPost, deletePath, daveAccess), http.StatusTooManyRequests)

			// No account; tokens of an account that does not exist.
			wantStatus(t, "login of no account", login(nobody), http.StatusNotFound)
			ghost := uuid.NewString()
			ghostRefresh, ghostAccess := h.foreign(ghost, phoneauth.TokenRefresh, h.clock.Now()), h.foreign(ghost, phoneauth.TokenAccess, h.clock.Now())
			wantStatus(t, "refresh of no user", h.auth(http.MethodPost, "/auth/api/token/refresh/", ghostRefresh), http.StatusUnauthorized)
			wantStatus(t, "logout of no user", h.auth(http.MethodPost, "/auth/api/logout/", ghostAccess), http.StatusUnauthorized)

			// Dave's tokens once expired.
			h.clock.Advance(phoneauth.DefaultPolicy().RefreshTTL + time.Second)
			wantStatus(t, "refresh expired", h.auth(http.MethodPost, "/auth/api/token/refresh/", daveRefresh), http.StatusUnauthorized)
			wantStatus(t, "logout expired", h.auth(http.MethodPost, "/auth/api/logout/", daveAccess), http.StatusUnauthorized)

			secrets := append(codes, access, refresh, daveAccess, daveRefresh, ghostRefresh, ghostAccess, tok, alice, bob, dave, nobody)
			checkTrail(t, st, userOf(t, st, bob), []wantEvent{
				{"register/ok", "+1***31", ua},
				{"verify/failed", "+1***31", ua},
				{"verify/failed", "+1***31", ua},
				{"verify/lockout", "+1***31", ua},
				{"register/locked", "+1***31", ua},
				{"login_request/refused", "+1***31", ua},
			}, secrets...)
			checkTrail(t, st, aliceID, []wantEvent{
				{"register/ok", "+1***30", ua},
				{"verify/ok", "+1***30", ua},
				{"login_request/ok", "+1***30", ua},
				{"login/ok", "+1***30", ua},
				{"register/refused", "+1***30", ua},
				{"login_request/ok", "+1***30", ua},
				{"login_request/refused", "+1***30", ua},
				{"delete_request/ok", "+1***30", ua},
				{"delete_request/refused", "+1***30", ua},
				{"phone_request/refused", "+1***31", ua}, // the number asked for
				{"phone_request/refused", "+1***30", ua},
				{"logout/ok", "", ua},
				{"refresh/refused", "", ua},
			}, secrets...)
			checkTrail(t, st, daveID, []wantEvent{
				{"register/ok", "+1***32", ua},
				{"verify/ok", "+1***32", ua},
				{"login_request/ok", "+1***32", ua},
				{"login/ok", "+1***32", ua},
				{"login_request/ok", "+1***32", ua},
				{"login/failed", "+1***32", ua},
				{"login/failed", "+1***32", ua},
				{"login/lockout", "+1***32", ua},
				{"login_request/locked", "+1***32", ua},
				{"delete_request/locked", "+1***32", ua},
				{"refresh/expired", "", ua},
				{"logout/expired", "", ua},
			}, secrets...)
			checkTrail(t, st, "", []wantEvent{{"login_request/refused", "+1***33", ua}}, secrets...)
			checkTrail(t, st, ghost, []wantEvent{{"refresh/refused", "", ua}, {"logout/refused", "", ua}}, secrets...)
		})
	}
}

// An SMS budget refuses a code after it was stored with its event: the
// refusal follows it, with the account, for a registration too.
func TestAuditTrailBudgetRefusals(t *testing.T) {
	t.Parallel()
	for _, db := range auditStores {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			st := db.open(t)
			h := newHarness(t, harnessOptions{store: st, policy: func(p *phoneauth.Policy) { p.SMSPerPhoneDay = 1 }})
			const erin, frank = "+14155550140", "+14155550141"
			const ua = "Go-http-client/1.1"
			h.verified(erin)
			wantStatus(t, "login over the number's budget", h.post("/auth/api/login/", map[string]any{"phone": erin}), http.StatusTooManyRequests)
			// Frank's code expires unused; registering again is over the budget.
			h.register(frank)
			code := h.sender.LastCode(frank)
			h.clock.Advance(phoneauth.DefaultPolicy().CodeTTL)
			wantStatus(t, "register over the number's budget", h.post("/auth/api/Register/", map[string]any{"phonenumber": frank}), http.StatusTooManyRequests)

			checkTrail(t, st, userOf(t, st, erin), []wantEvent{
				{"register/ok", "+1***40", ua},
				{"verify/ok", "+1***40", ua},
				{"login_request/ok", "+1***40", ua},
				{"login_request/refused", "+1***40", ua},
			}, erin, h.sender.LastCode(erin))
			checkTrail(t, st, userOf(t, st, frank), []wantEvent{
				{"register/ok", "+1***41", ua},
				{"register/ok", "+1***41", ua},
				{"register/refused", "+1***41", ua},
			}, frank, code)
		})
	}
}

// What any client can send without limit writes no row: malformed
// requests, those refused by a per-IP limit, tokens not validly signed or
// of the wrong type.
func TestAuditTrailLeavesOut(t *testing.T) {
	t.Parallel()
	for _, db := range auditStores {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			st := db.open(t)
			h := newHarness(t, harnessOptions{store: st, policy: func(p *phoneauth.Policy) {
				p.IPRateLimit, p.IPVerifyRateLimit = 1, 1
			}})
			const gina, hank = "+14155550150", "+14155550151"
			tok := h.register(gina)
			for _, tc := range []struct {
				what   string
				r      response
				status int
			}{
				{"register over the per-IP limit", h.post("/auth/api/Register/", map[string]any{"phonenumber": hank}), http.StatusTooManyRequests},
				{"login over the per-IP limit", h.post("/auth/api/login/", map[string]any{"phone": hank}), http.StatusTooManyRequests},
				{"register an invalid number", h.post("/auth/api/Register/", map[string]any{"phonenumber": "12"}), http.StatusBadRequest},
				{"register without a number", h.post("/auth/api/Register/", map[string]any{}), http.StatusBadRequest},
				{"login with a malformed body", h.do(http.MethodPost, "/auth/api/login/", "application/json", "{", nil), http.StatusBadRequest},
				{"verify an unknown token", h.post("/auth/api/verify/", map[string]any{"code": "123456", "token": uuid.NewString(), "phone": gina}), http.StatusBadRequest},
				{"verify over the per-IP limit", h.post("/auth/api/verify/", map[string]any{"code": "123456", "token": tok, "phone": gina}), http.StatusTooManyRequests},
				{"refresh with a malformed token", h.auth(http.MethodPost, "/auth/api/token/refresh/", "not.a.token"), http.StatusUnauthorized},
				{"refresh with an access token", h.auth(http.MethodPost, "/auth/api/token/refresh/", h.foreign(uuid.NewString(), phoneauth.TokenAccess, h.clock.Now())), http.StatusUnauthorized},
				{"logout without a token", h.do(http.MethodPost, "/auth/api/logout/", "", "", nil), http.StatusUnauthorized},
			} {
				wantStatus(t, tc.what, tc.r, tc.status)
			}
			events, err := st.Events(t.Context(), "", "", time.Time{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Kind != phoneauth.EventRegister {
				t.Errorf("events: got %+v, want only the one registration", events)
			}
		})
	}
}

// failingEvents is a store whose RecordEvent fails.
type failingEvents struct{ phoneauth.Store }

func (failingEvents) RecordEvent(context.Context, phoneauth.Event) error {
	return fmt.Errorf("record event: %w", phoneauth.ErrUnavailable)
}

// A refusal whose event cannot be recorded answers as it would have, and
// says so in the log at WARN.
func TestAuditRefusalNotRecorded(t *testing.T) {
	t.Parallel()
	var log logLines
	h := newHarness(t, harnessOptions{store: failingEvents{openSQLite(t)}, log: &log})
	want(t, "login of no account", h.post("/auth/api/login/", map[string]any{"phone": "+14155550160"}), http.StatusNotFound, errBody("User does not exist"))
	rec := log.await(t, func(rec map[string]any) bool { return rec["msg"] == "audit event of a refused request not recorded" })
	if rec["level"] != "WARN" || rec["kind"] != "login_request" || rec["outcome"] != "refused" || rec["phone"] != "+1***60" {
		t.Errorf("log record: got %v, want WARN of login_request, refused, +1***60", rec)
	}
}

// countingEvents is a store that counts the calls of RecordEvent.
type countingEvents struct {
	phoneauth.Store
	n atomic.Int64
}

func (c *countingEvents) RecordEvent(ctx context.Context, e phoneauth.Event) error {
	c.n.Add(1)
	return c.Store.RecordEvent(ctx, e)
}

// The successes record their events in the calls that do the work: none
// costs a write of its own.
func TestAuditSuccessesWriteNoEventOfTheirOwn(t *testing.T) {
	t.Parallel()
	st := &countingEvents{Store: openSQLite(t)}
	h := newHarness(t, harnessOptions{store: st})
	const phone = "+14155550170"
	_, _, refresh := h.signIn(phone)
	access, _ := h.refresh(refresh)
	wantStatus(t, "request deletion", h.auth(http.MethodPost, deletePath, access), http.StatusOK)
	wantStatus(t, "logout", h.auth(http.MethodPost, "/auth/api/logout/", access), http.StatusOK)
	if n := st.n.Load(); n != 0 {
		t.Errorf("RecordEvent calls: got %d, want 0", n)
	}
	events, err := st.Events(t.Context(), "", "", time.Time{}, 100)
	if err != nil || len(events) != 7 {
		t.Errorf("events: got %d, %v; want the 7 of the flows", len(events), err)
	}
}
