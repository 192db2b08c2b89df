package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth"
)

// errorKind maps a domain error kind to its status and body. The contract
// fixes the wording of some bodies; the others are ours.
type errorKind struct {
	err    error
	status int
	msg    string
}

// errorKinds is the one table from error kind to response. Order matters
// where kinds wrap each other: ErrTooManyAttempts wraps ErrCodeWrong.
var errorKinds = []errorKind{
	{errNotJSON, http.StatusBadRequest, "Only JSON requests are accepted"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "Request body too large"},
	{phoneauth.ErrInvalidPhone, http.StatusBadRequest, "Invalid phone number"},
	{phoneauth.ErrUserExists, http.StatusConflict, "Account already Exists"},
	{phoneauth.ErrUserNotFound, http.StatusNotFound, "User does not exist"},
	{phoneauth.ErrNotVerified, http.StatusForbidden, "Account is not verified"},
	{phoneauth.ErrChallengeNotFound, http.StatusBadRequest, "Invalid verification token"},
	{phoneauth.ErrNoPendingLogin, http.StatusBadRequest, "login first"},
	{phoneauth.ErrTooManyAttempts, http.StatusTooManyRequests, "Too many failed attempts, request a new code"},
	{phoneauth.ErrCodeWrong, http.StatusBadRequest, "Invalid code"},
	{phoneauth.ErrCodeExpired, http.StatusBadRequest, "Code has expired, request a new code"},
	{phoneauth.ErrSendFailed, http.StatusBadGateway, "Could not send SMS, try again"},
	{phoneauth.ErrTokenMissing, http.StatusUnauthorized, "Missing Authorization header"},
	{errBadAuthHeader, http.StatusUnauthorized, "Authorization header must be 'Bearer <token>'"},
	{phoneauth.ErrTokenExpired, http.StatusUnauthorized, "Token has expired"},
	{phoneauth.ErrTokenInvalid, http.StatusUnauthorized, "Token is invalid"},
	{phoneauth.ErrNeedAccessToken, http.StatusUnauthorized, "Only access tokens are allowed"},
	{phoneauth.ErrNeedRefreshToken, http.StatusUnauthorized, "Only refresh tokens are allowed"},
	{phoneauth.ErrTokenReused, http.StatusUnauthorized, "Refresh token was already used; the session has been revoked"},
	{phoneauth.ErrTokenRevoked, http.StatusUnauthorized, "Token has been revoked"},
	{phoneauth.ErrTokenUnknownUser, http.StatusUnauthorized, "Token subject is not a known user"},
	{phoneauth.ErrUnavailable, http.StatusServiceUnavailable, "Service unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "Service unavailable"},
}

// throttleBodies words the 429 of each limit. The pending-login one is the
// contract's, which uses "message", not "error".
var throttleBodies = map[phoneauth.Limit]map[string]string{
	phoneauth.LimitLoginPending: {"message": "User already have a request for login"},
	phoneauth.LimitIP:           {"error": "Too many requests, try again later"},
	phoneauth.LimitSMSBudget:    {"error": "SMS limit reached, try again later"},
	phoneauth.LimitAttempts:     {"error": "Too many failed attempts, request a new code"},
}

// writeError is the only writer of error responses. Unknown errors answer
// 500 with a generic body; the cause goes to the log only.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var throttled *phoneauth.ThrottledError
	if errors.As(err, &throttled) {
		w.Header().Set("Retry-After", retryAfter(throttled.RetryAfter))
		body, ok := throttleBodies[throttled.Limit]
		if !ok {
			body = map[string]string{"error": "Too many requests, try again later"}
		}
		encode(w, http.StatusTooManyRequests, body)
		return
	}
	var missing *phoneauth.MissingFieldsError
	if errors.As(err, &missing) {
		encode(w, http.StatusBadRequest, errorBody("Missing required fields: "+strings.Join(missing.Fields, ", ")))
		return
	}
	var bad *badRequestError
	if errors.As(err, &bad) {
		encode(w, http.StatusBadRequest, errorBody(bad.msg))
		return
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			if k.status >= 500 {
				log.ErrorContext(r.Context(), "request failed", "err", err)
			}
			encode(w, k.status, errorBody(k.msg))
			return
		}
	}
	log.ErrorContext(r.Context(), "request failed", "err", err)
	encode(w, http.StatusInternalServerError, errorBody("Internal error"))
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

// retryAfter renders d as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

var (
	errNotJSON       = errors.New("request is not JSON")
	errTooLarge      = errors.New("request body too large")
	errBadAuthHeader = errors.New("malformed Authorization header")
)

// badRequestError is a 400 whose message is made for the client, such as a
// field of the wrong type.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }
