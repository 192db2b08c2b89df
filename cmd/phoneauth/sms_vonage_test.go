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

func TestLoadConfigReadsVonage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  sms.VonageConfig
	}{
		{
			"key, secret and sender, the default base URL",
			nil,
			map[string]string{"PHONEAUTH_VONAGE_API_KEY": "a1b2c3d4", "PHONEAUTH_VONAGE_API_SECRET": "hunter2-secret", "PHONEAUTH_VONAGE_FROM": "Acme"},
			sms.VonageConfig{APIKey: "a1b2c3d4", APISecret: "hunter2-secret", From: "Acme"},
		},
		{
			"the secret from a file, a base URL",
			map[string]string{"secret": "hunter2-secret\n"},
			map[string]string{"PHONEAUTH_VONAGE_API_KEY": "a1b2c3d4", "PHONEAUTH_VONAGE_API_SECRET_FILE": "DIR/secret", "PHONEAUTH_VONAGE_FROM": "15017122661", "PHONEAUTH_VONAGE_BASE_URL": "https://sms-relay.example/vonage"},
			sms.VonageConfig{APIKey: "a1b2c3d4", APISecret: "hunter2-secret", From: "15017122661", BaseURL: "https://sms-relay.example/vonage"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := secretFiles(t, tt.files, tt.vars)
			vars["PHONEAUTH_SMS_PROVIDER"] = "vonage"
			c, err := loadConfig(env(vars))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if !slices.Equal(c.SMS.Providers, []string{"vonage"}) || c.SMS.Vonage != tt.want {
				t.Errorf("SMS config = %v %+v, want [vonage] %+v", c.SMS.Providers, c.SMS.Vonage, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadVonageVariable(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"PHONEAUTH_SMS_PROVIDER":      "vonage",
		"PHONEAUTH_VONAGE_API_KEY":    "a1b2c3d4",
		"PHONEAUTH_VONAGE_API_SECRET": "hunter2-secret",
		"PHONEAUTH_VONAGE_FROM":       "Acme",
	}
	tests := []struct {
		name    string
		vars    map[string]string
		want    []string
		private string
	}{
		{"nothing set", map[string]string{"PHONEAUTH_SMS_PROVIDER": "vonage"}, []string{"PHONEAUTH_VONAGE_API_KEY", "PHONEAUTH_VONAGE_API_SECRET", "PHONEAUTH_VONAGE_FROM"}, ""},
		{"no API key", merged(good, map[string]string{"PHONEAUTH_VONAGE_API_KEY": ""}), []string{"PHONEAUTH_VONAGE_API_KEY"}, "hunter2"},
		{"no API secret", merged(good, map[string]string{"PHONEAUTH_VONAGE_API_SECRET": ""}), []string{"PHONEAUTH_VONAGE_API_SECRET"}, ""},
		{"no sender", merged(good, map[string]string{"PHONEAUTH_VONAGE_FROM": ""}), []string{"PHONEAUTH_VONAGE_FROM"}, "hunter2"},
		{"a sender ID too long", merged(good, map[string]string{"PHONEAUTH_VONAGE_FROM": "Acme Online Co"}), []string{"PHONEAUTH_VONAGE_FROM"}, "hunter2"},
		{"an http base URL to another host, not echoed", merged(good, map[string]string{"PHONEAUTH_VONAGE_BASE_URL": "http://rest.nexmo.com/hunter3"}), []string{"PHONEAUTH_VONAGE_BASE_URL"}, "hunter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(tt.vars))
			checkNamedVariables(t, err, tt.want, tt.private)
		})
	}
}

func TestVonageProviderDeliversTheCode(t *testing.T) {
	t.Parallel()
	got := make(chan url.Values, 4)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/sms/json" {
			t.Errorf("Vonage got %s %s", r.Method, r.URL.Path)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("Vonage got a body that is not a form: %v", err)
		}
		got <- r.PostForm
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message-count": "1", "messages": [{"to": "14155550340", "message-id": "0A0000000123ABCD1", "status": "0", "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "12345"}]}`))
	}))
	t.Cleanup(fake.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":      "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_JWT_SECRET":        strings.Repeat("s", 32),
		"PHONEAUTH_SMS_PROVIDER":      "vonage",
		"PHONEAUTH_VONAGE_API_KEY":    "a1b2c3d4",
		"PHONEAUTH_VONAGE_API_SECRET": "e2e-secret",
		"PHONEAUTH_VONAGE_FROM":       "Acme",
		"PHONEAUTH_VONAGE_BASE_URL":   fake.URL,
	})
	const phone = "+14155550340"

	tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})["token"].(string)
	var form url.Values
	select {
	case form = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Vonage was never called")
	}
	m := codeRE.FindStringSubmatch(form.Get("text"))
	if form.Get("to") != "14155550340" || form.Get("api_key") != "a1b2c3d4" || form.Get("api_secret") != "e2e-secret" || m == nil {
		t.Fatalf("Vonage got %v", form)
	}
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": m[1], "token": tok, "phone": phone})
}
