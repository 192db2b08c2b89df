package sms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Webhook)(nil)

// DefaultWebhookTimeout bounds one request of a Webhook built without its
// own client.
const DefaultWebhookTimeout = 10 * time.Second

// secretPrefix marks a Standard Webhooks secret: the base64 of the key.
const secretPrefix = "whsec_"

// MinWebhookSecretLen is the shortest signing key NewWebhook accepts, in
// bytes: the least Standard Webhooks allows (24 to 64), as a shorter HMAC
// key is easier to guess than the signatures are to forge.
const MinWebhookSecretLen = 24

// WebhookConfig configures a Webhook. Only URL is required.
type WebhookConfig struct {
	// URL receives the messages: https, or http to a loopback host
	// (127.0.0.0/8, ::1, localhost) unless AllowHTTP is set. The
	// messages carry the codes, which must not cross a network in clear.
	URL string

	// AllowHTTP accepts an http URL to a host that is not loopback, for a
	// gateway reached over a network that is private by other means.
	AllowHTTP bool

	// Secret signs each request per Standard Webhooks. A secret written
	// "whsec_" + base64 (the spec's form) is decoded, and the decoded
	// bytes are the key; any other secret is used as the key byte for
	// byte. The key must be at least MinWebhookSecretLen bytes. Empty:
	// requests are not signed.
	Secret string

	// Client sends the requests. Nil: a client with DefaultWebhookTimeout
	// that does not follow redirects and ignores the proxy variables of
	// the environment (HTTP_PROXY, HTTPS_PROXY), so a message (code
	// included) never goes anywhere but to the URL configured.
	Client *http.Client

	// Now is the clock of the webhook-timestamp header. Nil: time.Now.
	Now func() time.Time
}

// Webhook sends each message as a JSON POST to a gateway that delivers
// the SMS, signed per Standard Webhooks (https://www.standardwebhooks.com)
// when a secret is configured. Build it with NewWebhook; it is safe for
// concurrent use.
type Webhook struct {
	url      string
	endpoint string // scheme and host only, for error messages
	key      []byte // nil: do not sign
	client   *http.Client
	now      func() time.Time
}

// ConfigError says which field of a WebhookConfig NewWebhook refuses, so
// that a caller reading the configuration from somewhere (environment
// variables, a file) can name the setting behind it.
type ConfigError struct {
	// Provider names the provider whose configuration it is, as
	// "twilio"; empty for the webhook.
	Provider string
	Field    string // the config's field, as "URL" or "Secret"
	Problem  string // what is wrong, such as "is required"
	// AllowedBy is the WebhookConfig field that, set, accepts the value
	// after all ("AllowHTTP"); empty if none does.
	AllowedBy string
}

func (e *ConfigError) Error() string {
	provider := e.Provider
	if provider == "" {
		provider = "webhook"
	}
	msg := "sms " + provider + ": " + e.Field + " " + e.Problem
	if e.AllowedBy != "" {
		msg += " (or set " + e.AllowedBy + ")"
	}
	return msg
}

// Validate reports each field of c that NewWebhook refuses as a
// *ConfigError, joined with errors.Join; nil if NewWebhook accepts c. URL
// must be an absolute https URL with a host, or http to a loopback host
// (any host with AllowHTTP); Secret, if set, must be a key of at least
// MinWebhookSecretLen bytes, and with the whsec_ prefix valid base64 of
// one. The errors never contain the secret nor any part of the URL, which
// may carry credentials.
func (c WebhookConfig) Validate() error {
	_, _, err := c.parse()
	return err
}

