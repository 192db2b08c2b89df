package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

const (
	deletePath       = "/auth/api/me/delete/"
	deleteVerifyPath = "/auth/api/me/delete/verify/"
)

// deleteVerify answers a deletion code with the bearer token tok.
func (h *harness) deleteVerify(tok, code string) response {
	h.t.Helper()
	return h.do(http.MethodPost, deleteVerifyPath, "application/json", `{"code":"`+code+`"}`,
		map[string]string{"Authorization": "Bearer " + tok})
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	const phone = "+14155550400"
	h := newHarness(t, harnessOptions{})
	_, access, refresh := h.signIn(phone)
	_, otherAccess, _ := h.signIn("+14155550401")
	// A second device of the same account.
	id := h.login(phone)
	r := h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(phone), "user_id": id})
	secondRefresh := r.str("refresh_token")

	r = h.auth(http.MethodPost, deletePath, access)
	want(t, "request deletion", r, 200, map[string]any{"expire_time": "300", "message": "Code Send to user"})
	code := h.sender.LastCode(phone)
	if sent := h.sender.Sent(); sent[len(sent)-1].Purpose != phoneauth.PurposeDelete {
		t.Errorf("SMS purpose = %q, want %q", sent[len(sent)-1].Purpose, phoneauth.PurposeDelete)
	}
	want(t, "wrong code", h.deleteVerify(access, wrongCode(code)), 400, errBody("Invalid code"))
	want(t, "another account's token", h.deleteVerify(otherAccess, code), 400, errBody("Request a code first"))
	want(t, "the refresh token", h.deleteVerify(refresh, code), 401, errBody("Only access tokens are allowed"))
	want(t, "right code", h.deleteVerify(access, code), 200, map[string]any{"message": "Account deleted"})

	want(t, "login", h.post("/auth/api/login/", map[string]any{"phone": phone}), 404, errBody("User does not exist"))
	want(t, "me", h.auth(http.MethodGet, "/auth/api/me/", access), 401, errBody("Token subject is not a known user"))
	want(t, "refresh", h.auth(http.MethodPost, "/auth/api/token/refresh/", refresh), 401, errBody("Token has been revoked"))
	want(t, "refresh on the second device", h.auth(http.MethodPost, "/auth/api/token/refresh/", secondRefresh), 401, errBody("Token has been revoked"))
	want(t, "logout", h.auth(http.MethodPost, "/auth/api/logout/", access), 401, errBody("Token subject is not a known user"))
	want(t, "request deletion again", h.auth(http.MethodPost, deletePath, access), 401, errBody("Token subject is not a known user"))
	want(t, "verify again", h.deleteVerify(access, code), 401, errBody("Token subject is not a known user"))
	want(t, "the other account's me", h.auth(http.MethodGet, "/auth/api/me/", otherAccess), 200, nil)

	r = h.post("/auth/api/Register/", map[string]any{"phonenumber": phone})
	want(t, "register again", r, 200, nil)
}

func TestDeletionCodeIsThrottledLikeALoginCode(t *testing.T) {
	t.Parallel()
	const phone = "+14155550400"
	h := newHarness(t, harnessOptions{})
	_, access, _ := h.signIn(phone)
	want(t, "request deletion", h.auth(http.MethodPost, deletePath, access), 200, nil)
	first := h.sender.LastCode(phone)
	h.clock.Advance(time.Minute)
	r := h.auth(http.MethodPost, deletePath, access)
	want(t, "request again within the throttle", r, 429, errBody("A code was sent recently, try again later"))
	if got := r.header.Get("Retry-After"); got != "240" {
		t.Errorf("Retry-After = %q, want 240 (until the throttle ends)", got)
	}
	if got := h.sender.LastCode(phone); got != first {
		t.Errorf("a second code was sent: %q", got)
	}
	// A login code neither replaces nor is throttled by the deletion code.
	h.login(phone)
	h.clock.Advance(4 * time.Minute)
	want(t, "request once the throttle ended", h.auth(http.MethodPost, deletePath, access), 200, nil)
	want(t, "the first code, replaced", h.deleteVerify(access, first), 400, errBody("Invalid code"))
}

