// Package phoneauth is phone-number sign-in with SMS one-time codes.
//
// The root package holds the domain: the nouns (User, Challenge, Session),
// the rules (Policy) and the flows, which are methods of Service. It knows
// nothing of HTTP, SQL or Redis; adapters in sub-packages implement the
// interfaces it consumes (Store, Sender, Limiter, Tokens).
package phoneauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Service runs the sign-in flows. Build it with New; it is safe for
// concurrent use.
type Service struct {
	store   Store
	sender  Sender
	limiter Limiter
	tokens  Tokens
	policy  Policy
	region  string
	now     func() time.Time
	random  io.Reader
	codeKey []byte
	log     *slog.Logger
}

// Deps are the dependencies of a Service. Store, Sender, Limiter and Tokens
// are required; the rest default to the real clock, crypto/rand and
// slog.Default.
type Deps struct {
	Store   Store
	Sender  Sender
	Limiter Limiter
	Tokens  Tokens
	Policy  Policy
	// Region is the ISO 3166 region used to read numbers written without
	// a leading +, such as "US".
	Region string
	// CodeKey keys the hash under which SMS codes are stored. Every instance
	// sharing a database must use the same key.
	CodeKey []byte
	Now     func() time.Time
	Random  io.Reader
	Log     *slog.Logger
}

// New returns a Service, or an error naming what is missing or invalid.
func New(d Deps) (*Service, error) {
	var errs []error
	if d.Store == nil || d.Sender == nil || d.Limiter == nil || d.Tokens == nil {
		errs = append(errs, errors.New("phoneauth: store, sender, limiter and tokens are required"))
	}
	if len(d.CodeKey) < 16 {
		errs = append(errs, errors.New("phoneauth: code key must be at least 16 bytes"))
	}
	if !ValidRegion(d.Region) {
		errs = append(errs, fmt.Errorf("phoneauth: unknown region %q", d.Region))
	}
	if err := d.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("phoneauth: policy: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Service{
		store: d.Store, sender: d.Sender, limiter: d.Limiter, tokens: d.Tokens,
		policy: d.Policy, region: d.Region, now: d.Now, random: d.Random, log: d.Log,
		codeKey: append([]byte(nil), d.CodeKey...),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.random == nil {
		s.random = rand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Policy returns the policy the service runs with.
func (s *Service) Policy() Policy { return s.policy }

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

func (s *Service) newID() (string, error) {
	id, err := uuid.NewRandomFromReader(s.random)
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return id.String(), nil
}

// DeriveKey derives a purpose-specific key from a master secret, so one
// configured secret can key both token signatures and code hashes without
// reusing the same key for both.
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("phoneauth/" + purpose))
	return m.Sum(nil)
}
