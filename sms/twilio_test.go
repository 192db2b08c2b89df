package sms_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/sms"
)

const (
	twilioAccount = "AC0123456789abcdef0123456789abcdef"
	twilioToken   = "twilio-token-hunter2"
	twilioKey     = "SKfedcba9876543210fedcba9876543210"
	twilioService = "MG00112233445566778899aabbccddeeff"
	twilioFrom    = "+15017122661"
)

// twilioCreated is Twilio's answer to a message created: 201 and the
// Message resource, as its API reference shows it.
const twilioCreated = `{
  "account_sid": "AC0123456789abcdef0123456789abcdef",
  "api_version": "2010-04-01",
  "body": "Your login code is 482913",
  "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
  "date_sent": null,
  "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
  "direction": "outbound-api",
  "error_code": null,
  "error_message": null,
  "from": "+15017122661",
  "messaging_service_sid": null,
  "num_media": "0",
  "num_segments": "1",
  "price": null,
  "price_unit": "USD",
  "sid": "SM1234567890abcdef1234567890abcdef",
  "status": "queued",
  "subresource_uris": {"media": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM1234567890abcdef1234567890abcdef/Media.json"},
  "to": "+15551234567",
  "uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM1234567890abcdef1234567890abcdef.json"
}`

// twilioRefusal is Twilio's error body for code, with the message it
// writes, which quotes the number.
func twilioRefusal(code, status string) string {
	return `{"code": ` + code + `, "message": "The 'To' number +15551234567 is not valid.", "more_info": "https://www.twilio.com/docs/errors/` + code + `", "status": ` + status + `}`
}

func newTwilio(t *testing.T, c sms.TwilioConfig) *sms.Twilio {
	t.Helper()
	s, err := sms.NewTwilio(c)
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	return s
}

func TestTwilioSendsTheDocumentedRequest(t *testing.T) {
	t.Parallel()
	msg := loginMessage()
	tests := []struct {
		name     string
		config   sms.TwilioConfig
		base     string // appended to the fake's URL as the base URL
		path     string
		user     string
		password string
		form     url.Values
	}{
		{
			"a From number, with the auth token",
			sms.TwilioConfig{AccountSID: twilioAccount, AuthToken: twilioToken, From: twilioFrom},
			"",
			"/2010-04-01/Accounts/" + twilioAccount + "/Messages.json",
			twilioAccount, twilioToken,
			url.Values{"To": {msg.To}, "From": {twilioFrom}, "Body": {msg.Text}},
		},
		{
			"a Messaging Service instead of a From number",
			sms.TwilioConfig{AccountSID: twilioAccount, AuthToken: twilioToken, MessagingServiceSID: twilioService},
			"",
			"/2010-04-01/Accounts/" + twilioAccount + "/Messages.json",
			twilioAccount, twilioToken,
			url.Values{"To": {msg.To}, "MessagingServiceSid": {twilioService}, "Body": {msg.Text}},
		},
		{
			"an API key: its SID and secret authenticate, the path keeps the account",
			sms.TwilioConfig{AccountSID: twilioAccount, APIKeySID: twilioKey, AuthToken: twilioToken, From: twilioFrom},
			"",
			"/2010-04-01/Accounts/" + twilioAccount + "/Messages.json",
			twilioKey, twilioToken,
			url.Values{"To": {msg.To}, "From": {twilioFrom}, "Body": {msg.Text}},
		},
		{
			"a base URL with a path and a trailing slash, as a relay's",
			sms.TwilioConfig{AccountSID: twilioAccount, AuthToken: twilioToken, From: twilioFrom},
			"/relay/",
			"/relay/2010-04-01/Accounts/" + twilioAccount + "/Messages.json",
			twilioAccount, twilioToken,
			url.Values{"To": {msg.To}, "From": {twilioFrom}, "Body": {msg.Text}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newRecordingAPI(t, http.StatusCreated, twilioCreated)
			tt.config.BaseURL = api.url + tt.base

			if err := newTwilio(t, tt.config).Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			req := api.only(t)
			if req.method != http.MethodPost || req.path != tt.path || req.query != "" {
				t.Errorf("request %s %s?%s, want POST %s", req.method, req.path, req.query, tt.path)
			}
			if got := req.header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", got)
			}
			user, password, ok := (&http.Request{Header: req.header}).BasicAuth()
			if !ok || user != tt.user || password != tt.password {
				t.Errorf("Basic auth = %q, %q (%v), want %q and the token", user, password, ok, tt.user)
			}
			form, err := url.ParseQuery(string(req.body))
			if err != nil {
				t.Fatalf("body %q is not form-encoded: %v", req.body, err)
			}
			if !reflect.DeepEqual(form, tt.form) {
				t.Errorf("form = %v, want exactly %v", form, tt.form)
			}
			// The "+" of E.164 is escaped: a bare "+" reads as a space.
			if !strings.Contains(string(req.body), "To=%2B15551234567") {
				t.Errorf("body %q does not carry To as %%2B15551234567", req.body)
			}
		})
	}
}

