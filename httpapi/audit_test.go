package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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

// checkTrail fails t unless the events of userID are, oldest first, those
// of want, each from 127.0.0.1 about userID, and none holds one of
// secrets.
func checkTrail(t *testing.T, st phoneauth.Store, userID string, want []wantEvent, secrets ...string) {
	t.Helper()
	events, err := st.Events(t.Context(), userID, "", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(events) // oldest first
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
