package sms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/phoneauth/phoneauth"
)

// maxBody bounds how much of a provider's answer is read: enough for any
// documented answer, so the connection can be reused, without letting a
// provider (or something posing as one) keep us reading.
const maxBody = 64 << 10

// ProviderError is a provider's refusal of a message, or a failure to get
// its answer. It never holds the code, the text or a credential: Reason is
// written for the log.
type ProviderError struct {
	Provider string // the provider's name, as "twilio"
	Status   int    // the HTTP status of its answer; 0 if there was none
	Code     string // the provider's own error code, if it gave one
	Reason   string // what went wrong, in words, for the log

	// Temporary says a retry may succeed: a timeout, a connection error,
	// a 5xx or a 429.
	Temporary bool

	// Undeliverable says the provider reports the number as invalid or
	// unreachable: the error then wraps phoneauth.ErrCannotReceiveSMS, and
	// neither a retry nor another provider is tried.
	Undeliverable bool

	Err error // the cause, such as a net.Error; nil if none
}

func (e *ProviderError) Error() string {
	code := loggable(e.Code)
	var b strings.Builder
	b.WriteString("sms ")
	b.WriteString(e.Provider)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "answered %d", e.Status)
		if code != "" {
			b.WriteString(" code " + code)
		}
		if e.Reason != "" {
			b.WriteString(": ")
		}
	} else if code != "" {
		b.WriteString("code " + code + ": ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause and, for an undeliverable number,
// phoneauth.ErrCannotReceiveSMS.
func (e *ProviderError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Undeliverable {
		errs = append(errs, phoneauth.ErrCannotReceiveSMS)
	}
	return errs
}

// loggable returns a provider's error code as a log line may carry it:
// letters, digits, '_', '-' and '.', at most 40; anything else the
// provider sent (its answer is not ours to trust) is replaced by '?'.
func loggable(code string) string {
	if len(code) > 40 {
		code = code[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r == '_' || r == '-' || r == '.' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return r
		}
		return '?'
	}, code)
}

// statusError returns the ProviderError of an HTTP answer that is not a
// success: temporary for a 5xx and a 429, which a retry may get past.
// code and reason are what the provider's body says, if anything.
func statusError(provider string, status int, code, reason string) *ProviderError {
	if reason == "" {
		reason = http.StatusText(status)
	}
	return &ProviderError{
		Provider:  provider,
		Status:    status,
		Code:      code,
		Reason:    reason,
		Temporary: status >= 500 || status == http.StatusTooManyRequests,
	}
}

// Retryable reports whether a send that failed with err may succeed if
// tried again: a *ProviderError marked Temporary, or a timeout or
// connection error of the network that no provider answered. A send
// stopped because its caller went away is not retried.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if pe, ok := errors.AsType[*ProviderError](err); ok {
		return pe.Temporary && !pe.Undeliverable
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF)
}

// NewHTTPClient returns the client the providers send with when none is
// configured: at most timeout per request (0: only the context's
// deadline), no redirects followed, no proxy from the environment
// (HTTP_PROXY, HTTPS_PROXY), so a message (code included) never goes
// anywhere but to the endpoint configured, and enough idle connections
// kept per host that a busy service does not open one per message.
func NewHTTPClient(timeout time.Duration) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// A proxy variable set for other programs on the machine must not
	// route codes through a host nobody configured for them.
	transport.Proxy = nil
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = 0
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// CheckBaseURL returns an error unless raw is a provider's base URL that
// the providers accept: an absolute https URL with a host, or http to a
// loopback host (a local fake or relay), with no query or fragment. Its
// text is a predicate on the URL, to follow the name of the setting that
// holds it, and it never repeats the URL, which may carry credentials.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		return errors.New("must be an absolute https:// URL")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return errors.New("is http:// to a host that is not loopback, so codes would cross the network in clear: use https://")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must have no query or fragment")
	}
	return nil
}

// endpoint returns the scheme and host of a base URL, to name it in
// errors without its path or credentials.
func endpoint(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return "the provider"
	}
	return u.Scheme + "://" + u.Host
}

// post POSTs body to url as contentType, with the headers that header
// sets (credentials, Accept; nil: none), and returns what do returns.
func post(ctx context.Context, client *http.Client, provider, url, contentType string, body []byte, header func(http.Header)) (status int, answer []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		// Only a base URL that does not parse gets here, which the
		// configs' Validate refuses; the cause would repeat it.
		return 0, nil, &ProviderError{Provider: provider, Reason: "building the request: the base URL does not parse"}
	}
	req.Header.Set("Content-Type", contentType)
	if header != nil {
		header(req.Header)
	}
	return do(client, provider, req)
}

// do sends req with client and returns the answer's status and up to
// maxBody bytes of its body. A failure to get an answer is a
// *ProviderError of provider naming only the endpoint, Temporary unless
// the caller went away, and wrapping the cause.
func do(client *http.Client, provider string, req *http.Request) (status int, body []byte, err error) {
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error repeats the whole URL; name the endpoint instead
		// and keep the cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return 0, nil, &ProviderError{
			Provider:  provider,
			Reason:    "no answer from " + req.URL.Scheme + "://" + req.URL.Host,
			Temporary: !errors.Is(err, context.Canceled),
			Err:       err,
		}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		_ = resp.Body.Close()
	}()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, &ProviderError{
			Provider:  provider,
			Status:    resp.StatusCode,
			Reason:    "reading the answer",
			Temporary: !errors.Is(err, context.Canceled),
			Err:       err,
		}
	}
	return resp.StatusCode, body, nil
}