// parse returns c's URL and signing key (nil: do not sign), or the
// errors Validate documents.
func (c WebhookConfig) parse() (*url.URL, []byte, error) {
	var errs []error
	// url.Parse's errors are not kept: they repeat the raw URL.
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, &ConfigError{Field: "URL", Problem: "is required"})
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		errs = append(errs, &ConfigError{Field: "URL", Problem: "must be an absolute http:// or https:// URL"})
	case u.Scheme == "http" && !c.AllowHTTP && !loopback(u.Hostname()):
		errs = append(errs, &ConfigError{
			Field:     "URL",
			Problem:   "is http:// to a host that is not loopback, so codes would cross the network in clear: use https://",
			AllowedBy: "AllowHTTP",
		})
	}
	var key []byte
	if rest, ok := strings.CutPrefix(c.Secret, secretPrefix); ok {
		key, err = base64.StdEncoding.DecodeString(rest)
		switch {
		case err != nil || len(key) == 0:
			errs = append(errs, &ConfigError{Field: "Secret", Problem: "starts with " + secretPrefix + " but the rest is not base64 of a key"})
		case len(key) < MinWebhookSecretLen:
			errs = append(errs, &ConfigError{Field: "Secret", Problem: fmt.Sprintf("holds a key of %d bytes; it must be at least %d bytes", len(key), MinWebhookSecretLen)})
		}
	} else if c.Secret != "" {
		key = []byte(c.Secret)
		if len(key) < MinWebhookSecretLen {
			errs = append(errs, &ConfigError{Field: "Secret", Problem: fmt.Sprintf("is %d bytes; it must be at least %d bytes", len(key), MinWebhookSecretLen)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return u, key, nil
}

// NewWebhook returns a Webhook for c. It returns the errors of
// c.Validate if c is not usable.
func NewWebhook(c WebhookConfig) (*Webhook, error) {
	u, key, err := c.parse()
	if err != nil {
		return nil, err
	}

	// Webhook URLs often carry a token in the path or query, so errors
	// name the scheme and host only.
	w := &Webhook{
		url:      u.String(),
		endpoint: u.Scheme + "://" + u.Host,
		key:      key,
		client:   c.Client,
		now:      c.Now,
	}
	if w.client == nil {
		w.client = NewHTTPClient(DefaultWebhookTimeout)
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w, nil
}

// payload is the JSON body of a request.
type payload struct {
	To        string `json:"to"`
	Message   string `json:"message"`
	Code      string `json:"code"`
	Purpose   string `json:"purpose"`
	ExpiresIn int64  `json:"expires_in"` // whole seconds, rounded down
}

// Send POSTs m to the gateway and returns nil if it answers 2xx. A 422
// says the gateway cannot deliver to the number: the error then wraps
// phoneauth.ErrCannotReceiveSMS. It returns an error if m's purpose is not
// register, login, delete or phone, and otherwise a *ProviderError: if the
// request cannot be sent, if ctx ends or the client's timeout passes
// first (wrapping the cause: context.Canceled, a net.Error, ...), or if
// the gateway answers any other status (named in the error; a 5xx or a
// 429 is Temporary, see Retryable). Errors never contain the code, the
// secret, or the URL's credentials, path or query.
func (w *Webhook) Send(ctx context.Context, m phoneauth.Message) error {
	switch m.Purpose {
	case phoneauth.PurposeRegister, phoneauth.PurposeLogin, phoneauth.PurposeDelete, phoneauth.PurposePhone:
	default:
		return fmt.Errorf("sms webhook: unknown purpose %q", m.Purpose)
	}
	body, err := json.Marshal(payload{
		To:        m.To,
		Message:   m.Text,
		Code:      m.Code,
		Purpose:   string(m.Purpose),
		ExpiresIn: int64(m.ExpiresIn / time.Second),
	})
	if err != nil {
		return fmt.Errorf("sms webhook: encode: %w", err)
	}
	status, _, err := post(ctx, w.client, "webhook", w.url, "application/json", body, func(h http.Header) {
		if w.key == nil {
			return
		}
		// One id per message, the same for each try: the gateway can
		// tell a retry from a new message.
		id := "msg_" + m.ID
		if m.ID == "" {
			id = "msg_" + rand.Text()
		}
		ts := strconv.FormatInt(w.now().Unix(), 10)
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sign(w.key, id, ts, body))
	})
	if err != nil {
		return err
	}
	// The body is not quoted in the error: a gateway may echo the code.
	switch {
	case status == http.StatusUnprocessableEntity:
		e := statusError("webhook", status, "", w.endpoint+" cannot deliver to this number")
		e.Undeliverable = true
		return e
	case status < 200 || status > 299:
		return statusError("webhook", status, "", w.endpoint+" answered "+http.StatusText(status))
	}
	return nil
}

// sign returns the webhook-signature header value of Standard Webhooks:
// "v1," and the base64 HMAC-SHA256 under key of id.timestamp.body.
func sign(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
