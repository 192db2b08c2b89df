package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth"
)

// errorResponse is one row of the error table: the errors it matches and
// the response they get. The contract fixes the wording of some bodies;
// the others are ours.
type errorResponse struct {
	match  func(error) bool
	status int
	body   func(error) any
	header func(error, http.Header) // nil: no headers of its own
}

// errorTable is the one table from error to response, tried in order: the
// first row that matches answers. Order matters where errors wrap others:
// a *phoneauth.ThrottledError of LimitAttempts wraps ErrTooManyAttempts and
// ErrCodeWrong, so the limits come first; a request whose client went away
// comes before all, as whatever it failed with is only that. Rows with a
// status of 500 or more log the error; a client gone, at Debug level. Every
// 401 row sets WWW-Authenticate (withChallenge).
var errorTable = []errorResponse{
	{is(errClientGone), statusClientClosed, message("Client closed request"), nil},
	// The contract's body, which uses "message", not "error", and the
	// account's user_id, so the owner of a phone whose code someone else
	// requested can still use the code that reached the phone.
	{throttled(phoneauth.LimitLoginPending), http.StatusTooManyRequests, func(err error) any {
		var t *phoneauth.ThrottledError
		errors.As(err, &t)
		return map[string]string{"message": "User already have a request for login", "user_id": t.UserID}
	}, withRetryAfter},
	{throttled(phoneauth.LimitCodePending), http.StatusTooManyRequests, message("A code was sent recently, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitLockout), http.StatusTooManyRequests, message("Account temporarily locked, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitIPVerify), http.StatusTooManyRequests, message("Too many requests, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitIP), http.StatusTooManyRequests, message("Too many requests, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitSMSBudget), http.StatusTooManyRequests, message("SMS limit reached, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitSMSDay), http.StatusTooManyRequests, message("Daily SMS limit reached, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitSMSPhone), http.StatusTooManyRequests, message("Too many codes sent to this number, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitSMSRange), http.StatusTooManyRequests, message("Too many codes sent to numbers like this one, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitSMSCountry), http.StatusTooManyRequests, message("SMS limit for this country reached, try again later"), withRetryAfter},
	{throttled(phoneauth.LimitAttempts), http.StatusTooManyRequests, message("Too many failed attempts, request a new code"), withRetryAfter},
	{is(errNotJSON), http.StatusBadRequest, message("Only JSON requests are accepted"), nil},
	{is(errTooLarge), http.StatusRequestEntityTooLarge, message("Request body too large"), nil},
	{as[*badRequestError], http.StatusBadRequest, func(err error) any {
		var bad *badRequestError
		errors.As(err, &bad)
		return errorBody(bad.msg)
	}, nil},
	{as[*missingFieldsError], http.StatusBadRequest, func(err error) any {
		var missing *missingFieldsError
		errors.As(err, &missing)
		return errorBody("Missing required fields: " + strings.Join(missing.fields, ", "))
	}, nil},
	{is(phoneauth.ErrInvalidPhone), http.StatusBadRequest, message("Invalid phone number"), nil},
	{is(phoneauth.ErrCannotReceiveSMS), http.StatusBadRequest, message("This number cannot receive SMS"), nil},
	{is(phoneauth.ErrUserExists), http.StatusConflict, message("Account already Exists"), nil},
	{is(phoneauth.ErrUserNotFound), http.StatusNotFound, message("User does not exist"), nil},
	{is(phoneauth.ErrNotVerified), http.StatusForbidden, message("Account is not verified"), nil},
	{is(phoneauth.ErrChallengeNotFound), http.StatusBadRequest, message("Invalid verification token"), nil},
	{is(phoneauth.ErrNoPendingLogin), http.StatusBadRequest, message("login first"), nil},
	{is(phoneauth.ErrNoPendingCode), http.StatusBadRequest, message("Request a code first"), nil},
	{is(phoneauth.ErrCodeWrong), http.StatusBadRequest, message("Invalid code"), nil},
	{is(phoneauth.ErrCodeExpired), http.StatusBadRequest, message("Code has expired, request a new code"), nil},
	{is(phoneauth.ErrSendFailed), http.StatusBadGateway, message("Could not send SMS, try again"), nil},
	{is(phoneauth.ErrTokenMissing), http.StatusUnauthorized, message("Missing Authorization header"), withChallenge},
	{is(errBadAuthHeader), http.StatusUnauthorized, message("Authorization header must be 'Bearer <token>'"), withChallenge},
	{is(errManyAuthHeaders), http.StatusUnauthorized, message("Only one Authorization header is allowed"), withChallenge},
	{is(phoneauth.ErrTokenExpired), http.StatusUnauthorized, message("Token has expired"), withChallenge},
	{is(phoneauth.ErrTokenInvalid), http.StatusUnauthorized, message("Token is invalid"), withChallenge},
	{is(phoneauth.ErrNeedAccessToken), http.StatusUnauthorized, message("Only access tokens are allowed"), withChallenge},
	{is(phoneauth.ErrNeedRefreshToken), http.StatusUnauthorized, message("Only refresh tokens are allowed"), withChallenge},
	{is(phoneauth.ErrTokenReused), http.StatusUnauthorized, message("Refresh token was already used; the session has been revoked"), withChallenge},
	{is(phoneauth.ErrTokenRevoked), http.StatusUnauthorized, message("Token has been revoked"), withChallenge},
	{is(phoneauth.ErrTokenUnknownUser), http.StatusUnauthorized, message("Token subject is not a known user"), withChallenge},
	{is(phoneauth.ErrUnavailable), http.StatusServiceUnavailable, message("Service unavailable"), withUnavailableRetryAfter},
	// Anything else is a failure whose cause stays in the log.
	{func(error) bool { return true }, http.StatusInternalServerError, message("Internal error"), nil},
}

