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

func TestLoadConfigReadsMessageBird(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  sms.MessageBirdConfig
	}{
		{
			"access key and originator, the default base URL",
			nil,
			map[string]string{"PHONEAUTH_MESSAGEBIRD_ACCESS_KEY": "hunter2-key", "PHONEAUTH_MESSAGEBIRD_ORIGINATOR": "Acme"},
			sms.MessageBirdConfig{AccessKey: "hunter2-key", Originator: "Acme"},
		},
		{
			"the access key from a file, a base URL on loopback",
			map[string]string{"key": "hunter2-key\n"},
			map[string]string{"PHONEAUTH_MESSAGEBIRD_ACCESS_KEY_FILE": "DIR/key", "PHONEAUTH_MESSAGEBIRD_ORIGINATOR": "+31612345678", "PHONEAUTH_MESSAGEBIRD_BASE_URL": "http://localhost:9000"},
			sms.MessageBirdConfig{AccessKey: "hunter2-key", Originator: "+31612345678", BaseURL: "http://localhost:9000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := secretFiles(t, tt.files, tt.vars)
			vars["PHONEAUTH_SMS_PROVIDER"] = "messagebird"
			c, err := loadConfig(env(vars))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if !slices.Equal(c.SMS.Providers, []string{"messagebird"}) || c.SMS.MessageBird != tt.want {
				t.Errorf("SMS config = %v %+v, want [messagebird] %+v", c.SMS.Providers, c.SMS.MessageBird, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadMessageBirdVariable(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"PHONEAUTH_SMS_PROVIDER":           "messagebird",
		"PHONEAUTH_MESSAGEBIRD_ACCESS_KEY": "hunter2-key",
		"PHONEAUTH_MESSAGEBIRD_ORIGINATOR": "Acme",
	}
	tests := []struct {
		name    string
		vars    map[string]string
		want    []string
		private string
	}{
		{"nothing set", map[string]string{"PHONEAUTH_SMS_PROVIDER": "messagebird"}, []string{"PHONEAUTH_MESSAGEBIRD_ACCESS_KEY", "PHONEAUTH_MESSAGEBIRD_ORIGINATOR"}, ""},
		{"no access key", merged(good, map[string]string{"PHONEAUTH_MESSAGEBIRD_ACCESS_KEY": ""}), []string{"PHONEAUTH_MESSAGEBIRD_ACCESS_KEY"}, ""},
		{"no originator", merged(good, map[string]string{"PHONEAUTH_MESSAGEBIRD_ORIGINATOR": ""}), []string{"PHONEAUTH_MESSAGEBIRD_ORIGINATOR"}, "hunter2"},
		{"an http base URL to another host, not echoed", merged(good, map[string]string{"PHONEAUTH_MESSAGEBIRD_BASE_URL": "http://rest.messagebird.com/hunter3"}), []string{"PHONEAUTH_MESSAGEBIRD_BASE_URL"}, "hunter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(tt.vars))
			checkNamedVariables(t, err, tt.want, tt.private)
		})
	}
}

func TestMessageBirdProviderDeliversTheCode(t *testing.T) {
	t.Parallel()
	type message struct {
		Originator string        `json:"originator"`
		Recipients []json.Number `json:"recipients"`
		Body       string        `json:"body"`
	}
	got := make(chan message, 4)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/messages" || r.Header.Get("Authorization") != "AccessKey e2e-key" {
			t.Errorf("MessageBird got %s %s", r.Method, r.URL.Path)
		}
		var m message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("MessageBird got a body that is not JSON: %v", err)
		}
		got <- m
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id": "e8077d803532c0b5937c639b60216938", "direction": "mt", "type": "sms", "recipients": {"totalCount": 1, "totalSentCount": 1, "items": [{"recipient": 14155550350, "status": "sent"}]}}`))
	}))
	t.Cleanup(fake.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":           "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_JWT_SECRET":             strings.Repeat("s", 32),
		"PHONEAUTH_SMS_PROVIDER":           "messagebird",
		"PHONEAUTH_MESSAGEBIRD_ACCESS_KEY": "e2e-key",
		"PHONEAUTH_MESSAGEBIRD_ORIGINATOR": "Acme",
		"PHONEAUTH_MESSAGEBIRD_BASE_URL":   fake.URL,
	})
	const phone = "+14155550350"

	tok := in.mustCall("POST", "/auth/api/Register/", "", map[string]any{"phonenumber": phone})["token"].(string)
	var m message
	select {
	case m = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("MessageBird was never called")
	}
	code := codeRE.FindStringSubmatch(m.Body)
	if m.Originator != "Acme" || !slices.Equal(m.Recipients, []json.Number{"14155550350"}) || code == nil {
		t.Fatalf("MessageBird got %+v", m)
	}
	in.mustCall("POST", "/auth/api/verify/", "", map[string]any{"code": code[1], "token": tok, "phone": phone})
}