func TestTwilioSendsToTheDefaultBaseURL(t *testing.T) {
	t.Parallel()
	client, last := urlRecorder(http.StatusCreated, twilioCreated)
	s := newTwilio(t, sms.TwilioConfig{AccountSID: twilioAccount, AuthToken: twilioToken, From: twilioFrom, Client: client})

	if err := s.Send(context.Background(), loginMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if want := "https://api.twilio.com/2010-04-01/Accounts/" + twilioAccount + "/Messages.json"; last() != want {
		t.Errorf("request to %s, want %s", last(), want)
	}
}

func TestTwilioClassifiesEachFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int    // the fake's answer; 0: no answer at all
		body   string // the fake's body
		want   wantProviderError
	}{
		{"21211 invalid To: the number cannot receive SMS", 400, twilioRefusal("21211", "400"), wantProviderError{400, "21211", false, true, "not a valid phone number"}},
		{"21614 not a mobile number: the number cannot receive SMS", 400, twilioRefusal("21614", "400"), wantProviderError{400, "21614", false, true, "not a mobile number"}},
		{"21612 unreachable: the number cannot receive SMS", 400, twilioRefusal("21612", "400"), wantProviderError{400, "21612", false, true, "cannot reach the number"}},
		{"21610 unsubscribed: the number cannot receive SMS", 400, twilioRefusal("21610", "400"), wantProviderError{400, "21610", false, true, "replied STOP"}},
		{"21268 premium-rate number: the number cannot receive SMS", 400, twilioRefusal("21268", "400"), wantProviderError{400, "21268", false, true, "premium-rate"}},
		{"21408 region not enabled: the operator's to fix, another provider may send", 400, twilioRefusal("21408", "400"), wantProviderError{400, "21408", false, false, "Geo permissions"}},
		{"21608 trial account: permanent", 400, twilioRefusal("21608", "400"), wantProviderError{400, "21608", false, false, "trial account"}},
		{"21606 From not SMS-capable: permanent", 400, twilioRefusal("21606", "400"), wantProviderError{400, "21606", false, false, "From number"}},
		{"21212 invalid From: permanent", 400, twilioRefusal("21212", "400"), wantProviderError{400, "21212", false, false, "From number"}},
		{"20003 authentication: permanent", 401, twilioRefusal("20003", "401"), wantProviderError{401, "20003", false, false, "Account SID and auth token"}},
		{"401 without a body: authentication", 401, "", wantProviderError{401, "", false, false, "Account SID and auth token"}},
		{"20404 no such account: permanent", 404, twilioRefusal("20404", "404"), wantProviderError{404, "20404", false, false, "Account SID"}},
		{"20429 too many requests: temporary", 429, twilioRefusal("20429", "429"), wantProviderError{429, "20429", true, false, "too many requests"}},
		{"21611 queue full: temporary", 400, twilioRefusal("21611", "400"), wantProviderError{400, "21611", true, false, "queue"}},
		{"an undocumented code: permanent, pointing at its page", 400, twilioRefusal("29999", "400"), wantProviderError{400, "29999", false, false, "https://www.twilio.com/docs/errors/29999"}},
		{"500 with a code: temporary", 500, twilioRefusal("20500", "500"), wantProviderError{500, "20500", true, false, "twilio.com/docs/errors/20500"}},
		{"503 of a proxy, not JSON: temporary", 503, "<html>busy</html>", wantProviderError{503, "", true, false, "Service Unavailable"}},
		{"no answer: temporary", 0, "", wantProviderError{0, "", true, false, "no answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := closedURL(t)
			if tt.status != 0 {
				base = newRecordingAPI(t, tt.status, tt.body).url
			}
			s := newTwilio(t, sms.TwilioConfig{AccountSID: twilioAccount, AuthToken: twilioToken, From: twilioFrom, BaseURL: base})
			msg := loginMessage()

			err := s.Send(context.Background(), msg)

			checkProviderError(t, "twilio", err, tt.want, msg.Code, msg.Text, msg.To, twilioToken, twilioAccount, "The 'To' number")
		})
	}
}

