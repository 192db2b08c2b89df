package phoneauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"time"
)

// Purpose says what an SMS code is for.
type Purpose string

// The purposes of a Challenge.
const (
	PurposeRegister Purpose = "register"
	PurposeLogin    Purpose = "login"
	// PurposeDelete is a code that confirms the deletion of an account,
	// sent to the account's own number.
	PurposeDelete Purpose = "delete"
	// PurposePhone is a code that proves a new number for an account,
	// sent to that number (Challenge.NewPhone).
	PurposePhone Purpose = "phone"
)

// Challenge is an SMS code sent to a user, stored only as a keyed hash.
// A user has at most one challenge per purpose: a new one replaces the old.
type Challenge struct {
	ID        string
	UserID    string
	Purpose   Purpose
	CodeHash  []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	// Attempts counts the tries decided against this code; at
	// Policy.MaxAttempts the code is dead.
	Attempts int
	// Consumed is set once the code has been used; a consumed challenge
	// is spent and never accepts a code again.
	Consumed bool
	// NewPhone is the E.164 number a PurposePhone code was sent to, which
	// the account moves to once the code is verified; empty for the other
	// purposes.
	NewPhone string
	// Audit is the event Register, PutLoginChallenge and PutChallenge
	// record, with Audit.Decided, in the transaction that stores the
	// challenge (nothing when they store none); it is not stored with the
	// challenge and never read back.
	Audit Event
}

// Try is one attempt at a code, made by the service and decided by a
// Store with Decide inside the transaction that holds the challenge and
// its account.
type Try struct {
	// Hash returns the keyed hash of the typed code for challenge c: the
	// hash is keyed by the challenge, which only the store knows.
	Hash   func(c Challenge) []byte
	Now    time.Time
	Policy Policy
	// Audit is the event the Store records, with Audit.Decided, in the
	// transaction that stores what Decide decided; not recorded when the
	// challenge is not found.
	Audit Event
}

// Decide is the one code check. A Store calls it with the challenge the
// try is about and the account's guard, both as read under lock, and then
// stores what Decide left in them (c.Attempts, c.Consumed, all of g) in the
// same transaction, whatever it returned: a wrong try counts even though
// it fails.
//
// In order: a locked account refuses every try, the right code too
// (*ThrottledError of LimitLockout); a spent challenge is unknown
// (ErrChallengeNotFound for a registration, ErrNoPendingLogin for a
// login, ErrNoPendingCode for the codes of a signed-in account); a code that has had Policy.MaxAttempts tries is dead
// (*ThrottledError of LimitAttempts); an expired code is ErrCodeExpired
// whatever was typed, so it tells nothing about a guess. None of these
// counts as a try. Otherwise the try counts: the right code, compared in
// constant time, consumes c and clears g; a wrong one adds a failure to g,
// and is ErrCodeWrong, or a *ThrottledError of LimitAttempts when it was
// the code's last try, or of LimitLockout wrapping both ErrAccountLocked
// and ErrCodeWrong when it locked the account. Each lockout lasts
// Policy.LockoutDuration, doubled for each lockout since the last success,
// at most MaxLockout.
func (t Try) Decide(c *Challenge, g *Guard) error {
	p := t.Policy
	switch {
	case t.Now.Before(g.LockedUntil):
		return locked(g.LockedUntil.Sub(t.Now), ErrAccountLocked)
	case c.Consumed:
		return c.notFound()
	case c.Attempts >= p.MaxAttempts:
		return c.tooManyAttempts(t.Now, p, ErrTooManyAttempts)
	case !t.Now.Before(c.ExpiresAt):
		return ErrCodeExpired
	}
	c.Attempts++
	if subtle.ConstantTimeCompare(c.CodeHash, t.Hash(*c)) == 1 {
		c.Consumed = true
		*g = Guard{}
		return nil
	}
	g.Failures++
	if g.Failures >= p.LockoutThreshold {
		g.Failures = 0
		g.Lockouts++
		// Doubled once per earlier lockout, stopping at MaxLockout, so
		// that no count of lockouts can overflow the duration.
		d := p.LockoutDuration
		for i := 1; i < g.Lockouts && d < MaxLockout; i++ {
			d *= 2
		}
		d = min(d, MaxLockout)
		g.LockedUntil = t.Now.Add(d)
		return locked(d, fmt.Errorf("%w: %w", ErrAccountLocked, ErrCodeWrong))
	}
	if c.Attempts >= p.MaxAttempts {
		return c.tooManyAttempts(t.Now, p, fmt.Errorf("%w: %w", ErrTooManyAttempts, ErrCodeWrong))
	}
	return ErrCodeWrong
}

