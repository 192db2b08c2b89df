package sms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Twilio)(nil)

// DefaultTwilioBaseURL is where Twilio's REST API answers.
const DefaultTwilioBaseURL = "https://api.twilio.com"

// TwilioConfig configures a Twilio sender. AccountSID, AuthToken and one
// of From and MessagingServiceSID are required.
type TwilioConfig struct {
	// AccountSID names the account the messages are sent from, and is
	// part of every request's path: "AC" and 32 hexadecimal digits.
	AccountSID string

	// AuthToken is the account's auth token; with APIKeySID, the API
	// key's secret.
	AuthToken string

	// APIKeySID, if set, is the SID of an API key ("SK" and 32
	// hexadecimal digits) that requests authenticate with instead of the
	// account's own token, which can then stay out of this service.
	APIKeySID string

	// From is the sender: a Twilio phone number of the account in E.164,
	// a short code, or an alphanumeric sender ID. Set it or
	// MessagingServiceSID, not both.
	From string

	// MessagingServiceSID ("MG" and 32 hexadecimal digits) lets the
	// Messaging Service pick the sender from its pool.
	MessagingServiceSID string

	// BaseURL is where the API answers: empty for DefaultTwilioBaseURL;
	// https, or http to a loopback host (a local fake or relay).
	BaseURL string

	// Client sends the requests. Nil: NewHTTPClient(0), so that the
	// caller's context alone bounds each request.
	Client *http.Client
}

// sidProblem returns what is wrong with sid, a Twilio SID of the kind
// that starts with prefix, as "AC": empty if nothing.
func sidProblem(sid, prefix, kind string) string {
	rest, ok := strings.CutPrefix(sid, prefix)
	if ok && len(rest) == 32 && strings.Trim(rest, "0123456789abcdefABCDEF") == "" {
		return ""
	}
	return "is not " + kind + " (" + prefix + " and 32 hexadecimal digits, as the Twilio console shows it)"
}

// Validate reports each field of c that NewTwilio refuses as a
// *ConfigError, joined with errors.Join; nil if NewTwilio accepts c. With
// both From and MessagingServiceSID set, the error is on
// MessagingServiceSID, with the problem "is set as well as From". The
// errors never contain the credentials nor the base URL.
func (c TwilioConfig) Validate() error {
	var errs []error
	add := func(field, problem, allowedBy string) {
		errs = append(errs, &ConfigError{Provider: "twilio", Field: field, Problem: problem, AllowedBy: allowedBy})
	}
	switch {
	case c.AccountSID == "":
		add("AccountSID", "is required", "")
	case sidProblem(c.AccountSID, "AC", "an Account SID") != "":
		add("AccountSID", sidProblem(c.AccountSID, "AC", "an Account SID"), "")
	}
	if c.AuthToken == "" {
		add("AuthToken", "is required", "")
	}
	if c.APIKeySID != "" {
		if p := sidProblem(c.APIKeySID, "SK", "an API key SID"); p != "" {
			add("APIKeySID", p, "")
		}
	}
	switch {
	case c.From == "" && c.MessagingServiceSID == "":
		add("From", "is required", "MessagingServiceSID")
	case c.From != "" && c.MessagingServiceSID != "":
		add("MessagingServiceSID", "is set as well as From: set one of them", "")
	case c.MessagingServiceSID != "":
		if p := sidProblem(c.MessagingServiceSID, "MG", "a Messaging Service SID"); p != "" {
			add("MessagingServiceSID", p, "")
		}
	}
	if c.BaseURL != "" {
		if err := CheckBaseURL(c.BaseURL); err != nil {
			add("BaseURL", err.Error(), "")
		}
	}
	return errors.Join(errs...)
}

// Twilio sends each message with Twilio's Programmable Messaging API.
// Build it with NewTwilio; it is safe for concurrent use.
type Twilio struct {
	url       string // the Messages resource of the account
	basicAuth string // the Authorization header: the API key SID or the Account SID, and the secret
	from      string
	service   string
	client    *http.Client
}

