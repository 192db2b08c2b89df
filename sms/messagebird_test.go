package sms_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/phoneauth/phoneauth/sms"
)

const (
	messageBirdKey        = "live_hunter2AccessKey0123"
	messageBirdOriginator = "Acme"
)

// messageBirdCreated is MessageBird's answer to a message created: 201
// and the Message object, as its API reference shows it.
const messageBirdCreated = `{
  "id": "e8077d803532c0b5937c639b60216938",
  "href": "https://rest.messagebird.com/messages/e8077d803532c0b5937c639b60216938",
  "direction": "mt",
  "type": "sms",
  "originator": "Acme",
  "body": "Your login code is 482913",
  "reference": null,
  "validity": null,
  "gateway": 10,
  "typeDetails": {},
  "datacoding": "plain",
  "mclass": 1,
  "scheduledDatetime": null,
  "createdDatetime": "2016-05-03T14:26:57+00:00",
  "recipients": {
    "totalCount": 1,
    "totalSentCount": 1,
    "totalDeliveredCount": 0,
    "totalDeliveryFailedCount": 0,
    "items": [{"recipient": 15551234567, "status": "sent", "statusDatetime": "2016-05-03T14:26:57+00:00"}]
  }
}`

// messageBirdRefusal is MessageBird's error body with one error per
// code and parameter pair.
func messageBirdRefusal(pairs ...string) string {
	type apiError struct {
		Code        json.Number `json:"code"`
		Description string      `json:"description"`
		Parameter   *string     `json:"parameter"`
	}
	var errs []apiError
	for i := 0; i+1 < len(pairs); i += 2 {
		e := apiError{Code: json.Number(pairs[i]), Description: "MessageBird says hunter3 about 15551234567"}
		if pairs[i+1] != "" {
			e.Parameter = &pairs[i+1]
		}
		errs = append(errs, e)
	}
	b, _ := json.Marshal(map[string]any{"errors": errs})
	return string(b)
}

func newMessageBird(t *testing.T, c sms.MessageBirdConfig) *sms.MessageBird {
	t.Helper()
	s, err := sms.NewMessageBird(c)
	if err != nil {
		t.Fatalf("NewMessageBird: %v", err)
	}
	return s
}

func TestMessageBirdSendsTheDocumentedRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		originator string
		text       string
		base       string // appended to the fake's URL as the base URL
		path       string
		datacoding string // the raw JSON of datacoding; empty if absent
	}{
		{"a GSM-7 text, with the default datacoding", messageBirdOriginator, "Your login code is 482913", "", "/messages", ""},
		{"an originator number", "+15017122661", "Your login code is 482913", "", "/messages", ""},
		{"a Greek text, as unicode", messageBirdOriginator, "Ο κωδικός σας 482913 ή", "", "/messages", `"unicode"`},
		{"a base URL with a path and a trailing slash", messageBirdOriginator, "Your login code is 482913", "/relay/", "/relay/messages", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newRecordingAPI(t, http.StatusCreated, messageBirdCreated)
			s := newMessageBird(t, sms.MessageBirdConfig{AccessKey: messageBirdKey, Originator: tt.originator, BaseURL: api.url + tt.base})
			msg := loginMessage()
			msg.Text = tt.text

			if err := s.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}

			req := api.only(t)
			if req.method != http.MethodPost || req.path != tt.path || req.query != "" {
				t.Errorf("request %s %s?%s, want POST %s", req.method, req.path, req.query, tt.path)
			}
			if got := req.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := req.header.Values("Authorization"); !slices.Equal(got, []string{"AccessKey " + messageBirdKey}) {
				t.Errorf("Authorization = %q, want AccessKey and the key", got)
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(req.body, &body); err != nil {
				t.Fatalf("body %q is not a JSON object: %v", req.body, err)
			}
			wantKeys := []string{"body", "originator", "recipients"}
			if tt.datacoding != "" {
				wantKeys = append(wantKeys, "datacoding")
			}
			if got := slices.Sorted(maps.Keys(body)); !slices.Equal(got, slices.Sorted(slices.Values(wantKeys))) {
				t.Errorf("body fields = %q, want exactly %q", got, wantKeys)
			}
			var originator, text string
			if json.Unmarshal(body["originator"], &originator) != nil || originator != tt.originator {
				t.Errorf("originator = %s, want %q", body["originator"], tt.originator)
			}
			if json.Unmarshal(body["body"], &text) != nil || text != tt.text {
				t.Errorf("body = %s, want %q", body["body"], tt.text)
			}
			// The recipients are numbers with their country code, written
			// as JSON numbers, as the API reference writes them.
			if got := string(body["recipients"]); got != "[15551234567]" {
				t.Errorf("recipients = %s, want [15551234567]", got)
			}
			if got := string(body["datacoding"]); got != tt.datacoding {
				t.Errorf("datacoding = %s, want %s", got, tt.datacoding)
			}
		})
	}
}

