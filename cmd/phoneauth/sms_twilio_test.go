package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/sms"
)

const (
	testTwilioAccount = "AC0123456789abcdef0123456789abcdef"
	testTwilioKey     = "SKfedcba9876543210fedcba9876543210"
	testTwilioService = "MG00112233445566778899aabbccddeeff"
)

// checkNamedVariables fails t unless err names exactly the variables
// want, one per line, and contains nothing of private (if set).
func checkNamedVariables(t *testing.T, err error, want []string, private string) {
	t.Helper()
	if err == nil {
		t.Fatal("loadConfig succeeded, want an error")
	}
	var named []string
	for line := range strings.Lines(err.Error()) {
		name, _, _ := strings.Cut(line, " ")
		named = append(named, name)
	}
	if !slices.Equal(slices.Sorted(slices.Values(named)), slices.Sorted(slices.Values(want))) {
		t.Errorf("loadConfig error names %q, want %q; error:\n%v", named, want, err)
	}
	if private != "" && strings.Contains(err.Error(), private) {
		t.Errorf("loadConfig error repeats %q:\n%v", private, err)
	}
}

func TestLoadConfigReadsTwilio(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  sms.TwilioConfig
	}{
		{
			"auth token and a From number, the default base URL",
			nil,
			map[string]string{
				"PHONEAUTH_TWILIO_ACCOUNT_SID": testTwilioAccount,
				"PHONEAUTH_TWILIO_AUTH_TOKEN":  "hunter2-token",
				"PHONEAUTH_TWILIO_FROM":        "+15017122661",
			},
			sms.TwilioConfig{AccountSID: testTwilioAccount, AuthToken: "hunter2-token", From: "+15017122661"},
		},
		{
			"an API key and a Messaging Service, through a relay on loopback",
			nil,
			map[string]string{
				"PHONEAUTH_TWILIO_ACCOUNT_SID":           testTwilioAccount,
				"PHONEAUTH_TWILIO_API_KEY_SID":           testTwilioKey,
				"PHONEAUTH_TWILIO_AUTH_TOKEN":            "key-secret",
				"PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID": testTwilioService,
				"PHONEAUTH_TWILIO_BASE_URL":              "http://127.0.0.1:8081/twilio",
			},
			sms.TwilioConfig{AccountSID: testTwilioAccount, APIKeySID: testTwilioKey, AuthToken: "key-secret", MessagingServiceSID: testTwilioService, BaseURL: "http://127.0.0.1:8081/twilio"},
		},
		{
			"the SID and token from files",
			map[string]string{"sid": testTwilioAccount + "\n", "token": "hunter2-token\n"},
			map[string]string{
				"PHONEAUTH_TWILIO_ACCOUNT_SID_FILE": "DIR/sid",
				"PHONEAUTH_TWILIO_AUTH_TOKEN_FILE":  "DIR/token",
				"PHONEAUTH_TWILIO_FROM":             "Acme",
			},
			sms.TwilioConfig{AccountSID: testTwilioAccount, AuthToken: "hunter2-token", From: "Acme"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := secretFiles(t, tt.files, tt.vars)
			vars["PHONEAUTH_SMS_PROVIDER"] = "twilio"
			c, err := loadConfig(env(vars))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if !slices.Equal(c.SMS.Providers, []string{"twilio"}) || c.SMS.Twilio != tt.want {
				t.Errorf("SMS config = %v %+v, want [twilio] %+v", c.SMS.Providers, c.SMS.Twilio, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadTwilioVariable(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"PHONEAUTH_SMS_PROVIDER":       "twilio",
		"PHONEAUTH_TWILIO_ACCOUNT_SID": testTwilioAccount,
		"PHONEAUTH_TWILIO_AUTH_TOKEN":  "hunter2-token",
		"PHONEAUTH_TWILIO_FROM":        "+15017122661",
	}
	tests := []struct {
		name    string
		vars    map[string]string
		want    []string
		private string
	}{
		{"nothing set", map[string]string{"PHONEAUTH_SMS_PROVIDER": "twilio"}, []string{"PHONEAUTH_TWILIO_ACCOUNT_SID", "PHONEAUTH_TWILIO_AUTH_TOKEN", "PHONEAUTH_TWILIO_FROM"}, ""},
		{"no account SID", merged(good, map[string]string{"PHONEAUTH_TWILIO_ACCOUNT_SID": ""}), []string{"PHONEAUTH_TWILIO_ACCOUNT_SID"}, "hunter2"},
		{"no auth token", merged(good, map[string]string{"PHONEAUTH_TWILIO_AUTH_TOKEN": ""}), []string{"PHONEAUTH_TWILIO_AUTH_TOKEN"}, ""},
		{"no sender", merged(good, map[string]string{"PHONEAUTH_TWILIO_FROM": ""}), []string{"PHONEAUTH_TWILIO_FROM"}, "hunter2"},
		{"two senders", merged(good, map[string]string{"PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID": testTwilioService}), []string{"PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID"}, "hunter2"},
		{"an account SID that is not one, not echoed", merged(good, map[string]string{"PHONEAUTH_TWILIO_ACCOUNT_SID": "hunter3"}), []string{"PHONEAUTH_TWILIO_ACCOUNT_SID"}, "hunter"},
		{"an API key SID that is not one, not echoed", merged(good, map[string]string{"PHONEAUTH_TWILIO_API_KEY_SID": "hunter3"}), []string{"PHONEAUTH_TWILIO_API_KEY_SID"}, "hunter"},
		{"an http base URL to another host, not echoed", merged(good, map[string]string{"PHONEAUTH_TWILIO_BASE_URL": "http://api.twilio.com/hunter3"}), []string{"PHONEAUTH_TWILIO_BASE_URL"}, "hunter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(tt.vars))
			checkNamedVariables(t, err, tt.want, tt.private)
		})
	}
	t.Run("the sender's error names both variables", func(t *testing.T) {
		t.Parallel()
		_, err := loadConfig(env(merged(good, map[string]string{"PHONEAUTH_TWILIO_FROM": ""})))
		if err == nil || !strings.Contains(err.Error(), "PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID") || !strings.Contains(err.Error(), "twilio") {
			t.Errorf("loadConfig error = %v, want one naming PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID as the alternative", err)
		}
	})
}

// twilioFake is a Twilio Messages resource on loopback that answers
// status and body, and passes on the form of each request it gets.
func twilioFake(t *testing.T, status int, body string) (*httptest.Server, <-chan url.Values) {
	t.Helper()
	got := make(chan url.Values, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, _ := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+testTwilioAccount+"/Messages.json" ||
			user != testTwilioAccount || password != "e2e-token" {
			t.Errorf("Twilio got %s %s as %q", r.Method, r.URL.Path, user)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("Twilio got a body that is not a form: %v", err)
		}
		got <- r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func twilioEnv(t *testing.T, base string) map[string]string {
	return map[string]string{
		"PHONEAUTH_DATABASE_URL":       "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_JWT_SECRET":         strings.Repeat("s", 32),
		"PHONEAUTH_SMS_PROVIDER":       "twilio",
		"PHONEAUTH_TWILIO_ACCOUNT_SID": testTwilioAccount,
		"PHONEAUTH_TWILIO_AUTH_TOKEN":  "e2e-token",
		"PHONEAUTH_TWILIO_FROM":        "+15017122661",
		"PHONEAUTH_TWILIO_BASE_URL":    base,
	}
}

func TestTwilioProviderDeliversTheCode(t *testing.T) {
	t.Parallel()
	fake, got := twilioFake(t, http.StatusCreated, `{"sid": "SM1234567890abcdef1234567890abcdef", "status": "queued", "error_code": null}`)
	in := start(t, twilioEnv(t, fake.URL))
	const phone = "+14155550330"

	tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})["token"].(string)
	var form url.Values
	select {
	case form = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Twilio was never called")
	}
	m := codeRE.FindStringSubmatch(form.Get("Body"))
	if form.Get("To") != phone || form.Get("From") != "+15017122661" || m == nil {
		t.Fatalf("Twilio got %v", form)
	}
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": m[1], "token": tok, "phone": phone})
}

func TestTwilioRefusalsBecomeTheAPIsAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   int
		error  string
	}{
		{"21211, an invalid number: the number cannot receive SMS", 400, `{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}`, 400, "This number cannot receive SMS"},
		{"20003, the credentials: the send failed", 401, `{"code": 20003, "message": "Authenticate", "status": 401}`, 502, "Could not send SMS, try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, _ := twilioFake(t, tt.status, tt.body)
			in := start(t, twilioEnv(t, fake.URL))

			status, out := in.call("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": "+14155550331"})

			if status != tt.want || out["error"] != tt.error {
				t.Errorf("register = %d %v, want %d %q", status, out, tt.want, tt.error)
			}
		})
	}
}