// NewTwilio returns a Twilio sender for c. It returns the errors of
// c.Validate if c is not usable.
func NewTwilio(c TwilioConfig) (*Twilio, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultTwilioBaseURL
	}
	user := c.AccountSID
	if c.APIKeySID != "" {
		user = c.APIKeySID
	}
	t := &Twilio{
		url:       strings.TrimRight(base, "/") + "/2010-04-01/Accounts/" + c.AccountSID + "/Messages.json",
		basicAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+c.AuthToken)),
		from:      c.From,
		service:   c.MessagingServiceSID,
		client:    c.Client,
	}
	if t.client == nil {
		t.client = NewHTTPClient(0)
	}
	return t, nil
}

// Send asks Twilio to send m.Text to m.To and returns nil once Twilio has
// created the message (queued it for delivery). Every failure is a
// *ProviderError: Temporary for no answer, a 5xx, a 429 and Twilio's
// rate-limit and queue-full errors (20429, 21611); Undeliverable,
// wrapping phoneauth.ErrCannotReceiveSMS, for the errors that say the
// number cannot get the message (21211, 21612, 21614, 21610, 21268); and
// otherwise permanent, with a Reason saying what to fix. Errors never
// contain the credentials, the text or the code.
func (t *Twilio) Send(ctx context.Context, m phoneauth.Message) error {
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if t.service != "" {
		form.Set("MessagingServiceSid", t.service)
	} else {
		form.Set("From", t.from)
	}
	status, body, err := post(ctx, t.client, "twilio", t.url, "application/x-www-form-urlencoded", []byte(form.Encode()), func(h http.Header) {
		h.Set("Authorization", t.basicAuth)
	})
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 {
		return nil
	}
	// Twilio's error: {"code": 21211, "message": "...", "more_info":
	// "...", "status": 400}. The message is not kept: it may quote the
	// number.
	var answer struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(body, &answer)
	return twilioError(status, answer.Code)
}

// twilioCode is what one of Twilio's error codes means for a send.
type twilioCode struct {
	reason        string
	temporary     bool
	undeliverable bool
}

// twilioCodes are the error codes Twilio documents for creating a message
// (https://www.twilio.com/docs/api/errors) that call for more than the
// HTTP status says.
var twilioCodes = map[int]twilioCode{
	20003: {reason: "authentication failed: check the Account SID and auth token, or the API key SID and its secret"},
	20404: {reason: "Twilio knows no such account: check the Account SID"},
	20429: {reason: "too many requests at once for the account", temporary: true},
	21211: {reason: "the number is not a valid phone number", undeliverable: true},
	21212: {reason: "the From number is not a valid phone number, short code or sender ID: check it"},
	21268: {reason: "the number is a premium-rate number, which Twilio does not send to", undeliverable: true},
	21408: {reason: "the account's SMS geographic permissions exclude the number's country: enable the country in the Twilio console (Messaging, Settings, Geo permissions), or leave it out of the SMS regions the service accepts"},
	21606: {reason: "the From number is not an SMS-capable number of the account: use one of its SMS numbers"},
	21608: {reason: "a trial account sends only to the numbers verified on it: upgrade the Twilio account"},
	21610: {reason: "the recipient replied STOP to this sender, and receives nothing from it until they reply START", undeliverable: true},
	21611: {reason: "the sender's queue at Twilio is full: send less at once, or add senders to a Messaging Service", temporary: true},
	21612: {reason: "Twilio cannot reach the number by SMS from this sender", undeliverable: true},
	21614: {reason: "the number is not a mobile number that can receive SMS", undeliverable: true},
	21617: {reason: "the message is longer than Twilio's 1600 characters"},
}

// twilioError returns the *ProviderError of a Twilio answer of status
// that is not a success, with error code code (0 if none).
func twilioError(status, code int) *ProviderError {
	c, known := twilioCodes[code]
	switch {
	case known:
	case code != 0:
		c.reason = "Twilio refused the message: see https://www.twilio.com/docs/errors/" + strconv.Itoa(code)
	case status == http.StatusUnauthorized:
		c = twilioCodes[20003]
	}
	codeText := ""
	if code != 0 {
		codeText = strconv.Itoa(code)
	}
	e := statusError("twilio", status, codeText, c.reason)
	e.Temporary = (e.Temporary || c.temporary) && !c.undeliverable
	e.Undeliverable = c.undeliverable
	return e
}
