package sms_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/phoneauth/phoneauth/sms"
)

const (
	vonageKey    = "a1b2c3d4"
	vonageSecret = "vonage-secret-hunter2"
	vonageFrom   = "15017122661"
)

// vonageAccepted is the SMS API's answer to a message it accepted, as its
// API reference shows it.
const vonageAccepted = `{
  "message-count": "1",
  "messages": [
    {
      "to": "15551234567",
      "message-id": "0A0000000123ABCD1",
      "status": "0",
      "remaining-balance": "3.14159265",
      "message-price": "0.03330000",
      "network": "12345"
    }
  ]
}`

// vonageRefusal is the SMS API's answer, 200 as ever, to a message it
// refused with status.
func vonageRefusal(status string) string {
	return `{"message-count": "1", "messages": [{"status": "` + status + `", "error-text": "Vonage says hunter3 about +15551234567"}]}`
}

func newVonage(t *testing.T, c sms.VonageConfig) *sms.Vonage {
	t.Helper()
	s, err := sms.NewVonage(c)
	if err != nil {
		t.Fatalf("NewVonage: %v", err)
	}
	return s
}

func TestVonageSendsTheDocumentedRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from string // the configured sender
		text string
		base string // appended to the fake's URL as the base URL
		path string
		want url.Values // besides api_key, api_secret and to
	}{
		{"a GSM-7 text, with no type", vonageFrom, "Your login code is 482913", "", "/sms/json",
			url.Values{"from": {vonageFrom}, "text": {"Your login code is 482913"}}},
		{"a sender number with its +, sent without", "+" + vonageFrom, "Your login code is 482913", "", "/sms/json",
			url.Values{"from": {vonageFrom}, "text": {"Your login code is 482913"}}},
		{"an alphanumeric sender", "Acme Inc", "Your login code is 482913", "", "/sms/json",
			url.Values{"from": {"Acme Inc"}, "text": {"Your login code is 482913"}}},
		{"characters of GSM-7's extension table, with no type", vonageFrom, "Code [482913] {€5} ~^|\\", "", "/sms/json",
			url.Values{"from": {vonageFrom}, "text": {"Code [482913] {€5} ~^|\\"}}},
		{"a Cyrillic text, as unicode", vonageFrom, "Ваш код 482913", "", "/sms/json",
			url.Values{"from": {vonageFrom}, "text": {"Ваш код 482913"}, "type": {"unicode"}}},
		{"a backtick, outside GSM-7, as unicode", vonageFrom, "Code `482913`", "", "/sms/json",
			url.Values{"from": {vonageFrom}, "text": {"Code `482913`"}, "type": {"unicode"}}},
		{"an emoji, as unicode", vonageFrom, "Code 482913 🔑", "", "/sms/json",
			url.Values{"from": {vonageFrom}, "text": {"Code 482913 🔑"}, "type": {"unicode"}}},
		{"a base URL with a path and a trailing slash", vonageFrom, "Your login code is 482913", "/relay/", "/relay/sms/json",
			url.Values{"from": {vonageFrom}, "text": {"Your login code is 482913"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newRecordingAPI(t, http.StatusOK, vonageAccepted)
			s := newVonage(t, sms.VonageConfig{APIKey: vonageKey, APISecret: vonageSecret, From: tt.from, BaseURL: api.url + tt.base})
			msg := loginMessage()
			msg.Text = tt.text

			if err := s.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			req := api.only(t)
			if req.method != http.MethodPost || req.path != tt.path || req.query != "" {
				t.Errorf("request %s %s?%s, want POST %s", req.method, req.path, req.query, tt.path)
			}
			if got := req.header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", got)
			}
			if got := req.header.Get("Authorization"); got != "" {
				t.Errorf("Authorization = %q, want none: the credentials go in the form", got)
			}
			form, err := url.ParseQuery(string(req.body))
			if err != nil {
				t.Fatalf("body %q is not form-encoded: %v", req.body, err)
			}
			want := url.Values{"api_key": {vonageKey}, "api_secret": {vonageSecret}, "to": {"15551234567"}}
			for k, v := range tt.want {
				want[k] = v
			}
			if !reflect.DeepEqual(form, want) {
				t.Errorf("form = %v, want exactly %v", form, want)
			}
		})
	}
}