func TestMessageBirdSendsToTheDefaultBaseURL(t *testing.T) {
	t.Parallel()
	client, last := urlRecorder(http.StatusCreated, messageBirdCreated)
	s := newMessageBird(t, sms.MessageBirdConfig{AccessKey: messageBirdKey, Originator: messageBirdOriginator, Client: client})

	if err := s.Send(context.Background(), loginMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if want := "https://rest.messagebird.com/messages"; last() != want {
		t.Errorf("request to %s, want %s", last(), want)
	}
}

func TestMessageBirdClassifiesEachFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int    // the fake's answer; 0: no answer at all
		body   string // the fake's body
		want   wantProviderError
	}{
		{"2 request not allowed: the access key", 401, messageBirdRefusal("2", "access_key"), wantProviderError{401, "2", false, false, "access key"}},
		{"401 without a body: the access key", 401, "", wantProviderError{401, "", false, false, "access key"}},
		{"9 on the recipients: the number cannot receive SMS", 422, messageBirdRefusal("9", "recipients"), wantProviderError{422, "9", false, true, "no valid recipient"}},
		{"10 on the recipients: the number cannot receive SMS", 422, messageBirdRefusal("10", "recipients"), wantProviderError{422, "10", false, true, "no valid recipient"}},
		{"10 on the originator: permanent", 422, messageBirdRefusal("10", "originator"), wantProviderError{422, "10", false, false, "originator"}},
		{"9 on the originator: permanent", 422, messageBirdRefusal("9", "originator"), wantProviderError{422, "9", false, false, "originator"}},
		{"the originator's error outweighs the number's", 422, messageBirdRefusal("9", "recipients", "10", "originator"), wantProviderError{422, "10", false, false, "originator"}},
		{"9 on another parameter: permanent", 422, messageBirdRefusal("9", "body"), wantProviderError{422, "9", false, false, "missing"}},
		{"25 not enough balance: permanent", 402, messageBirdRefusal("25", ""), wantProviderError{402, "25", false, false, "balance"}},
		{"20 not found: the base URL", 404, messageBirdRefusal("20", ""), wantProviderError{404, "20", false, false, "base URL"}},
		{"21 bad request: permanent", 400, messageBirdRefusal("21", ""), wantProviderError{400, "21", false, false, "malformed"}},
		{"99 internal error: temporary", 500, messageBirdRefusal("99", ""), wantProviderError{500, "99", true, false, "internal error"}},
		{"an undocumented code: permanent, pointing at the list", 422, messageBirdRefusal("42", ""), wantProviderError{422, "42", false, false, "api-errors"}},
		{"429 without a body: temporary", 429, "", wantProviderError{429, "", true, false, "Too Many Requests"}},
		{"503 of a proxy, not JSON: temporary", 503, "<html>hunter2</html>", wantProviderError{503, "", true, false, "Service Unavailable"}},
		{"no answer: temporary", 0, "", wantProviderError{0, "", true, false, "no answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := closedURL(t)
			if tt.status != 0 {
				base = newRecordingAPI(t, tt.status, tt.body).url
			}
			s := newMessageBird(t, sms.MessageBirdConfig{AccessKey: messageBirdKey, Originator: messageBirdOriginator, BaseURL: base})
			msg := loginMessage()

			err := s.Send(context.Background(), msg)

			checkProviderError(t, "messagebird", err, tt.want, msg.Code, msg.Text, "15551234567", messageBirdKey, "hunter")
		})
	}
}

func TestMessageBirdRefusesARecipientThatIsNoNumber(t *testing.T) {
	t.Parallel()
	api := newRecordingAPI(t, http.StatusCreated, messageBirdCreated)
	s := newMessageBird(t, sms.MessageBirdConfig{AccessKey: messageBirdKey, Originator: messageBirdOriginator, BaseURL: api.url})
	msg := loginMessage()
	msg.To = "+1 555 hunter2"

	err := s.Send(context.Background(), msg)

	checkProviderError(t, "messagebird", err, wantProviderError{0, "", false, false, "E.164"}, "hunter2", msg.Code)
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.reqs) != 0 {
		t.Errorf("MessageBird got %d requests, want none", len(api.reqs))
	}
}

func TestMessageBirdConfigValidate(t *testing.T) {
	t.Parallel()
	good := sms.MessageBirdConfig{AccessKey: messageBirdKey, Originator: messageBirdOriginator}
	with := func(change func(*sms.MessageBirdConfig)) sms.MessageBirdConfig {
		c := good
		change(&c)
		return c
	}
	tests := []struct {
		name   string
		config sms.MessageBirdConfig
		want   []string // the fields refused
	}{
		{"a sender ID", good, nil},
		{"a sender number", with(func(c *sms.MessageBirdConfig) { c.Originator = "+31612345678" }), nil},
		{"an http base URL on loopback", with(func(c *sms.MessageBirdConfig) { c.BaseURL = "http://127.0.0.2:9000/mb" }), nil},
		{"nothing", sms.MessageBirdConfig{}, []string{"AccessKey", "Originator"}},
		{"no access key", with(func(c *sms.MessageBirdConfig) { c.AccessKey = "" }), []string{"AccessKey"}},
		{"no originator", with(func(c *sms.MessageBirdConfig) { c.Originator = "" }), []string{"Originator"}},
		{"an originator of 12 characters", with(func(c *sms.MessageBirdConfig) { c.Originator = "AcmeOnlineCo" }), []string{"Originator"}},
		{"an http base URL to another host", with(func(c *sms.MessageBirdConfig) { c.BaseURL = "http://rest.messagebird.com/hunter2" }), []string{"BaseURL"}},
		{"a base URL with a fragment", with(func(c *sms.MessageBirdConfig) { c.BaseURL = "https://rest.messagebird.com/#hunter2" }), []string{"BaseURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.config.Validate()
			checkConfigErrors(t, "messagebird", err, tt.want, messageBirdKey, "hunter2")
			if _, nerr := sms.NewMessageBird(tt.config); (nerr == nil) != (err == nil) || (err != nil && nerr.Error() != err.Error()) {
				t.Errorf("NewMessageBird error = %v, want Validate's %v", nerr, err)
			}
		})
	}
}
