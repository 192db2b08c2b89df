package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/sms"
)

func TestLoadConfigReadsInfobip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  sms.InfobipConfig
	}{
		{
			"every variable",
			nil,
			map[string]string{
				"PHONEAUTH_INFOBIP_API_KEY":  "003026bbc133714df1834b8638bb496e",
				"PHONEAUTH_INFOBIP_FROM":     "Acme",
				"PHONEAUTH_INFOBIP_BASE_URL": "https://xyz12.api.infobip.com",
			},
			sms.InfobipConfig{APIKey: "003026bbc133714df1834b8638bb496e", From: "Acme", BaseURL: "https://xyz12.api.infobip.com"},
		},
		{
			"the API key from a file, the account's default sender",
			map[string]string{"key": "003026bbc133714df1834b8638bb496e\n"},
			map[string]string{"PHONEAUTH_INFOBIP_API_KEY_FILE": "DIR/key", "PHONEAUTH_INFOBIP_BASE_URL": "https://xyz12.api.infobip.com"},
			sms.InfobipConfig{APIKey: "003026bbc133714df1834b8638bb496e", BaseURL: "https://xyz12.api.infobip.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := merged(secretFiles(t, tt.files, tt.vars), map[string]string{"PHONEAUTH_SMS_PROVIDER": "infobip"})
			c, err := loadConfig(env(vars))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if c.SMS.Infobip != tt.want {
				t.Errorf("Infobip config = %+v, want %+v", c.SMS.Infobip, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadInfobipVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want []string // the variables named, one per line of the error
	}{
		{"nothing set", map[string]string{}, []string{"PHONEAUTH_INFOBIP_API_KEY", "PHONEAUTH_INFOBIP_BASE_URL"}},
		{"no API key", map[string]string{"PHONEAUTH_INFOBIP_BASE_URL": "https://xyz12.api.infobip.com"}, []string{"PHONEAUTH_INFOBIP_API_KEY"}},
		{"no base URL: each account has its own", map[string]string{"PHONEAUTH_INFOBIP_API_KEY": "hunter2"}, []string{"PHONEAUTH_INFOBIP_BASE_URL"}},
		{"base URL in clear to a remote host", map[string]string{"PHONEAUTH_INFOBIP_API_KEY": "hunter2", "PHONEAUTH_INFOBIP_BASE_URL": "http://xyz12.api.infobip.com"}, []string{"PHONEAUTH_INFOBIP_BASE_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(merged(tt.vars, map[string]string{"PHONEAUTH_SMS_PROVIDER": "infobip"})))
			checkNamed(t, err, tt.want, "hunter2", "xyz12")
		})
	}
}

func TestInfobipProviderDeliversTheCode(t *testing.T) {
	t.Parallel()
	got := make(chan sentSMS, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				Destinations []struct{ To string }
				Text         string
			}
		}
		if r.URL.Path != "/sms/2/text/advanced" || r.Header.Get("Authorization") != "App key-e2e" ||
			json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Messages) != 1 || len(req.Messages[0].Destinations) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"requestError":{"serviceException":{"messageId":"BAD_REQUEST","text":"Bad request"}}}`))
			return
		}
		m := req.Messages[0]
		got <- sentSMS{m.Destinations[0].To, m.Text}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"bulkId":"2034072219640523072","messages":[{"messageId":"2250be2d4219-3af1-78856-aabe-1362af1edfd2",` +
			`"status":{"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED","description":"Message sent to next instance"},` +
			`"to":"` + m.Destinations[0].To + `"}]}`))
	}))
	t.Cleanup(api.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL":     "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_JWT_SECRET":       strings.Repeat("s", 32),
		"PHONEAUTH_SMS_PROVIDER":     "infobip",
		"PHONEAUTH_INFOBIP_API_KEY":  "key-e2e",
		"PHONEAUTH_INFOBIP_FROM":     "PhoneAuth",
		"PHONEAUTH_INFOBIP_BASE_URL": api.URL,
	})
	registerThroughProvider(t, in, "+14155550313", "14155550313", got)
}