func TestTwilioStopsWhenTheCallerGoesAway(t *testing.T) {
	t.Parallel()
	api := newRecordingAPI(t, http.StatusCreated, twilioCreated)
	s := newTwilio(t, sms.TwilioConfig{AccountSID: twilioAccount, AuthToken: twilioToken, From: twilioFrom, BaseURL: api.url})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := s.Send(ctx, loginMessage())

	if !errors.Is(err, context.Canceled) || sms.Retryable(err) {
		t.Errorf("Send = %v (retryable %v), want context.Canceled, not retryable", err, sms.Retryable(err))
	}
}

func TestTwilioConfigValidate(t *testing.T) {
	t.Parallel()
	good := sms.TwilioConfig{AccountSID: twilioAccount, AuthToken: twilioToken, From: twilioFrom}
	with := func(change func(*sms.TwilioConfig)) sms.TwilioConfig {
		c := good
		change(&c)
		return c
	}
	tests := []struct {
		name   string
		config sms.TwilioConfig
		want   []string // the fields refused
	}{
		{"a From number", good, nil},
		{"a Messaging Service", with(func(c *sms.TwilioConfig) { c.From, c.MessagingServiceSID = "", twilioService }), nil},
		{"an API key", with(func(c *sms.TwilioConfig) { c.APIKeySID = twilioKey }), nil},
		{"an http base URL on loopback", with(func(c *sms.TwilioConfig) { c.BaseURL = "http://127.0.0.1:8080" }), nil},
		{"an http base URL on localhost", with(func(c *sms.TwilioConfig) { c.BaseURL = "http://localhost:8080/twilio" }), nil},
		{"nothing", sms.TwilioConfig{}, []string{"AccountSID", "AuthToken", "From"}},
		{"no account SID", with(func(c *sms.TwilioConfig) { c.AccountSID = "" }), []string{"AccountSID"}},
		{"an API key SID as the account SID", with(func(c *sms.TwilioConfig) { c.AccountSID = twilioKey }), []string{"AccountSID"}},
		{"an account SID too short", with(func(c *sms.TwilioConfig) { c.AccountSID = "AC0123hunter2" }), []string{"AccountSID"}},
		{"an account SID with a slash", with(func(c *sms.TwilioConfig) { c.AccountSID = "AC0123456789abcdef0123456789abcd/x" }), []string{"AccountSID"}},
		{"no auth token", with(func(c *sms.TwilioConfig) { c.AuthToken = "" }), []string{"AuthToken"}},
		{"an API key SID that is the account's", with(func(c *sms.TwilioConfig) { c.APIKeySID = twilioAccount }), []string{"APIKeySID"}},
		{"neither From nor a Messaging Service", with(func(c *sms.TwilioConfig) { c.From = "" }), []string{"From"}},
		{"both From and a Messaging Service", with(func(c *sms.TwilioConfig) { c.MessagingServiceSID = twilioService }), []string{"MessagingServiceSID"}},
		{"a Messaging Service SID that is not one", with(func(c *sms.TwilioConfig) { c.From, c.MessagingServiceSID = "", "hunter2" }), []string{"MessagingServiceSID"}},
		{"an http base URL to another host", with(func(c *sms.TwilioConfig) { c.BaseURL = "http://api.twilio.com/hunter2" }), []string{"BaseURL"}},
		{"a base URL that is no URL", with(func(c *sms.TwilioConfig) { c.BaseURL = "api.twilio.com" }), []string{"BaseURL"}},
		{"a base URL with a query", with(func(c *sms.TwilioConfig) { c.BaseURL = "https://api.twilio.com/?key=hunter2" }), []string{"BaseURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.config.Validate()
			checkConfigErrors(t, "twilio", err, tt.want, twilioToken, "hunter2")
			if _, nerr := sms.NewTwilio(tt.config); (nerr == nil) != (err == nil) || (err != nil && nerr.Error() != err.Error()) {
				t.Errorf("NewTwilio error = %v, want Validate's %v", nerr, err)
			}
		})
	}
}
