package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/sms"
)

// sentSMS is a message a provider's fake was asked to send.
type sentSMS struct{ to, text string }

// registerThroughProvider registers phone on in, reads the code from the
// message the provider's fake passes on got (sent to wantTo, the number
// as the provider writes it), and verifies the registration with it.
func registerThroughProvider(t *testing.T, in *instance, phone, wantTo string, got <-chan sentSMS) {
	t.Helper()
	token := in.mustCall("POST", "/auth/api/register/", "", map[string]any{"phonenumber": phone})["token"].(string)
	var m sentSMS
	select {
	case m = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the provider was never asked to send")
	}
	code := codeRE.FindStringSubmatch(m.text)
	if m.to != wantTo || code == nil {
		t.Fatalf("provider got %+v, want a code sent to %s", m, wantTo)
	}
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": code[1], "token": token, "phone": phone})
}

// checkNamed fails t unless err names exactly the variables of want, one
// per line, and repeats none of private.
func checkNamed(t *testing.T, err error, want []string, private ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("loadConfig succeeded, want an error naming %q", want)
	}
	var named []string
	for line := range strings.Lines(err.Error()) {
		name, _, _ := strings.Cut(line, " ")
		named = append(named, name)
	}
	slices.Sort(named)
	if want = slices.Sorted(slices.Values(want)); !slices.Equal(named, want) {
		t.Errorf("loadConfig error names %q, want %q; error:\n%v", named, want, err)
	}
	for _, p := range private {
		if strings.Contains(err.Error(), p) {
			t.Errorf("loadConfig error repeats %q:\n%v", p, err)
		}
	}
}

func TestLoadConfigReadsTelnyx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  sms.TelnyxConfig
	}{
		{
			"every variable",
			nil,
			map[string]string{
				"PHONEAUTH_TELNYX_API_KEY":              "KEY0123",
				"PHONEAUTH_TELNYX_FROM":                 "Acme",
				"PHONEAUTH_TELNYX_MESSAGING_PROFILE_ID": "4001767e-ce0f-4cae-9d5f-0d5e636e7809",
				"PHONEAUTH_TELNYX_BASE_URL":             "http://127.0.0.1:9000",
			},
			sms.TelnyxConfig{APIKey: "KEY0123", From: "Acme", MessagingProfileID: "4001767e-ce0f-4cae-9d5f-0d5e636e7809", BaseURL: "http://127.0.0.1:9000"},
		},
		{
			"a number, Telnyx's own base URL",
			nil,
			map[string]string{"PHONEAUTH_TELNYX_API_KEY": "KEY0123", "PHONEAUTH_TELNYX_FROM": "+18445550001"},
			sms.TelnyxConfig{APIKey: "KEY0123", From: "+18445550001", BaseURL: sms.DefaultTelnyxBaseURL},
		},
		{
			"the API key from a file",
			map[string]string{"key": "KEY0123\n"},
			map[string]string{"PHONEAUTH_TELNYX_API_KEY_FILE": "DIR/key", "PHONEAUTH_TELNYX_MESSAGING_PROFILE_ID": "p"},
			sms.TelnyxConfig{APIKey: "KEY0123", MessagingProfileID: "p", BaseURL: sms.DefaultTelnyxBaseURL},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := merged(secretFiles(t, tt.files, tt.vars), map[string]string{"PHONEAUTH_SMS_PROVIDER": "telnyx"})
			c, err := loadConfig(env(vars))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if c.SMS.Telnyx != tt.want {
				t.Errorf("Telnyx config = %+v, want %+v", c.SMS.Telnyx, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadTelnyxVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    map[string]string
		want    []string // the variables named, one per line of the error
		mention string   // also in the error
	}{
		{"nothing set", map[string]string{}, []string{"PHONEAUTH_TELNYX_API_KEY", "PHONEAUTH_TELNYX_FROM"}, "PHONEAUTH_SMS_PROVIDER names telnyx"},
		{"no API key", map[string]string{"PHONEAUTH_TELNYX_FROM": "+18445550001"}, []string{"PHONEAUTH_TELNYX_API_KEY"}, "is required"},
		{"neither sender nor profile", map[string]string{"PHONEAUTH_TELNYX_API_KEY": "hunter2"}, []string{"PHONEAUTH_TELNYX_FROM"}, "unless PHONEAUTH_TELNYX_MESSAGING_PROFILE_ID is set"},
		{"base URL in clear to a remote host", map[string]string{"PHONEAUTH_TELNYX_API_KEY": "hunter2", "PHONEAUTH_TELNYX_FROM": "+1", "PHONEAUTH_TELNYX_BASE_URL": "http://api.telnyx.com"}, []string{"PHONEAUTH_TELNYX_BASE_URL"}, "https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(merged(tt.vars, map[string]string{"PHONEAUTH_SMS_PROVIDER": "telnyx"})))
			checkNamed(t, err, tt.want, "hunter2")
			if err != nil && !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("loadConfig error does not mention %q:\n%v", tt.mention, err)
			}
		})
	}
}

