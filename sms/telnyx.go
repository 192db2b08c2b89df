package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Telnyx)(nil)

// DefaultTelnyxBaseURL is where Telnyx's API answers unless a
// TelnyxConfig names another base URL.
const DefaultTelnyxBaseURL = "https://api.telnyx.com"

// TelnyxConfig configures a Telnyx. APIKey is required, and From or
// MessagingProfileID (or both).
type TelnyxConfig struct {
	// APIKey is sent as the bearer token of every request.
	APIKey string

	// From is the sender: a number of the account in E.164, a short code
	// or an alphanumeric sender ID. Empty: Telnyx picks a number of the
	// messaging profile's pool.
	From string

	// MessagingProfileID names the messaging profile to send with. Telnyx
	// requires it with an alphanumeric sender ID and to send from the
	// profile's number pool (From empty); with a number in From it is
	// optional, and sent when set.
	MessagingProfileID string

	// BaseURL is the API's scheme and host, with no path: https, or http
	// to a loopback host (a local fake or relay). Empty:
	// DefaultTelnyxBaseURL.
	BaseURL string

	// Client sends the requests. Nil: NewHTTPClient(0), whose requests end
	// only with their context.
	Client *http.Client
}

// Validate reports each field of c that NewTelnyx refuses as a
// *ConfigError, joined with errors.Join; nil if NewTelnyx accepts c. The
// errors never contain the API key nor any part of the base URL.
func (c TelnyxConfig) Validate() error {
	var errs []error
	if c.APIKey == "" {
		errs = append(errs, &ConfigError{Provider: "telnyx", Field: "APIKey", Problem: "is required"})
	}
	if c.From == "" && c.MessagingProfileID == "" {
		errs = append(errs, &ConfigError{Provider: "telnyx", Field: "From", Problem: "is required unless MessagingProfileID is set"})
	}
	if c.BaseURL != "" {
		if err := CheckBaseURL(c.BaseURL); err != nil {
			errs = append(errs, &ConfigError{Provider: "telnyx", Field: "BaseURL", Problem: err.Error()})
		}
	}
	return errors.Join(errs...)
}

// Telnyx sends each message with one call to Telnyx's messaging API
// (POST /v2/messages). Build it with NewTelnyx; it is safe for concurrent
// use.
type Telnyx struct {
	url     string
	key     string
	from    string
	profile string
	client  *http.Client
}

// NewTelnyx returns a Telnyx for c. It returns the errors of c.Validate
// if c is not usable.
func NewTelnyx(c TelnyxConfig) (*Telnyx, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultTelnyxBaseURL
	}
	t := &Telnyx{
		url:     strings.TrimSuffix(base, "/") + "/v2/messages",
		key:     c.APIKey,
		from:    c.From,
		profile: c.MessagingProfileID,
		client:  c.Client,
	}
	if t.client == nil {
		t.client = NewHTTPClient(0)
	}
	return t, nil
}

// telnyxMessage is the body of a request to send an SMS.
type telnyxMessage struct {
	From               string `json:"from,omitempty"`
	MessagingProfileID string `json:"messaging_profile_id,omitempty"`
	To                 string `json:"to"`
	Text               string `json:"text"`
}

// telnyxErrors is the body of Telnyx's refusals. Only the code is read:
// title and detail may repeat the numbers.
type telnyxErrors struct {
	Errors []struct {
		Code json.RawMessage `json:"code"` // a string, as "40310"; a number is read too
	} `json:"errors"`
}

// Send asks Telnyx to send m.Text to m.To and returns nil once Telnyx has
// accepted it (any 2xx). Otherwise it returns a *ProviderError: Temporary
// for a 5xx, a 429, no answer and the documented transient refusals;
// Undeliverable (wrapping phoneauth.ErrCannotReceiveSMS) for a number
// Telnyx or the carrier reports invalid, not routable, not SMS-capable or
// opted out by STOP; permanent otherwise, with a Reason an operator can
// act on. Errors never contain the API key, the code or the text.
func (t *Telnyx) Send(ctx context.Context, m phoneauth.Message) error {
	body, err := json.Marshal(telnyxMessage{From: t.from, MessagingProfileID: t.profile, To: m.To, Text: m.Text})
	if err != nil {
		return fmt.Errorf("sms telnyx: encode: %w", err)
	}
	status, answer, err := post(ctx, t.client, "telnyx", t.url, "application/json", body, func(h http.Header) {
		h.Set("Authorization", "Bearer "+t.key)
		h.Set("Accept", "application/json")
	})
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 {
		return nil
	}
	var e telnyxErrors
	code := ""
	if json.Unmarshal(answer, &e) == nil && len(e.Errors) > 0 {
		code = strings.Trim(string(e.Errors[0].Code), `"`)
	}
	return telnyxError(status, code)
}

// telnyxCode is what one of Telnyx's error codes means for a send.
type telnyxCode struct {
	reason        string
	temporary     bool
	undeliverable bool
}

// telnyxCodes are the error codes of Telnyx's messaging reference that a
// send may get back, in its words: the 1xxxx of the API, the 40xxx of the
// carriers (answered at once when Telnyx already knows the outcome) and
// the 403xx of its own checks. A code not listed is judged by its status.
var telnyxCodes = map[string]telnyxCode{
	// The number cannot receive an SMS from us: neither a retry nor
	// another provider helps.
	"40001": {reason: "the number is a landline or not routable for SMS", undeliverable: true},
	"40008": {reason: "the carrier does not accept SMS for this number", undeliverable: true},
	"40012": {reason: "the carrier rejected the destination number", undeliverable: true},
	"40300": {reason: "the recipient replied STOP to the sending number, and must text START to it to receive again", undeliverable: true},
	"40310": {reason: "the number is not one Telnyx can send to", undeliverable: true},

	// Telnyx documents these as passing conditions.
	"10007": {reason: "Telnyx had an unexpected error", temporary: true},
	"10008": {reason: "Telnyx timed out", temporary: true},
	"10011": {reason: "too many requests for the account's rate limit", temporary: true},
	"40002": {reason: "a carrier's spam filter blocked the message for now", temporary: true},
	"40004": {reason: "the destination carrier rejected the message for an unknown reason", temporary: true},
	"40006": {reason: "the destination carrier is unavailable", temporary: true},
	"40011": {reason: "a carrier's rate limit was exceeded", temporary: true},

	// The account or its settings must change.
	"10009": {reason: "Telnyx refused the API key: check it"},
	"10010": {reason: "the API key may not send messages: check its permissions"},
	"40003": {reason: "carriers permanently block the sending number as spam: send from another number"},
	"40009": {reason: "the carrier refused the message body"},
	"40013": {reason: "the carrier refused the sending number: check that it is active and enabled for messaging"},
	// A 429 that a retry cannot get past before midnight UTC.
	"40333": {reason: "the messaging profile's daily spend limit is reached: raise it, or wait for its reset at midnight UTC"},
}

// telnyxError returns the *ProviderError of a refusal with status and
// Telnyx's error code ("" if the body had none).
func telnyxError(status int, code string) *ProviderError {
	if c, ok := telnyxCodes[code]; ok {
		return &ProviderError{
			Provider:      "telnyx",
			Status:        status,
			Code:          code,
			Reason:        c.reason,
			Temporary:     c.temporary,
			Undeliverable: c.undeliverable,
		}
	}
	return statusError("telnyx", status, code, refusalReason("Telnyx", status))
}