func TestVonageSendsToTheDefaultBaseURL(t *testing.T) {
	t.Parallel()
	client, last := urlRecorder(http.StatusOK, vonageAccepted)
	s := newVonage(t, sms.VonageConfig{APIKey: vonageKey, APISecret: vonageSecret, From: vonageFrom, Client: client})

	if err := s.Send(context.Background(), loginMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if want := "https://rest.nexmo.com/sms/json"; last() != want {
		t.Errorf("request to %s, want %s", last(), want)
	}
}

func TestVonageClassifiesEachFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int    // the fake's answer; 0: no answer at all
		body   string // the fake's body
		want   wantProviderError
	}{
		{"1 throttled: temporary", 200, vonageRefusal("1"), wantProviderError{200, "1", true, false, "throughput"}},
		{"2 missing parameters: permanent", 200, vonageRefusal("2"), wantProviderError{200, "2", false, false, "missing"}},
		{"3 invalid parameters: permanent", 200, vonageRefusal("3"), wantProviderError{200, "3", false, false, "From sender"}},
		{"4 invalid credentials: permanent", 200, vonageRefusal("4"), wantProviderError{200, "4", false, false, "API key or secret"}},
		{"5 internal error: temporary", 200, vonageRefusal("5"), wantProviderError{200, "5", true, false, "internal error"}},
		{"6 unroutable number: the number cannot receive SMS", 200, vonageRefusal("6"), wantProviderError{200, "6", false, true, "cannot route"}},
		{"7 number barred: the number cannot receive SMS", 200, vonageRefusal("7"), wantProviderError{200, "7", false, true, "barred"}},
		{"8 account barred: permanent", 200, vonageRefusal("8"), wantProviderError{200, "8", false, false, "suspended"}},
		{"9 no credit: permanent", 200, vonageRefusal("9"), wantProviderError{200, "9", false, false, "credit"}},
		{"10 too many binds: temporary", 200, vonageRefusal("10"), wantProviderError{200, "10", true, false, "connections"}},
		{"15 sender not allowed: permanent", 200, vonageRefusal("15"), wantProviderError{200, "15", false, false, "From sender"}},
		{"29 demo account, destination not whitelisted: permanent", 200, vonageRefusal("29"), wantProviderError{200, "29", false, false, "demo account"}},
		{"33 number de-activated: the number cannot receive SMS", 200, vonageRefusal("33"), wantProviderError{200, "33", false, true, "de-activated"}},
		{"an undocumented status: permanent, pointing at the list", 200, vonageRefusal("99"), wantProviderError{200, "99", false, false, "troubleshooting-sms"}},
		{"a status that is no number: not repeated", 200, vonageRefusal("hunter2"), wantProviderError{200, "", false, false, "troubleshooting-sms"}},
		{
			"a long text's second part refused: the send failed", 200,
			`{"message-count": "2", "messages": [{"to": "15551234567", "message-id": "0A0000000123ABCD1", "status": "0"}, {"status": "9", "error-text": "Quota Exceeded - rejected"}]}`,
			wantProviderError{200, "9", false, false, "credit"},
		},
		{"200 with no message status: permanent, not retried", 200, `{"message-count": "0", "messages": []}`, wantProviderError{200, "", false, false, "unknown"}},
		{"200 that is not JSON: permanent, not retried", 200, "<html>hunter2</html>", wantProviderError{200, "", false, false, "unknown"}},
		{"401: the credentials", 401, "", wantProviderError{401, "", false, false, "API key or secret"}},
		{"429: temporary", 429, "", wantProviderError{429, "", true, false, "Too Many Requests"}},
		{"500: temporary", 500, "", wantProviderError{500, "", true, false, "Internal Server Error"}},
		{"no answer: temporary", 0, "", wantProviderError{0, "", true, false, "no answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := closedURL(t)
			if tt.status != 0 {
				base = newRecordingAPI(t, tt.status, tt.body).url
			}
			s := newVonage(t, sms.VonageConfig{APIKey: vonageKey, APISecret: vonageSecret, From: vonageFrom, BaseURL: base})
			msg := loginMessage()

			err := s.Send(context.Background(), msg)

			checkProviderError(t, "vonage", err, tt.want, msg.Code, msg.Text, "15551234567", vonageKey, vonageSecret, "hunter", "Quota")
		})
	}
}

func TestVonageConfigValidate(t *testing.T) {
	t.Parallel()
	good := sms.VonageConfig{APIKey: vonageKey, APISecret: vonageSecret, From: vonageFrom}
	with := func(change func(*sms.VonageConfig)) sms.VonageConfig {
		c := good
		change(&c)
		return c
	}
	tests := []struct {
		name   string
		config sms.VonageConfig
		want   []string // the fields refused
	}{
		{"a sender number", good, nil},
		{"a sender number with its +", with(func(c *sms.VonageConfig) { c.From = "+" + vonageFrom }), nil},
		{"a sender ID of 11 characters", with(func(c *sms.VonageConfig) { c.From = "Acme Online" }), nil},
		{"an http base URL on loopback", with(func(c *sms.VonageConfig) { c.BaseURL = "http://[::1]:8080" }), nil},
		{"nothing", sms.VonageConfig{}, []string{"APIKey", "APISecret", "From"}},
		{"no API key", with(func(c *sms.VonageConfig) { c.APIKey = "" }), []string{"APIKey"}},
		{"no API secret", with(func(c *sms.VonageConfig) { c.APISecret = "" }), []string{"APISecret"}},
		{"no sender", with(func(c *sms.VonageConfig) { c.From = "" }), []string{"From"}},
		{"a sender ID of 12 characters", with(func(c *sms.VonageConfig) { c.From = "Acme Onlines" }), []string{"From"}},
		{"an http base URL to another host", with(func(c *sms.VonageConfig) { c.BaseURL = "http://rest.nexmo.com/hunter2" }), []string{"BaseURL"}},
		{"a base URL of another scheme", with(func(c *sms.VonageConfig) { c.BaseURL = "ftp://rest.nexmo.com" }), []string{"BaseURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.config.Validate()
			checkConfigErrors(t, "vonage", err, tt.want, vonageSecret, "hunter2")
			if _, nerr := sms.NewVonage(tt.config); (nerr == nil) != (err == nil) || (err != nil && nerr.Error() != err.Error()) {
				t.Errorf("NewVonage error = %v, want Validate's %v", nerr, err)
			}
		})
	}
}
