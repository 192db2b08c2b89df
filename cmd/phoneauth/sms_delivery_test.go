package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// hookMessage is what the webhook provider POSTs.
type hookMessage struct {
	To      string `json:"to"`
	Message string `json:"message"`
	Code    string `json:"code"`
	Purpose string `json:"purpose"`
}

// scriptedHook is an SMS webhook gateway that answers its requests with
// the statuses it is given in turn (200 once they run out; 0 hangs until
// the client gives up) and records every message.
type scriptedHook struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []hookMessage
}

func newScriptedHook(t *testing.T, statuses ...int) *scriptedHook {
	h := &scriptedHook{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m hookMessage
		_ = json.NewDecoder(r.Body).Decode(&m)
		h.mu.Lock()
		h.got = append(h.got, m)
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.mu.Unlock()
		if status == 0 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *scriptedHook) messages() []hookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookMessage(nil), h.got...)
}

func startWithHook(t *testing.T, h *scriptedHook, env map[string]string) *instance {
	t.Helper()
	env["PHONEAUTH_DATABASE_URL"] = "sqlite:" + filepath.Join(t.TempDir(), "auth.db")
	env["PHONEAUTH_SMS_PROVIDER"] = "webhook"
	env["PHONEAUTH_SMS_WEBHOOK_URL"] = h.URL
	return start(t, env)
}

// TestSMSDeliveryThroughTheAPI drives register through the webhook
// provider as the gateway fails in each way the delivery rules name.
func TestSMSDeliveryThroughTheAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		statuses   []int // the gateway's answers, in turn
		wantStatus int
		wantError  string
		wantTries  int
	}{
		{"a 5xx is retried", nil, []int{503}, 200, "", 2},
		{"a 429 is retried", nil, []int{429, 429}, 200, "", 3},
		{"a timeout is retried", nil, []int{0}, 200, "", 2}, // the try is cut after 10s/3
		{"retries run out", nil, []int{500, 500, 500}, 502, "Could not send SMS, try again", 3},
		{"no retries configured", map[string]string{"PHONEAUTH_SMS_RETRIES": "0"}, []int{500}, 502, "Could not send SMS, try again", 1},
		{"a 4xx is not retried", nil, []int{400}, 502, "Could not send SMS, try again", 1},
		{"an undeliverable number is 400", nil, []int{422}, 400, "This number cannot receive SMS", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newScriptedHook(t, tt.statuses...)
			env := map[string]string{"PHONEAUTH_SMS_PER_PHONE_DAY": "1"}
			for k, v := range tt.env {
				env[k] = v
			}
			in := startWithHook(t, h, env)
			const phone = "+14155550330"
			status, out := in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})
			if status != tt.wantStatus || (tt.wantError != "" && out["error"] != tt.wantError) {
				t.Fatalf("register = %d %v, want %d %q", status, out, tt.wantStatus, tt.wantError)
			}
			got := h.messages()
			if len(got) != tt.wantTries {
				t.Fatalf("the gateway was called %d times, want %d", len(got), tt.wantTries)
			}
			// Every try carried the same code and text.
			for _, m := range got[1:] {
				if m != got[0] {
					t.Errorf("a retry carried %+v, the first try %+v", m, got[0])
				}
			}
			if status == 200 {
				in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": got[0].Code, "token": out["token"], "phone": phone})
				return
			}
			// A failure left nothing behind: neither the account nor the
			// SMS budget of one a day for this number.
			status, out = in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})
			if status != 200 {
				t.Fatalf("register again after a failed send = %d %v", status, out)
			}
			got = h.messages()
			in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": got[len(got)-1].Code, "token": out["token"], "phone": phone})
		})
	}
}

// TestSMSTextsThroughTheAPI checks the templates and both autofill
// formats in the messages the provider is given.
func TestSMSTextsThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newScriptedHook(t)
	in := startWithHook(t, h, map[string]string{
		"PHONEAUTH_SMS_TEMPLATE_REGISTER": "Welcome to {{.AppName}}! Your code: {{.Code}}",
		"PHONEAUTH_SMS_TEMPLATE_LOGIN":    "{{.AppName}} sign-in code {{.Code}}, valid {{.Minutes}} minutes",
		"PHONEAUTH_SMS_APP_NAME":          "Acme",
		"PHONEAUTH_SMS_ORIGIN":            "auth.acme.example",
		"PHONEAUTH_SMS_ANDROID_HASH":      "FA+9qCX9VSu",
	})
	const phone = "+14155550331"
	tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})["token"]
	reg := h.messages()[0]
	want := "Welcome to Acme! Your code: " + reg.Code + "\n\nFA+9qCX9VSu\n@auth.acme.example #" + reg.Code
	if reg.Message != want {
		t.Errorf("register message = %q, want %q", reg.Message, want)
	}
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": reg.Code, "token": tok, "phone": phone})
	userID := in.mustCall("POST", "/auth/api/login/", "", map[string]any{"phone": phone})["user_id"]
	login := h.messages()[1]
	want = "Acme sign-in code " + login.Code + ", valid 5 minutes\n\nFA+9qCX9VSu\n@auth.acme.example #" + login.Code
	if login.Message != want {
		t.Errorf("login message = %q, want %q", login.Message, want)
	}
	in.mustCall("POST", "/auth/api/login/verify/", "", map[string]any{"code": login.Code, "user_id": userID})
}

