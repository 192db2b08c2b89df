package phoneauth

import (
	"errors"
	"fmt"
	"time"
)

// Error kinds returned by the flows. They carry no status codes or wording
// of the HTTP contract: httpapi maps them.
var (
	ErrInvalidPhone      = errors.New("invalid phone number")
	ErrCannotReceiveSMS  = errors.New("number cannot receive SMS") // outside the SMS regions, or not a mobile number
	ErrUserExists        = errors.New("account already exists")
	ErrUserNotFound      = errors.New("user not found")
	ErrNotVerified       = errors.New("account not verified")
	ErrChallengeNotFound = errors.New("no such verification token")
	ErrNoPendingLogin    = errors.New("no pending login")
	ErrCodeWrong         = errors.New("wrong code")
	ErrCodeExpired       = errors.New("code expired")
	ErrTooManyAttempts   = errors.New("too many failed attempts") // only ever inside a *ThrottledError of LimitAttempts
	ErrAccountLocked     = errors.New("account locked")           // only ever inside a *ThrottledError of LimitLockout
	ErrLoginPending      = errors.New("login pending")            // a login code sent recently is unused
	ErrCodePending       = errors.New("code pending")             // an account code (deletion, phone change) sent recently is unused; the flows return it inside a *ThrottledError of LimitCodePending
	ErrNoPendingCode     = errors.New("no pending code")          // no code of that purpose was requested, or it was used
	ErrSendFailed        = errors.New("could not send SMS")
	ErrTokenMissing      = errors.New("token missing")
	ErrTokenInvalid      = errors.New("token invalid")
	ErrTokenExpired      = errors.New("token expired")
	ErrNeedAccessToken   = errors.New("access token required")
	ErrNeedRefreshToken  = errors.New("refresh token required")
	ErrTokenUnknownUser  = errors.New("token subject is not a user")
	ErrTokenRevoked      = errors.New("token revoked")
	ErrTokenReused       = errors.New("refresh token reused")
	// ErrMaybeSent marks a send that failed without an answer after its
	// request may have reached the provider (a timeout, a connection cut):
	// the SMS may have gone out. The flow still fails (the code is taken
	// back) but keeps the SMS counted against the budgets. It is a mark on
	// a failure, not an answer.
	ErrMaybeSent = errors.New("the SMS may have been sent")
	// ErrUnavailable marks a failure to reach a dependency (database,
	// Redis): the request may succeed later. Unlike the kinds above it is
	// a failure, not an answer.
	ErrUnavailable = errors.New("dependency unavailable")
)

// kinds are the error kinds that are answers about the request, not
// failures of the service: every kind above but ErrUnavailable.
var kinds = []error{
	ErrInvalidPhone, ErrCannotReceiveSMS, ErrUserExists, ErrUserNotFound, ErrNotVerified,
	ErrChallengeNotFound, ErrNoPendingLogin, ErrCodeWrong, ErrCodeExpired,
	ErrTooManyAttempts, ErrAccountLocked, ErrLoginPending, ErrCodePending, ErrNoPendingCode, ErrSendFailed, ErrTokenMissing, ErrTokenInvalid,
	ErrTokenExpired, ErrNeedAccessToken, ErrNeedRefreshToken,
	ErrTokenUnknownUser, ErrTokenRevoked, ErrTokenReused,
}

// Kinds returns every error kind that answers a request rather than
// reports a failure: what an adapter passes through untouched and what
// httpapi must map. ErrUnavailable and *ThrottledError are not among them.
func Kinds() []error { return append([]error(nil), kinds...) }

// IsKind reports whether err is or wraps one of Kinds: an answer, which a
// Store returns as it is instead of wrapping it as a failure of its own.
func IsKind(err error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// Limit names which limit a ThrottledError hit.
type Limit string

// The limits the service enforces.
const (
	LimitLoginPending Limit = "login pending" // a login code was sent recently
	LimitCodePending  Limit = "code pending"  // an account code of that purpose (deletion, phone change) was sent recently
	LimitIP           Limit = "ip rate"       // too many SMS requests from one address
	LimitSMSBudget    Limit = "sms budget"    // the service-wide hourly SMS budget is spent
	LimitSMSDay       Limit = "sms day"       // the service-wide daily SMS budget is spent
	LimitSMSPhone     Limit = "sms phone"     // one number had its SMS for the day
	LimitSMSRange     Limit = "sms range"     // one number range had its SMS for the hour
	LimitSMSCountry   Limit = "sms country"   // one region had its SMS for the hour
	LimitAttempts     Limit = "attempts"      // a code had too many wrong tries
	LimitLockout      Limit = "lockout"       // the account is locked after too many failed checks
	LimitIPVerify     Limit = "ip verify"     // too many code checks from one address
)

// ThrottledError says a request was refused by a limit and when to retry.
type ThrottledError struct {
	Limit      Limit
	RetryAfter time.Duration
	// Err is the kind behind the limit, if any: ErrCodePending for
	// LimitCodePending, ErrTooManyAttempts for LimitAttempts, ErrAccountLocked for LimitLockout (joined with
	// ErrCodeWrong when the try that was refused locked the account).
	Err error
	// UserID is the account a LimitLoginPending refusal is about: its
	// owner may still use the code that reached the phone.
	UserID string
}

// Unwrap returns the kind behind the limit, so errors.Is(err,
// ErrTooManyAttempts) holds for LimitAttempts.
func (e *ThrottledError) Unwrap() error { return e.Err }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("throttled (%s), retry after %s", e.Limit, e.RetryAfter)
}
