package sms

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*MessageBird)(nil)

// DefaultMessageBirdBaseURL is where MessageBird's REST API answers.
const DefaultMessageBirdBaseURL = "https://rest.messagebird.com"

// MessageBirdConfig configures a MessageBird sender. AccessKey and
// Originator are required.
type MessageBirdConfig struct {
	AccessKey string // a live access key, from the MessageBird dashboard

	// Originator is the sender: a phone number with its country code, or
	// an alphanumeric sender ID of at most 11 characters.
	Originator string

	// BaseURL is where the API answers: empty for
	// DefaultMessageBirdBaseURL; https, or http to a loopback host (a
	// local fake or relay).
	BaseURL string

	// Client sends the requests. Nil: NewHTTPClient(0), so that the
	// caller's context alone bounds each request.
	Client *http.Client
}

// Validate reports each field of c that NewMessageBird refuses as a
// *ConfigError, joined with errors.Join; nil if NewMessageBird accepts c.
// The errors never contain the access key nor the base URL.
func (c MessageBirdConfig) Validate() error {
	var errs []error
	add := func(field, problem string) {
		errs = append(errs, &ConfigError{Provider: "messagebird", Field: field, Problem: problem})
	}
	if c.AccessKey == "" {
		add("AccessKey", "is required")
	}
	if c.Originator == "" {
		add("Originator", "is required")
	} else if p := senderProblem(c.Originator); p != "" {
		add("Originator", p)
	}
	if c.BaseURL != "" {
		if err := CheckBaseURL(c.BaseURL); err != nil {
			add("BaseURL", err.Error())
		}
	}
	return errors.Join(errs...)
}

// MessageBird sends each message with MessageBird's (now Bird's) SMS
// Messaging API. Build it with NewMessageBird; it is safe for concurrent
// use.
type MessageBird struct {
	url        string
	auth       string // the Authorization header
	originator string
	client     *http.Client
}

// NewMessageBird returns a MessageBird sender for c. It returns the
// errors of c.Validate if c is not usable.
func NewMessageBird(c MessageBirdConfig) (*MessageBird, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultMessageBirdBaseURL
	}
	b := &MessageBird{
		url:        strings.TrimRight(base, "/") + "/messages",
		auth:       "AccessKey " + c.AccessKey,
		originator: c.Originator,
		client:     c.Client,
	}
	if b.client == nil {
		b.client = NewHTTPClient(0)
	}
	return b, nil
}

// messageBirdMessage is the JSON body that creates a message.
type messageBirdMessage struct {
	Originator string        `json:"originator"`
	Recipients []json.Number `json:"recipients"` // numbers with their country code, as JSON numbers
	Body       string        `json:"body"`
	Datacoding string        `json:"datacoding,omitempty"` // "unicode", or empty for the default, plain
}

// messageBirdErrors is the body of an error answer.
type messageBirdErrors struct {
	Errors []struct {
		Code      int    `json:"code"`
		Parameter string `json:"parameter"`
	} `json:"errors"`
}

// Send asks MessageBird to send m.Text to m.To and returns nil once
// MessageBird has created the message. A text that GSM-7 cannot encode is
// sent with datacoding unicode, as MessageBird requires; any other with
// its default, plain. Every failure is a *ProviderError whose Code is the
// first telling code of the answer's errors: Temporary for no answer, a
// 5xx, a 429 and code 99 (internal error); Undeliverable, wrapping
// phoneauth.ErrCannotReceiveSMS, for code 9 or 10 on the recipients (no
// valid recipient: the number is not one MessageBird can send to);
// otherwise permanent, with a Reason saying what to fix. Errors never
// contain the access key, the text or the code.
func (b *MessageBird) Send(ctx context.Context, m phoneauth.Message) error {
	digits := strings.TrimPrefix(m.To, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return &ProviderError{Provider: "messagebird", Reason: "the recipient is not a number in E.164"}
	}
	msg := messageBirdMessage{
		Originator: b.originator,
		Recipients: []json.Number{json.Number(digits)},
		Body:       m.Text,
	}
	if !IsGSM7(m.Text) {
		msg.Datacoding = "unicode"
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return &ProviderError{Provider: "messagebird", Reason: "encoding the request", Err: err}
	}
	status, answer, err := post(ctx, b.client, "messagebird", b.url, "application/json", body, func(h http.Header) {
		h.Set("Authorization", b.auth)
	})
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 {
		return nil
	}
	var errs messageBirdErrors
	_ = json.Unmarshal(answer, &errs)
	// The first error that is not about the number decides: an operator's
	// mistake must not pass for every user's number being wrong.
	var chosen *messageBirdCode
	code := 0
	for _, e := range errs.Errors {
		c := messageBirdMeaning(e.Code, e.Parameter)
		if chosen == nil || (chosen.undeliverable && !c.undeliverable) {
			chosen, code = &c, e.Code
		}
	}
	if chosen == nil {
		reason := ""
		if status == http.StatusUnauthorized {
			reason = messageBirdMeaning(2, "").reason
		}
		return statusError("messagebird", status, "", reason)
	}
	e := statusError("messagebird", status, strconv.Itoa(code), chosen.reason)
	e.Temporary = (e.Temporary || chosen.temporary) && !chosen.undeliverable
	e.Undeliverable = chosen.undeliverable
	return e
}

// messageBirdCode is what one of MessageBird's error codes means for a
// send.
type messageBirdCode struct {
	reason        string
	temporary     bool
	undeliverable bool
}

// messageBirdMeaning returns what MessageBird's error code means, on
// parameter (as "recipients"; empty if it names none), per MessageBird's
// documented codes: 2 request not allowed (the access key), 9 missing
// parameter, 10 invalid parameter, 20 not found, 21 bad request, 25 not
// enough balance, 98 API not found, 99 internal error.
func messageBirdMeaning(code int, parameter string) messageBirdCode {
	recipients := parameter == "recipients" || parameter == "recipient"
	switch {
	case code == 2:
		return messageBirdCode{reason: "the access key is wrong, or not a live key: check it in the MessageBird dashboard"}
	case (code == 9 || code == 10) && recipients:
		return messageBirdCode{reason: "MessageBird found no valid recipient in the number", undeliverable: true}
	case (code == 9 || code == 10) && parameter == "originator":
		return messageBirdCode{reason: "MessageBird refused the originator: use a phone number, or a sender ID of at most 11 letters and digits"}
	case code == 9:
		return messageBirdCode{reason: "MessageBird found a required parameter missing"}
	case code == 10:
		return messageBirdCode{reason: "MessageBird found a parameter invalid"}
	case code == 20 || code == 98:
		return messageBirdCode{reason: "MessageBird knows no such endpoint: check the base URL"}
	case code == 21:
		return messageBirdCode{reason: "MessageBird refused the request as malformed"}
	case code == 25:
		return messageBirdCode{reason: "the MessageBird account has not enough balance: top it up"}
	case code == 99:
		return messageBirdCode{reason: "MessageBird had an internal error", temporary: true}
	}
	return messageBirdCode{reason: "MessageBird refused the message: see https://developers.messagebird.com/api/#api-errors"}
}