// writeError is the only writer of error responses: it answers with the
// first row of errorTable that matches err. An error that is the request's
// own context cancelled, because its client went away, is marked
// errClientGone first: no failure of the service, and nobody reads the
// answer.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(r.Context().Err(), context.Canceled) && errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", errClientGone, err)
	}
	for _, row := range errorTable {
		if !row.match(err) {
			continue
		}
		switch {
		case row.status >= 500:
			log.ErrorContext(r.Context(), "request failed", "err", err)
		case row.status == statusClientClosed:
			log.DebugContext(r.Context(), "client went away", "err", err)
		}
		if row.header != nil {
			row.header(err, w.Header())
		}
		encode(w, row.status, row.body(err))
		return
	}
}

func is(kind error) func(error) bool {
	return func(err error) bool { return errors.Is(err, kind) }
}

func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// throttled matches a *phoneauth.ThrottledError of limit l.
func throttled(l phoneauth.Limit) func(error) bool {
	return func(err error) bool {
		var t *phoneauth.ThrottledError
		return errors.As(err, &t) && t.Limit == l
	}
}

func message(msg string) func(error) any {
	body := errorBody(msg)
	return func(error) any { return body }
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

// withRetryAfter sets Retry-After from a *phoneauth.ThrottledError.
func withRetryAfter(err error, h http.Header) {
	var t *phoneauth.ThrottledError
	if errors.As(err, &t) {
		h.Set("Retry-After", retryAfter(t.RetryAfter))
	}
}

// withChallenge sets the WWW-Authenticate challenge of a 401, as RFC 6750
// §3 has it: no error code when the request carried no bearer token (no
// Authorization header, or another scheme: §3.1 counts an unsupported
// method as no authentication), "invalid_request" for two Authorization
// headers (§3.1: more than one method of including a token), and
// "invalid_token" for a token that was sent and refused.
func withChallenge(err error, h http.Header) {
	const challenge = `Bearer realm="phoneauth"`
	switch {
	case errors.Is(err, phoneauth.ErrTokenMissing), errors.Is(err, errBadAuthHeader):
		h.Set("WWW-Authenticate", challenge)
	case errors.Is(err, errManyAuthHeaders):
		h.Set("WWW-Authenticate", challenge+`, error="invalid_request"`)
	default:
		h.Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
	}
}

// unavailableRetryAfter is the Retry-After of every 503: a database or
// Redis outage the pools recover from, or a burst of SMS sends that
// filled every send slot, is usually over within a few seconds, and a
// client told to wait longer would only be kept waiting.
const unavailableRetryAfter = 2 * time.Second

// withUnavailableRetryAfter sets the Retry-After of a 503.
func withUnavailableRetryAfter(_ error, h http.Header) {
	h.Set("Retry-After", retryAfter(unavailableRetryAfter))
}

// retryAfter renders d as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// statusClientClosed is the status of a request whose client went away
// before the answer, as nginx logs it: no client sees it, the request log
// line does.
const statusClientClosed = 499

var (
	errClientGone      = errors.New("client went away")
	errNotJSON         = errors.New("request is not JSON")
	errTooLarge        = errors.New("request body too large")
	errBadAuthHeader   = errors.New("malformed Authorization header")
	errManyAuthHeaders = errors.New("more than one Authorization header")
)

// badRequestError is a 400 whose message is made for the client, such as a
// field of the wrong type.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

// missingFieldsError names the required fields of a request body that
// were absent or empty, in the order the body lists them.
type missingFieldsError struct{ fields []string }

func (e *missingFieldsError) Error() string {
	return "missing fields: " + strings.Join(e.fields, ", ")
}

// requireFields returns a *missingFieldsError naming each field whose value
// is empty or blank, or nil. Pairs are name, value.
func requireFields(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		return &missingFieldsError{fields: missing}
	}
	return nil
}
