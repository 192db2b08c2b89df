package phoneauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
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
	// Consumed is set once the code has been used; a consumed challenge
	// is spent and never accepts a code again.
	Consumed bool
}

// Check decides a try of the code whose keyed hash is presented, at now.
// It is the one code check: every Store calls it inside the transaction
// that consumes c, on the row it has locked, and consumes c only when it
// returns nil. A spent challenge is unknown (ErrChallengeNotFound for a
// registration, ErrNoPendingLogin for a login); an expired one is
// ErrCodeExpired, whatever was typed, so an expired code tells nothing
// about a guess; a hash that differs, compared in constant time, is
// ErrCodeWrong.
func (c Challenge) Check(presented []byte, now time.Time) error {
	switch {
	case c.Consumed:
		return c.notFound()
	case !now.Before(c.ExpiresAt):
		return ErrCodeExpired
	case subtle.ConstantTimeCompare(c.CodeHash, presented) != 1:
		return ErrCodeWrong
	}
	return nil
}

// notFound is the kind that says c's purpose has no such code.
func (c Challenge) notFound() error {
	if c.Purpose == PurposeLogin {
		return ErrNoPendingLogin
	}
	return ErrChallengeNotFound
}

// newChallenge makes challenge id for purpose p of userID with code, valid
// for the policy's CodeTTL from now.
func (s *Service) newChallenge(p Purpose, id, userID, code string, now time.Time) Challenge {
	return Challenge{
		ID:        id,
		UserID:    userID,
		Purpose:   p,
		CodeHash:  s.hashCode(p, id, code),
		CreatedAt: now,
		ExpiresAt: now.Add(s.policy.CodeTTL),
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

// countAttempt counts one try against challenge c and refuses it once the
// code has had MaxAttempts tries. Counting before checking keeps the bound
// exact under concurrency: parallel guesses each take their own number.
// Every challenge has its own ID, so a new code starts afresh.
func (s *Service) countAttempt(ctx context.Context, c Challenge) (int64, error) {
	n, _, err := s.limiter.Hit(ctx, "attempts:"+c.ID, s.policy.CodeTTL)
	if err != nil {
		return 0, fmt.Errorf("attempt counter: %w", err)
	}
	if n > int64(s.policy.MaxAttempts) {
		return n, s.tooManyAttempts(c, nil)
	}
	return n, nil
}

// attemptResult turns the last allowed wrong try into too many attempts, so
// the user learns at once that the code is dead.
func (s *Service) attemptResult(n int64, err error, c Challenge) error {
	if errors.Is(err, ErrCodeWrong) && n >= int64(s.policy.MaxAttempts) {
		return s.tooManyAttempts(c, err)
	}
	return err
}

// tooManyAttempts says when a new code for c's purpose can be had: a new
// registration once c expires, a new login once the login throttle that
// started with c runs out.
func (s *Service) tooManyAttempts(c Challenge, cause error) error {
	until := c.ExpiresAt
	if c.Purpose == PurposeLogin {
		until = c.CreatedAt.Add(s.policy.LoginThrottle)
	}
	err := ErrTooManyAttempts
	if cause != nil {
		err = fmt.Errorf("%w: %w", ErrTooManyAttempts, cause)
	}
	return &ThrottledError{Limit: LimitAttempts, RetryAfter: max(until.Sub(s.now()), 0), Err: err}
}