func locked(left time.Duration, err error) error {
	return &ThrottledError{Limit: LimitLockout, RetryAfter: left, Err: err}
}

// notFound is the kind that says c's purpose has no such code.
func (c Challenge) notFound() error {
	switch c.Purpose {
	case PurposeLogin:
		return ErrNoPendingLogin
	case PurposeRegister:
		return ErrChallengeNotFound
	}
	return ErrNoPendingCode
}

// tooManyAttempts says when a new code for c's purpose can be had: a new
// registration once c expires, a new code of any other purpose once the
// throttle that started with c (Policy.LoginThrottle) runs out.
func (c Challenge) tooManyAttempts(now time.Time, p Policy, err error) error {
	until := c.ExpiresAt
	if c.Purpose != PurposeRegister {
		until = c.CreatedAt.Add(p.LoginThrottle)
	}
	return &ThrottledError{Limit: LimitAttempts, RetryAfter: max(until.Sub(now), 0), Err: err}
}

// throttleLeft is how long after now a new code can be asked for while
// the code created at pendingSince is pending: until Policy.LoginThrottle
// has passed since then, the whole throttle when the store could not tell
// when (zero), and at least a second.
func (s *Service) throttleLeft(pendingSince, now time.Time) time.Duration {
	wait := s.policy.LoginThrottle
	if !pendingSince.IsZero() {
		wait = pendingSince.Add(wait).Sub(now)
	}
	return max(wait, time.Second)
}

// try is a try of code at now, for a challenge of purpose p.
func (s *Service) try(p Purpose, code string, now time.Time, audit Event) Try {
	return Try{
		Audit:  audit,
		Hash:   func(c Challenge) []byte { return s.hashCode(p, c.ID, code) },
		Now:    now,
		Policy: s.policy,
	}
}

// newChallenge makes challenge id for purpose p of userID with code sent
// to r at now.
func (s *Service) newChallenge(p Purpose, id, userID, code string, r recipient, now time.Time) Challenge {
	return Challenge{
		ID:        id,
		UserID:    userID,
		Purpose:   p,
		CodeHash:  s.hashCode(p, id, code),
		CreatedAt: now,
		ExpiresAt: s.codeExpiry(r, now),
	}
}

// newCode returns a uniformly random string of n decimal digits.
func (s *Service) newCode() (string, error) {
	const digits = "0123456789"
	b := make([]byte, s.policy.CodeLength)
	// Rejection sampling: bytes >= 250 would bias the digits.
	buf := make([]byte, 1)
	for i := range b {
		for {
			if _, err := io.ReadFull(s.random, buf); err != nil {
				return "", fmt.Errorf("generate code: %w", err)
			}
			if buf[0] < 250 {
				b[i] = digits[buf[0]%10]
				break
			}
		}
	}
	return string(b), nil
}

// hashCode is the keyed hash under which a code is stored. The challenge ID
// and purpose are mixed in so equal codes of different challenges never
// share a hash.
func (s *Service) hashCode(purpose Purpose, challengeID, code string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	fmt.Fprintf(m, "%s\x00%s\x00%s", purpose, challengeID, code)
	return m.Sum(nil)
}