func TestLongSMSTextWarnsAtStart(t *testing.T) {
	t.Parallel()
	h := newScriptedHook(t)
	in := startWithHook(t, h, map[string]string{
		"PHONEAUTH_SMS_TEMPLATE_LOGIN": "{{.Code}} " + strings.Repeat("Долгий текст. ", 10),
	})
	line := in.logs.wait(t, func(m map[string]any) bool { return m["segments"] != nil })
	if line["level"] != "WARN" || line["purpose"] != "login" || line["segments"] != float64(3) {
		t.Errorf("segment warning = %v, want WARN for login, 3 segments", line)
	}
	if in.logs.count(func(m map[string]any) bool { return m["segments"] != nil && m["purpose"] == "register" }) != 0 {
		t.Error("the default register text was warned about")
	}
}

// TestSMSFailoverThroughTheAPI names two providers: the first fails
// (after its retries, or at once for a refusal that is not retried), and
// the second delivers the code; an undeliverable number is not handed to
// the second.
func TestSMSFailoverThroughTheAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int // Twilio's answer, every time
		body         string
		wantTwilio   int // requests Twilio gets
		wantHook     int // requests the webhook gets
		wantStatus   int
		wantProvider string // the provider logged as having sent it
	}{
		{"a 5xx, retried, then the next provider", 503, `{"code": 20500, "message": "Internal Server Error", "status": 503}`, 2, 1, 200, "webhook"},
		{"bad credentials, then the next provider at once", 401, `{"code": 20003, "message": "Authenticate", "status": 401}`, 1, 1, 200, "webhook"},
		{"an invalid number stays with the first", 400, `{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}`, 1, 0, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, twilio := twilioFake(t, tt.status, tt.body)
			h := newScriptedHook(t)
			env := twilioEnv(t, fake.URL)
			env["PHONEAUTH_SMS_PROVIDER"] = "twilio,webhook"
			env["PHONEAUTH_SMS_RETRIES"] = "1"
			env["PHONEAUTH_SMS_WEBHOOK_URL"] = h.URL
			in := start(t, env)
			const phone = "+14155550332"
			mark := in.logs.mark()
			status, out := in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})
			if status != tt.wantStatus {
				t.Fatalf("register = %d %v, want %d", status, out, tt.wantStatus)
			}
			if n := len(twilio); n != tt.wantTwilio {
				t.Errorf("Twilio got %d requests, want %d", n, tt.wantTwilio)
			}
			got := h.messages()
			if len(got) != tt.wantHook {
				t.Fatalf("the webhook got %d requests, want %d", len(got), tt.wantHook)
			}
			if tt.wantProvider == "" {
				return
			}
			line := in.logs.waitAfter(t, mark, func(m map[string]any) bool { return m["msg"] == "sms sent" })
			if line["provider"] != tt.wantProvider || line["to"] == phone {
				t.Errorf("sms sent line = %v, want provider %s and a masked number", line, tt.wantProvider)
			}
			in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": got[0].Code, "token": out["token"], "phone": phone})
		})
	}
}

// TestSMSThatMayHaveGoneStaysCounted: a send cut off while the gateway
// held the request may have delivered the SMS, so its budget stays spent,
// though the code is taken back.
func TestSMSThatMayHaveGoneStaysCounted(t *testing.T) {
	t.Parallel()
	h := newScriptedHook(t, 0) // holds the first request until it is cut
	in := startWithHook(t, h, map[string]string{
		"PHONEAUTH_SMS_PER_PHONE_DAY": "1",
		"PHONEAUTH_SMS_TIMEOUT":       "1s",
	})
	const phone = "+14155550333"
	status, out := in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})
	if status != 502 {
		t.Fatalf("register = %d %v, want 502", status, out)
	}
	status, out = in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})
	if status != 429 {
		t.Fatalf("register again = %d %v, want 429: the SMS that may have gone counts against the number's budget", status, out)
	}
	if n := len(h.messages()); n != 1 {
		t.Errorf("the gateway got %d requests, want 1", n)
	}
}
