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

var _ phoneauth.Sender = (*Infobip)(nil)

// InfobipConfig configures an Infobip. APIKey and BaseURL are required:
// every Infobip account has a base URL of its own.
type InfobipConfig struct {
	// APIKey is sent as "Authorization: App KEY".
	APIKey string

	// From is the sender ID, alphanumeric or numeric. Empty: the field is
	// left out, and Infobip sends with the account's default sender.
	From string

	// BaseURL is the account's API base URL, as https://xxxxx.api.infobip.com
	// (shown on the account's home page): https, or http to a loopback
	// host (a local fake or relay).
	BaseURL string

	// Client sends the requests. Nil: NewHTTPClient(0), whose requests end
	// only with their context.
	Client *http.Client
}

// Validate reports each field of c that NewInfobip refuses as a
// *ConfigError, joined with errors.Join; nil if NewInfobip accepts c. The
// errors never contain the API key nor any part of the base URL.
func (c InfobipConfig) Validate() error {
	var errs []error
	if c.APIKey == "" {
		errs = append(errs, &ConfigError{Provider: "infobip", Field: "APIKey", Problem: "is required"})
	}
	if c.BaseURL == "" {
		errs = append(errs, &ConfigError{Provider: "infobip", Field: "BaseURL", Problem: "is required"})
	} else if err := CheckBaseURL(c.BaseURL); err != nil {
		errs = append(errs, &ConfigError{Provider: "infobip", Field: "BaseURL", Problem: err.Error()})
	}
	return errors.Join(errs...)
}

// Infobip sends each message with one call to Infobip's SMS API (POST
// /sms/2/text/advanced). Build it with NewInfobip; it is safe for
// concurrent use.
type Infobip struct {
	url    string
	key    string
	from   string
	client *http.Client
}

// NewInfobip returns an Infobip for c. It returns the errors of
// c.Validate if c is not usable.
func NewInfobip(c InfobipConfig) (*Infobip, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ib := &Infobip{
		url:    strings.TrimSuffix(c.BaseURL, "/") + "/sms/2/text/advanced",
		key:    c.APIKey,
		from:   c.From,
		client: c.Client,
	}
	if ib.client == nil {
		ib.client = NewHTTPClient(0)
	}
	return ib, nil
}

// infobipRequest is the body of a request: one message to one
// destination.
type infobipRequest struct {
	Messages []infobipMessage `json:"messages"`
}

type infobipMessage struct {
	Destinations []infobipDestination `json:"destinations"`
	From         string               `json:"from,omitempty"`
	Text         string               `json:"text"`
}

type infobipDestination struct {
	// To is the number in international format without the "+", as
	// Infobip writes it: 41793026727.
	To string `json:"to"`
}

// infobipAnswer is what Infobip answers: on success each message's
// status; on a refusal of the request (4xx, 5xx) its requestError. Only
// the names are read: the texts may repeat the numbers.
type infobipAnswer struct {
	Messages []struct {
		Status struct {
			GroupName string `json:"groupName"`
			Name      string `json:"name"`
		} `json:"status"`
	} `json:"messages"`
	RequestError struct {
		ServiceException struct {
			MessageID string `json:"messageId"`
		} `json:"serviceException"`
	} `json:"requestError"`
}

// Send asks Infobip to send m.Text to m.To and returns nil once Infobip
// has accepted it: a 2xx whose message status is in the PENDING or
// DELIVERED group. Otherwise it returns a *ProviderError: Temporary for a
// 5xx, a 429, no answer and REJECTED_SYSTEM_ERROR; Undeliverable
// (wrapping phoneauth.ErrCannotReceiveSMS) for a destination Infobip
// reports invalid, unreachable, blocklisted or on Do Not Disturb;
// permanent otherwise (no credit, unregistered sender, ...), with a
// Reason an operator can act on. Errors never contain the API key, the
// code or the text.
func (ib *Infobip) Send(ctx context.Context, m phoneauth.Message) error {
	body, err := json.Marshal(infobipRequest{Messages: []infobipMessage{{
		Destinations: []infobipDestination{{To: strings.TrimPrefix(m.To, "+")}},
		From:         ib.from,
		Text:         m.Text,
	}}})
	if err != nil {
		return fmt.Errorf("sms infobip: encode: %w", err)
	}
	status, raw, err := post(ctx, ib.client, "infobip", ib.url, "application/json", body, func(h http.Header) {
		h.Set("Authorization", "App "+ib.key)
		h.Set("Accept", "application/json")
	})
	if err != nil {
		return err
	}
	var answer infobipAnswer
	decodeErr := json.Unmarshal(raw, &answer)
	if status < 200 || status > 299 {
		code := answer.RequestError.ServiceException.MessageID
		return statusError("infobip", status, code, refusalReason("Infobip", status))
	}
	if decodeErr != nil || len(answer.Messages) == 0 {
		// The message may well be on its way: a retry could send it
		// twice.
		return &ProviderError{Provider: "infobip", Status: status, Reason: "Infobip answered without a status for the message"}
	}
	s := answer.Messages[0].Status
	switch s.GroupName {
	case "PENDING", "DELIVERED":
		return nil
	}
	return infobipError(status, s.GroupName, s.Name)
}