func TestTelnyxProviderDeliversTheCode(t *testing.T) {
	t.Parallel()
	got := make(chan sentSMS, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ To, Text string }
		if r.URL.Path != "/v2/messages" || r.Header.Get("Authorization") != "Bearer KEY-e2e" || json.NewDecoder(r.Body).Decode(&m) != nil {
			http.Error(w, `{"errors":[{"code":"10015","title":"Bad Request"}]}`, http.StatusBadRequest)
			return
		}
		got <- sentSMS{m.To, m.Text}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"record_type":"message","id":"40385f64-5717-4562-b3fc-2c963f66afa6","to":[{"phone_number":"` + m.To + `","status":"queued"}]}}`))
	}))
	t.Cleanup(api.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_JWT_SECRET":      strings.Repeat("s", 32),
		"PHONEAUTH_SMS_PROVIDER":    "telnyx",
		"PHONEAUTH_TELNYX_API_KEY":  "KEY-e2e",
		"PHONEAUTH_TELNYX_FROM":     "+18445550001",
		"PHONEAUTH_TELNYX_BASE_URL": api.URL,
	})
	registerThroughProvider(t, in, "+14155550311", "+14155550311", got)
}

func TestTelnyxRefusalsReachTheAPIAndTheLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		code       string
		wantStatus int
		wantError  string
		wantLog    string // in an error line of the log; "" for none
	}{
		{"invalid number: the number cannot receive SMS", 400, "40310", 400, "This number cannot receive SMS", ""},
		{"API key refused: a failed send, logged", 401, "10009", 502, "Could not send SMS, try again", "answered 401 code 10009: Telnyx refused the API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"errors":[{"code":"` + tt.code + `","title":"Refused","detail":"Refused for +14155550312."}]}`))
			}))
			t.Cleanup(api.Close)
			in := start(t, map[string]string{
				"PHONEAUTH_DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
				"PHONEAUTH_JWT_SECRET":      strings.Repeat("s", 32),
				"PHONEAUTH_SMS_PROVIDER":    "telnyx",
				"PHONEAUTH_TELNYX_API_KEY":  "KEY-e2e-hunter2",
				"PHONEAUTH_TELNYX_FROM":     "+18445550001",
				"PHONEAUTH_TELNYX_BASE_URL": api.URL,
			})
			status, body := in.call("POST", "/auth/api/register/", "", map[string]any{"phonenumber": "+14155550312"})
			if status != tt.wantStatus || body["error"] != tt.wantError {
				t.Errorf("register = %d %v, want %d %s", status, body, tt.wantStatus, tt.wantError)
			}
			if tt.wantLog != "" {
				in.logs.wait(t, func(m map[string]any) bool {
					err, _ := m["err"].(string)
					return m["level"] == "ERROR" && strings.Contains(err, tt.wantLog)
				})
			}
			if n := in.logs.count(func(m map[string]any) bool {
				b, _ := json.Marshal(m)
				return strings.Contains(string(b), "hunter2")
			}); n != 0 {
				t.Errorf("%d log lines carry the API key", n)
			}
		})
	}
}
