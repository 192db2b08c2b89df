package phoneauth

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error kinds returned by the flows. They carry no status codes or wording
// of the HTTP contract: httpapi maps them.
var (
	ErrInvalidPhone      = errors.New("invalid phone number")
	ErrUserExists        = errors.New("account already exists")
	ErrUserNotFound      = errors.New("user not found")
	ErrNotVerified       = errors.New("account not verified")
	ErrChallengeNotFound = errors.New("no such verification token")
	ErrNoPendingLogin    = errors.New("no pending login")
	ErrCodeWrong         = errors.New("wrong code")
	ErrCodeExpired       = errors.New("code expired")
	ErrTooManyAttempts   = errors.New("too many failed attempts")
	ErrSendFailed        = errors.New("could not send SMS")
	ErrTokenMissing      = errors.New("token missing")
	ErrTokenInvalid      = errors.New("token invalid")
	ErrTokenExpired      = errors.New("token expired")
	ErrNeedAccessToken   = errors.New("access token required")
	ErrNeedRefreshToken  = errors.New("refresh token required")
	ErrTokenUnknownUser  = errors.New("token subject is not a user")
	ErrTokenRevoked      = errors.New("token revoked")
	ErrTokenReused       = errors.New("refresh token reused")
	// ErrUnavailable marks a failure to reach a dependency (database,
	// Redis): the request may succeed later.
	ErrUnavailable = errors.New("dependency unavailable")
)

// MissingFieldsError reports required input fields that were absent or empty.
type MissingFieldsError struct {
	Fields []string
}

func (e *MissingFieldsError) Error() string {
	return "missing fields: " + strings.Join(e.Fields, ", ")
}

// Limit names which limit a ThrottledError hit.
type Limit string

// The limits the service enforces.
const (
	LimitLoginPending Limit = "login pending" // a login code was sent recently
	LimitIP           Limit = "ip rate"       // too many SMS requests from one address
	LimitSMSBudget    Limit = "sms budget"    // the service-wide SMS budget is spent
	LimitAttempts     Limit = "attempts"      // a code had too many wrong tries
)

// ThrottledError says a request was refused by a limit and when to retry.
type ThrottledError struct {
	Limit      Limit
	RetryAfter time.Duration
	// Err is the kind behind the limit, if any: ErrTooManyAttempts for
	// LimitAttempts.
	Err error
}

// Unwrap returns the kind behind the limit, so errors.Is(err,
// ErrTooManyAttempts) holds for LimitAttempts.
func (e *ThrottledError) Unwrap() error { return e.Err }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("throttled (%s), retry after %s", e.Limit, e.RetryAfter)
}

// RequireFields returns a *MissingFieldsError naming each empty value, or
// nil. Pairs are name, value.
func RequireFields(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		return &MissingFieldsError{Fields: missing}
	}
	return nil
}
