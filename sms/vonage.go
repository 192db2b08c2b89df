package sms

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Vonage)(nil)

// DefaultVonageBaseURL is where Vonage's SMS API answers.
const DefaultVonageBaseURL = "https://rest.nexmo.com"

// VonageConfig configures a Vonage sender. APIKey, APISecret and From are
// required.
type VonageConfig struct {
	APIKey    string // the account's API key, from the Vonage dashboard
	APISecret string // the account's API secret

	// From is the sender: a Vonage number of the account, in E.164 (the
	// "+" may be left out: it is not sent), or an alphanumeric sender ID
	// of at most 11 characters where the destination allows one.
	From string

	// BaseURL is where the API answers: empty for DefaultVonageBaseURL;
	// https, or http to a loopback host (a local fake or relay).
	BaseURL string

	// Client sends the requests. Nil: NewHTTPClient(0), so that the
	// caller's context alone bounds each request.
	Client *http.Client
}

// Validate reports each field of c that NewVonage refuses as a
// *ConfigError, joined with errors.Join; nil if NewVonage accepts c. The
// errors never contain the credentials nor the base URL.
func (c VonageConfig) Validate() error {
	var errs []error
	add := func(field, problem string) {
		errs = append(errs, &ConfigError{Provider: "vonage", Field: field, Problem: problem})
	}
	if c.APIKey == "" {
		add("APIKey", "is required")
	}
	if c.APISecret == "" {
		add("APISecret", "is required")
	}
	if c.From == "" {
		add("From", "is required")
	} else if p := senderProblem(c.From); p != "" {
		add("From", p)
	}
	if c.BaseURL != "" {
		if err := CheckBaseURL(c.BaseURL); err != nil {
			add("BaseURL", err.Error())
		}
	}
	return errors.Join(errs...)
}

// Vonage sends each message with Vonage's SMS API (formerly Nexmo's).
// Build it with NewVonage; it is safe for concurrent use.
type Vonage struct {
	url    string
	key    string
	secret string
	from   string
	client *http.Client
}

// NewVonage returns a Vonage sender for c. It returns the errors of
// c.Validate if c is not usable.
func NewVonage(c VonageConfig) (*Vonage, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultVonageBaseURL
	}
	v := &Vonage{
		url:    strings.TrimRight(base, "/") + "/sms/json",
		key:    c.APIKey,
		secret: c.APISecret,
		from:   c.From,
		client: c.Client,
	}
	// Vonage writes numbers in E.164 without the "+".
	if digits, ok := strings.CutPrefix(v.from, "+"); ok && senderProblem(digits) == "" {
		v.from = digits
	}
	if v.client == nil {
		v.client = NewHTTPClient(0)
	}
	return v, nil
}

// vonageAnswer is the SMS API's answer: one entry per part of the
// message, each with a status, "0" for accepted.
type vonageAnswer struct {
	Messages []struct {
		Status string `json:"status"`
	} `json:"messages"`
}

// Send asks Vonage to send m.Text to m.To and returns nil once Vonage has
// accepted every part of the message. A text that GSM-7 cannot encode is
// sent with type=unicode, as Vonage requires; any other is sent as
// Vonage's default type, text. Vonage answers 200 whether or not it
// accepts, and says which in each part's status: every failure is a
// *ProviderError with that status as its Code, Temporary for no answer,
// a 5xx, a 429 and the statuses 1 (throttled), 5 (internal error) and 10
// (too many connections); Undeliverable, wrapping
// phoneauth.ErrCannotReceiveSMS, for 6 (unroutable number), 7 (number
// barred) and 33 (number de-activated); otherwise permanent, with a
// Reason saying what to fix. Errors never contain the credentials, the
// text or the code.
func (v *Vonage) Send(ctx context.Context, m phoneauth.Message) error {
	form := url.Values{
		"api_key":    {v.key},
		"api_secret": {v.secret},
		"from":       {v.from},
		"to":         {strings.TrimPrefix(m.To, "+")},
		"text":       {m.Text},
	}
	if !IsGSM7(m.Text) {
		form.Set("type", "unicode")
	}
	status, body, err := post(ctx, v.client, "vonage", v.url, "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		reason := ""
		if status == http.StatusUnauthorized {
			reason = vonageStatuses["4"].reason
		}
		return statusError("vonage", status, "", reason)
	}
	var answer vonageAnswer
	if err := json.Unmarshal(body, &answer); err != nil || len(answer.Messages) == 0 {
		// The message may have gone out: it is not tried again.
		return &ProviderError{
			Provider: "vonage",
			Status:   status,
			Reason:   "the answer holds no status per message, so whether the message was sent is unknown",
		}
	}
	for _, part := range answer.Messages {
		if part.Status != "0" {
			return vonageError(status, part.Status)
		}
	}
	return nil
}

// vonageStatus is what one of the SMS API's statuses means for a send.
type vonageStatus struct {
	reason        string
	temporary     bool
	undeliverable bool
}

// vonageStatuses are the statuses Vonage documents for the SMS API
// (https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms).
var vonageStatuses = map[string]vonageStatus{
	"1":  {reason: "sending faster than the account's throughput limit", temporary: true},
	"2":  {reason: "Vonage found a required parameter missing from the request"},
	"3":  {reason: "Vonage found a parameter invalid, most likely the From sender: check it"},
	"4":  {reason: "the API key or secret is wrong or disabled: check them in the Vonage dashboard"},
	"5":  {reason: "Vonage had an internal error", temporary: true},
	"6":  {reason: "Vonage cannot route a message to the number (unrecognized number prefix)", undeliverable: true},
	"7":  {reason: "the number is barred from receiving messages", undeliverable: true},
	"8":  {reason: "the Vonage account is suspended: contact Vonage support"},
	"9":  {reason: "the Vonage account has not enough credit: top it up"},
	"10": {reason: "too many connections to Vonage at once for the account", temporary: true},
	"11": {reason: "the Vonage account is not enabled for the SMS API over HTTP: ask Vonage support to enable it"},
	"12": {reason: "the message is longer than Vonage allows"},
	"14": {reason: "Vonage could not verify a request signature: the account requires signed requests, which this service does not make; allow the API secret in the Vonage dashboard's settings"},
	"15": {reason: "the From sender is not allowed for the number's destination (in North America it must be a Vonage number of the account): change it"},
	"22": {reason: "Vonage refused the network code"},
	"23": {reason: "Vonage refused the callback URL: check the delivery receipt webhook in the Vonage dashboard"},
	"29": {reason: "the Vonage account is a demo account, which sends only to the numbers whitelisted on it: add credit to the account"},
	"32": {reason: "the Vonage account requires signed requests, which this service does not make: allow the API secret in the Vonage dashboard's settings"},
	"33": {reason: "the number is de-activated", undeliverable: true},
}

// vonageError returns the *ProviderError of status code, not "0", of one
// part of a message, in an answer of HTTP status httpStatus.
func vonageError(httpStatus int, code string) *ProviderError {
	s, known := vonageStatuses[code]
	if !known {
		s.reason = "Vonage refused the message: see https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms"
		// The status is kept only as the short number Vonage documents:
		// anything else in its place is nothing to repeat in a log.
		if len(code) > 4 || strings.Trim(code, "0123456789") != "" {
			code = ""
		}
	}
	e := statusError("vonage", httpStatus, code, s.reason)
	e.Temporary = s.temporary
	e.Undeliverable = s.undeliverable
	return e
}