// infobipStatus is what one of Infobip's message statuses means for a
// send.
type infobipStatus struct {
	reason        string
	temporary     bool
	undeliverable bool
}

// infobipStatuses are the statuses of Infobip's reference (groups
// REJECTED and UNDELIVERABLE) that a send may get back at once, by name:
// their ids are not unique across channels. A status not listed is
// permanent.
var infobipStatuses = map[string]infobipStatus{
	// The number cannot receive an SMS from us.
	"REJECTED_PREFIX_MISSING":          {reason: "the number's prefix or length matches no network", undeliverable: true},
	"REJECTED_DESTINATION":             {reason: "the number's prefix matches no mobile operator", undeliverable: true},
	"REJECTED_DND":                     {reason: "the recipient subscribes to Do Not Disturb", undeliverable: true},
	"REJECTED_DESTINATION_BLOCKLISTED": {reason: "the number is blocklisted, by its operator or on the account", undeliverable: true},
	"UNDELIVERABLE_NOT_DELIVERED":      {reason: "the number is invalid or unreachable", undeliverable: true},

	// Infobip asks to try again.
	"REJECTED_SYSTEM_ERROR":           {reason: "Infobip had a system error", temporary: true},
	"UNDELIVERABLE_REJECTED_PLATFORM": {reason: "Infobip rejected the request as invalid or is unavailable for now", temporary: true},

	// The account or its settings must change.
	"REJECTED_NETWORK":                    {reason: "the number's network is out of the account's coverage: ask Infobip to set it up"},
	"REJECTED_SOURCE":                     {reason: "the sender ID is not registered on the account, which accepts only registered ones"},
	"REJECTED_NOT_ENOUGH_CREDITS":         {reason: "the account is out of credit: top it up"},
	"REJECTED_SENDER":                     {reason: "the sender ID is blocklisted on the account"},
	"REJECTED_PREPAID_PACKAGE_EXPIRED":    {reason: "the account's credit is past its validity: top it up"},
	"REJECTED_DESTINATION_NOT_REGISTERED": {reason: "the account may send only to its registered test number: ask Infobip to lift the limit"},
	"REJECTED_ROUTE_NOT_AVAILABLE":        {reason: "the account has no route to send on: ask Infobip to set one up"},
	"REJECTED_FLOODING_FILTER":            {reason: "Infobip's anti-flooding filter stopped the message: the number got too many this hour"},
	"REJECTED_MESSAGE_TOO_LONG":           {reason: "the message is longer than Infobip accepts"},
	"SIGNALS_BLOCKED":                     {reason: "Infobip's anti-fraud filter blocked the message"},
	"MISSING_TO":                          {reason: "Infobip found no destination in the request"},
}

// infobipError returns the *ProviderError of a message that Infobip
// answered with status name of group, outside PENDING and DELIVERED.
func infobipError(status int, group, name string) *ProviderError {
	s, ok := infobipStatuses[name]
	if !ok {
		s.reason = "Infobip did not accept the message"
		switch group {
		case "REJECTED", "UNDELIVERABLE", "EXPIRED":
			s.reason += " (status group " + group + ")"
		}
	}
	return &ProviderError{
		Provider:      "infobip",
		Status:        status,
		Code:          name,
		Reason:        s.reason,
		Temporary:     s.temporary,
		Undeliverable: s.undeliverable,
	}
}
