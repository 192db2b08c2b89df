package phoneauth

import (
	"errors"
	"fmt"
	"time"
)

// Policy holds the tunable rules of the flows. DefaultPolicy gives the
// values the service runs with when nothing is configured; Validate owns
// the ranges every field must fall in.
type Policy struct {
	CodeTTL       time.Duration // how long an SMS code is valid
	LoginThrottle time.Duration // minimum gap between two unused login codes for one user
	CodeLength    int           // digits in an SMS code
	MaxAttempts   int           // tries allowed per code, the right one included
	AccessTTL     time.Duration
	RefreshTTL    time.Duration // a session's absolute lifetime from its login
	// RefreshReuseGrace is how long after a rotation the refresh token it
	// spent still gets the same successor instead of revoking the session,
	// so two tabs refreshing at once stay signed in; 0 disables.
	RefreshReuseGrace time.Duration
	IPRateLimit       int // SMS-sending requests per minute per client IP; 0 disables
	SMSPerHour        int // SMS sent per hour by the whole service; 0 disables
}

// DefaultPolicy is the policy the service runs with when nothing is configured.
func DefaultPolicy() Policy {
	return Policy{
		CodeTTL:       5 * time.Minute,
		LoginThrottle: 5 * time.Minute,
		CodeLength:    6,
		MaxAttempts:   5,
		AccessTTL:     15 * time.Minute,
		RefreshTTL:    720 * time.Hour,
		// Long enough for requests racing from one client, short enough
		// that a stolen spent token is still caught.
		RefreshReuseGrace: 10 * time.Second,
		IPRateLimit:       10,
		SMSPerHour:        1000,
	}
}

// PolicyError says which field of a Policy is out of range, so that a
// caller reading the policy from somewhere (environment variables, a file)
// can name the setting behind it.
type PolicyError struct {
	Field   string // the Policy field, such as "MaxAttempts"
	Problem string // what is wrong, such as "must be between 1 and 100"
}

func (e *PolicyError) Error() string { return e.Field + " " + e.Problem }

// Validate reports each field of p that is out of range as a
// *PolicyError, joined with errors.Join; nil if all are in range.
func (p Policy) Validate() error {
	var errs []error
	atLeast := func(field string, d, min time.Duration) {
		if d < min {
			errs = append(errs, &PolicyError{field, fmt.Sprintf("must be at least %s", min)})
		}
	}
	between := func(field string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			errs = append(errs, &PolicyError{field, fmt.Sprintf("must be between %s and %s", lo, hi)})
		}
	}
	within := func(field string, n, lo, hi int) {
		if n < lo || n > hi {
			errs = append(errs, &PolicyError{field, fmt.Sprintf("must be between %d and %d", lo, hi)})
		}
	}
	atLeast("CodeTTL", p.CodeTTL, time.Second)
	atLeast("LoginThrottle", p.LoginThrottle, 0)
	within("CodeLength", p.CodeLength, 4, 10)
	within("MaxAttempts", p.MaxAttempts, 1, 100)
	atLeast("AccessTTL", p.AccessTTL, time.Second)
	atLeast("RefreshTTL", p.RefreshTTL, time.Second)
	between("RefreshReuseGrace", p.RefreshReuseGrace, 0, time.Minute)
	within("IPRateLimit", p.IPRateLimit, 0, 1_000_000)
	within("SMSPerHour", p.SMSPerHour, 0, 100_000_000)
	return errors.Join(errs...)
}
