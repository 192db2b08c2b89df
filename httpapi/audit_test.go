package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	h := newHarness(t, harnessOptions{store: st})
	phone := "+14155550123"
	userID, _, refresh := h.signIn(phone)
	// A wrong login code: the failed check is recorded with its count.
	h.clock.Advance(10 * time.Minute)
	h.login(phone)
	code := h.sender.LastCode(phone)
	r := h.post("/auth/api/login/verify/", map[string]any{"code": wrongCode(code), "user_id": userID})
	if r.status != http.StatusBadRequest {
		t.Fatalf("login verify with a wrong code: %d %v", r.status, r.body)
	}
	r = h.auth(http.MethodPost, "/auth/api/token/refresh/", refresh)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %v", r.status, r.body)
	}
	access := r.str("access_token")
	if r = h.auth(http.MethodPost, "/auth/api/logout/", access); r.status != http.StatusOK {
		t.Fatalf("logout: %d %v", r.status, r.body)
	}

	events, err := st.Events(t.Context(), userID, "", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(events) // oldest first
	var got []string
	for _, e := range events {
		got = append(got, string(e.Kind)+"/"+string(e.Outcome))
		// The token flows know the account, not its number.
		wantPhone := "+1***23"
		if e.Kind == "refresh" || e.Kind == "logout" {
			wantPhone = ""
		}
		if e.ClientIP != "127.0.0.1" || e.UserAgent != "Go-http-client/1.1" || e.PhoneMasked != wantPhone || e.UserID != userID {
			t.Errorf("event %s: got client %q %q, phone %q, user %q; want 127.0.0.1, Go-http-client/1.1, %q, %s",
				e.Kind, e.ClientIP, e.UserAgent, e.PhoneMasked, e.UserID, wantPhone, userID)
		}
		for _, secret := range []string{code, refresh, access, phone} {
			for _, field := range []string{e.UserID, e.PhoneMasked, e.ClientIP, e.UserAgent, string(e.Outcome)} {
				if strings.Contains(field, secret) {
					t.Errorf("event %s holds %q", e.Kind, secret)
				}
			}
		}
	}
	want := "register/ok verify/ok login_request/ok login/ok login_request/ok login/failed refresh/ok logout/ok"
	if strings.Join(got, " ") != want {
		t.Errorf("events: got %v, want %s", got, want)
	}
}
