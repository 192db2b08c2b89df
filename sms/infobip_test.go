package sms_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/sms"
)

const infobipKey = "003026bbc133714df1834b8638bb496e-hunter2"

// infobipAnswer is Infobip's 200 answer with one message of the status
// given as its reference writes it, such as
// `"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"`.
func infobipAnswer(status string) string {
	return `{"bulkId":"2034072219640523072","messages":[{"messageId":"2250be2d4219-3af1-78856-aabe-1362af1edfd2",` +
		`"status":{` + status + `,"description":"Message sent to next instance"},"to":"15551234567"}]}`
}

// infobipRequestError is Infobip's answer refusing a request.
func infobipRequestError(messageID, text string) string {
	return `{"requestError":{"serviceException":{"messageId":"` + messageID + `","text":"` + text + `"}}}`
}

func newInfobip(t *testing.T, c sms.InfobipConfig) *sms.Infobip {
	t.Helper()
	ib, err := sms.NewInfobip(c)
	if err != nil {
		t.Fatalf("NewInfobip: %v", err)
	}
	return ib
}

func TestInfobipSendsTheDocumentedRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from string
		base string // added to the fake's URL
		want map[string]any
	}{
		{
			name: "with a sender ID",
			from: "PhoneAuth",
			want: map[string]any{"messages": []any{map[string]any{
				"destinations": []any{map[string]any{"to": "15551234567"}},
				"from":         "PhoneAuth",
				"text":         "Your login code is 482913",
			}}},
		},
		{
			name: "with the account's default sender, base URL with a slash",
			base: "/",
			want: map[string]any{"messages": []any{map[string]any{
				"destinations": []any{map[string]any{"to": "15551234567"}},
				"text":         "Your login code is 482913",
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newAPIFake(t, answering(http.StatusOK, infobipAnswer(`"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"`)))
			ib := newInfobip(t, sms.InfobipConfig{APIKey: infobipKey, From: tt.from, BaseURL: api.url + tt.base})
			if err := ib.Send(context.Background(), loginMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			req := api.only(t)
			if req.method != http.MethodPost || req.path != "/sms/2/text/advanced" || req.query != "" {
				t.Errorf("request = %s %s?%s, want POST /sms/2/text/advanced", req.method, req.path, req.query)
			}
			if got := req.header.Get("Authorization"); got != "App "+infobipKey {
				t.Errorf("Authorization = %q, want App and the key", got)
			}
			if got := req.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := jsonFields(t, req.body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("body = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInfobipClassifiesItsAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   *refusal // nil: sent
	}{
		{"pending: sent", 200, infobipAnswer(`"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"`), nil},
		{"delivered to the operator: sent", 200, infobipAnswer(`"groupId":3,"groupName":"DELIVERED","id":2,"name":"DELIVERED_TO_OPERATOR"`), nil},
		{"invalid destination: undeliverable", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":52,"name":"REJECTED_DESTINATION"`), &refusal{200, "REJECTED_DESTINATION", false, true}},
		{"prefix missing: undeliverable", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":8,"name":"REJECTED_PREFIX_MISSING"`), &refusal{200, "REJECTED_PREFIX_MISSING", false, true}},
		{"do not disturb: undeliverable", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":10,"name":"REJECTED_DND"`), &refusal{200, "REJECTED_DND", false, true}},
		{"blocklisted number: undeliverable", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":14,"name":"REJECTED_DESTINATION_BLOCKLISTED"`), &refusal{200, "REJECTED_DESTINATION_BLOCKLISTED", false, true}},
		{"no credit: permanent", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":12,"name":"REJECTED_NOT_ENOUGH_CREDITS"`), &refusal{200, "REJECTED_NOT_ENOUGH_CREDITS", false, false}},
		{"sender not registered: permanent", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":11,"name":"REJECTED_SOURCE"`), &refusal{200, "REJECTED_SOURCE", false, false}},
		{"network not covered: permanent", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":6,"name":"REJECTED_NETWORK"`), &refusal{200, "REJECTED_NETWORK", false, false}},
		{"system error: temporary", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":21,"name":"REJECTED_SYSTEM_ERROR"`), &refusal{200, "REJECTED_SYSTEM_ERROR", true, false}},
		{"unknown rejection: permanent", 200, infobipAnswer(`"groupId":5,"groupName":"REJECTED","id":999,"name":"REJECTED_SOMETHING_NEW"`), &refusal{200, "REJECTED_SOMETHING_NEW", false, false}},
		{"200 without a status: permanent, may be sent", 200, `{"bulkId":"1","messages":[]}`, &refusal{200, "", false, false}},
		{"API key refused: permanent", 401, infobipRequestError("UNAUTHORIZED", "Invalid login details"), &refusal{401, "UNAUTHORIZED", false, false}},
		{"malformed request: permanent", 400, infobipRequestError("BAD_REQUEST", "Bad request"), &refusal{400, "BAD_REQUEST", false, false}},
		{"rate limited: temporary", 429, infobipRequestError("TOO_MANY_REQUESTS", "Too many requests"), &refusal{429, "TOO_MANY_REQUESTS", true, false}},
		{"general error: temporary", 500, infobipRequestError("GENERAL_ERROR", "Something went wrong. Please contact support."), &refusal{500, "GENERAL_ERROR", true, false}},
		{"503 without a body: temporary", 503, "", &refusal{503, "", true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newAPIFake(t, answering(tt.status, tt.body))
			ib := newInfobip(t, sms.InfobipConfig{APIKey: infobipKey, From: "PhoneAuth", BaseURL: api.url})
			m := loginMessage()
			err := ib.Send(context.Background(), m)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			checkRefusal(t, err, "infobip", *tt.want, infobipKey, m.Code, m.Text, strings.TrimPrefix(m.To, "+"))
		})
	}
}

func TestInfobipWithoutAnAnswer(t *testing.T) {
	t.Parallel()
	api := newAPIFake(t, answering(http.StatusOK, ""))
	ib := newInfobip(t, sms.InfobipConfig{APIKey: infobipKey, BaseURL: api.url})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checkRefusal(t, ib.Send(ctx, loginMessage()), "infobip", refusal{}, infobipKey, "482913")
}

func TestInfobipConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    sms.InfobipConfig
		want []string // the fields refused, in order
	}{
		{"key and base URL", sms.InfobipConfig{APIKey: "k", BaseURL: "https://xyz12.api.infobip.com"}, nil},
		{"with a sender, local fake", sms.InfobipConfig{APIKey: "k", From: "Acme", BaseURL: "http://localhost:9000"}, nil},
		{"nothing", sms.InfobipConfig{}, []string{"APIKey", "BaseURL"}},
		{"no key", sms.InfobipConfig{BaseURL: "https://xyz12.api.infobip.com"}, []string{"APIKey"}},
		{"no base URL: each account has its own", sms.InfobipConfig{APIKey: "k"}, []string{"BaseURL"}},
		{"base URL in clear to a remote host", sms.InfobipConfig{APIKey: "k", BaseURL: "http://xyz12.api.infobip.com"}, []string{"BaseURL"}},
		{"base URL with a query", sms.InfobipConfig{APIKey: "k", BaseURL: "https://xyz12.api.infobip.com/?k=v"}, []string{"BaseURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.c.Validate()
			checkConfigFields(t, err, "infobip", tt.want)
			if _, nerr := sms.NewInfobip(tt.c); (nerr == nil) != (err == nil) {
				t.Errorf("NewInfobip error %v, Validate error %v: want both or neither", nerr, err)
			}
			if err != nil && strings.Contains(err.Error(), "xyz12") {
				t.Errorf("error repeats the base URL: %v", err)
			}
		})
	}
}
