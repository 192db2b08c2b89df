package phoneauth

import (
	"errors"
	"fmt"
	"strings"
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
	// IPVerifyRateLimit caps code checks (verify, login/verify) per minute
	// per client IP; 0 disables.
	IPVerifyRateLimit int
	// LockoutThreshold is how many consecutive failed code checks, across
	// codes and flows, lock an account.
	LockoutThreshold int
	// LockoutDuration is how long the first lockout lasts; each further
	// one doubles it, up to MaxLockout.
	LockoutDuration time.Duration
	// AuditRetention is how long audit events are kept: Store.Prune
	// deletes older ones.
	AuditRetention time.Duration

	// SMSRegions are the ISO 3166 regions whose numbers may be sent a
	// code; "*" allows all. Empty: only the service's default region.
	SMSRegions []string
	// The SMS budgets besides SMSPerHour; 0 disables each. An SMS the
	// provider refused counts against none of them.
	SMSPerPhoneDay    int            // to one number per day
	SMSPerRangeHour   int            // to one number range (the number without its last 4 digits) per hour
	SMSPerDay         int            // by the whole service per day
	SMSPerCountryHour map[string]int // to one region per hour, by ISO 3166 region; "*" for every region not named
}

// MaxLockout caps how long one lockout lasts, however often an account
// was locked before.
const MaxLockout = 24 * time.Hour

// MaxLoginThrottle caps LoginThrottle. The throttle is the unused login
// code itself, and a store's Prune may delete a code an hour after it
// expired: a longer throttle would end early, when its code is pruned.
const MaxLoginThrottle = time.Hour

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

		IPVerifyRateLimit: 30,
		LockoutThreshold:  20,
		LockoutDuration:   15 * time.Minute,
		AuditRetention:    2160 * time.Hour,

		SMSPerPhoneDay:  10,
		SMSPerRangeHour: 20,
		SMSPerDay:       5000,
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
	// The upper bounds of CodeTTL and MaxAttempts and the lower bound of
	// CodeLength keep a code's guessing odds where NIST SP 800-63B puts
	// them: settings past them are refused, not merely discouraged.
	atLeast("CodeTTL", p.CodeTTL, time.Second)
	if p.CodeTTL > 10*time.Minute {
		errs = append(errs, &PolicyError{"CodeTTL", "must be at most 10m0s"})
	}
	between("LoginThrottle", p.LoginThrottle, 0, MaxLoginThrottle)
	within("CodeLength", p.CodeLength, 6, 10)
	within("MaxAttempts", p.MaxAttempts, 1, 10)
	within("LockoutThreshold", p.LockoutThreshold, 1, 100)
	atLeast("LockoutDuration", p.LockoutDuration, time.Second)
	if p.LockoutDuration > MaxLockout {
		errs = append(errs, &PolicyError{"LockoutDuration", fmt.Sprintf("must be at most %s", MaxLockout)})
	}
	within("IPVerifyRateLimit", p.IPVerifyRateLimit, 0, 1_000_000)
	within("SMSPerPhoneDay", p.SMSPerPhoneDay, 0, 100_000_000)
	within("SMSPerRangeHour", p.SMSPerRangeHour, 0, 100_000_000)
	within("SMSPerDay", p.SMSPerDay, 0, 1_000_000_000)
	for region, n := range p.SMSPerCountryHour {
		if region != "*" && (!ValidRegion(region) || region != strings.ToUpper(region)) {
			errs = append(errs, &PolicyError{"SMSPerCountryHour", fmt.Sprintf("names %q, which is not an upper-case ISO region with a numbering plan", region)})
		}
		within("SMSPerCountryHour", n, 0, 100_000_000)
	}
	for _, region := range p.SMSRegions {
		if region != "*" && (!ValidRegion(region) || region != strings.ToUpper(region)) {
			errs = append(errs, &PolicyError{"SMSRegions", fmt.Sprintf("names %q, which is neither * nor an upper-case ISO region with a numbering plan", region)})
		}
	}
	atLeast("AuditRetention", p.AuditRetention, time.Hour)
	atLeast("AccessTTL", p.AccessTTL, time.Second)
	atLeast("RefreshTTL", p.RefreshTTL, time.Second)
	between("RefreshReuseGrace", p.RefreshReuseGrace, 0, time.Minute)
	within("IPRateLimit", p.IPRateLimit, 0, 1_000_000)
	within("SMSPerHour", p.SMSPerHour, 0, 100_000_000)
	return errors.Join(errs...)
}