func TestDeletionCodeGuessesLockTheAccount(t *testing.T) {
	t.Parallel()
	const phone = "+14155550400"
	h := newHarness(t, harnessOptions{policy: func(p *phoneauth.Policy) { p.LockoutThreshold = 2 }})
	_, access, _ := h.signIn(phone)
	want(t, "request deletion", h.auth(http.MethodPost, deletePath, access), 200, nil)
	code := h.sender.LastCode(phone)
	want(t, "wrong code", h.deleteVerify(access, wrongCode(code)), 400, errBody("Invalid code"))
	locked := errBody("Account temporarily locked, try again later")
	want(t, "wrong code that locks", h.deleteVerify(access, wrongCode(code)), 429, locked)
	want(t, "right code while locked", h.deleteVerify(access, code), 429, locked)
	want(t, "login while locked", h.post("/auth/api/login/", map[string]any{"phone": phone}), 429, locked)
	want(t, "me while locked", h.auth(http.MethodGet, "/auth/api/me/", access), 200, nil)
	h.clock.Advance(phoneauth.DefaultPolicy().LoginThrottle + time.Second)
	sent := len(h.sender.Sent())
	r := h.auth(http.MethodPost, deletePath, access)
	want(t, "request deletion while locked", r, 429, locked)
	// Locked for the default 15 minutes, 5m01s ago.
	if got := r.header.Get("Retry-After"); got != "599" {
		t.Errorf("Retry-After = %q, want 599 (until the lockout ends)", got)
	}
	if len(h.sender.Sent()) != sent {
		t.Error("a locked account was sent a deletion code")
	}
}

const (
	phonePath       = "/auth/api/me/phone/"
	phoneVerifyPath = "/auth/api/me/phone/verify/"
)

// bearerPost posts body as JSON with the bearer token tok.
func (h *harness) bearerPost(path, tok, body string) response {
	h.t.Helper()
	return h.do(http.MethodPost, path, "application/json", body, map[string]string{"Authorization": "Bearer " + tok})
}

func TestChangePhone(t *testing.T) {
	t.Parallel()
	const old, next = "+14155550400", "+14155550402"
	h := newHarness(t, harnessOptions{})
	_, access, refresh := h.signIn(old)
	id := h.login(old)
	r := h.post("/auth/api/login/verify/", map[string]any{"code": h.sender.LastCode(old), "user_id": id})
	otherRefresh := r.str("refresh_token")
	h.verified("+14155550401")

	exists := errBody("Account already Exists")
	want(t, "own number", h.bearerPost(phonePath, access, `{"phone":"`+old+`"}`), 409, exists)
	want(t, "another account's number", h.bearerPost(phonePath, access, `{"phone":"+14155550401"}`), 409, exists)
	// National form, read in the service's region.
	r = h.bearerPost(phonePath, access, `{"phone":"(415) 555-0402"}`)
	want(t, "request", r, 200, map[string]any{"expire_time": "300", "message": "Code Send to user"})
	code := h.sender.LastCode(next)
	if sent := h.sender.Sent(); sent[len(sent)-1].Purpose != phoneauth.PurposePhone {
		t.Errorf("SMS purpose = %q, want %q", sent[len(sent)-1].Purpose, phoneauth.PurposePhone)
	}
	want(t, "request again within the throttle", h.bearerPost(phonePath, access, `{"phone":"`+next+`"}`), 429,
		errBody("A code was sent recently, try again later"))
	want(t, "wrong code", h.bearerPost(phoneVerifyPath, access, `{"code":"`+wrongCode(code)+`"}`), 400, errBody("Invalid code"))
	want(t, "right code", h.bearerPost(phoneVerifyPath, access, `{"code":"`+code+`"}`), 200,
		map[string]any{"message": "Phone number changed", "phone": next})

	want(t, "login with the old number", h.post("/auth/api/login/", map[string]any{"phone": old}), 404, errBody("User does not exist"))
	r = h.auth(http.MethodGet, "/auth/api/me/", access)
	want(t, "me", r, 200, nil)
	if got := r.str("phone"); got != next {
		t.Errorf("me: phone = %q, want %q", got, next)
	}
	want(t, "refresh in another session", h.auth(http.MethodPost, "/auth/api/token/refresh/", otherRefresh), 401, errBody("Token has been revoked"))
	want(t, "refresh in this session", h.auth(http.MethodPost, "/auth/api/token/refresh/", refresh), 200, nil)
	want(t, "the spent code", h.bearerPost(phoneVerifyPath, access, `{"code":"`+code+`"}`), 400, errBody("Request a code first"))
	h.login(next)
	h.register(old)
}

func TestChangePhoneToANumberTakenMeanwhile(t *testing.T) {
	t.Parallel()
	const old, next = "+14155550400", "+14155550402"
	h := newHarness(t, harnessOptions{})
	_, access, _ := h.signIn(old)
	want(t, "request", h.bearerPost(phonePath, access, `{"phone":"`+next+`"}`), 200, nil)
	code := h.sender.LastCode(next)
	h.register(next)
	want(t, "verify", h.bearerPost(phoneVerifyPath, access, `{"code":"`+code+`"}`), 409, errBody("Account already Exists"))
	r := h.auth(http.MethodGet, "/auth/api/me/", access)
	if got := r.str("phone"); got != old {
		t.Errorf("me: phone = %q, want %q", got, old)
	}
}
