// Package phoneauth is phone-number sign-in with SMS one-time codes.
//
// The root package holds the domain: the nouns (User, Challenge, Session),
// the rules (Policy) and the flows, which are methods of Service. It knows
// nothing of HTTP, SQL or Redis; adapters in sub-packages implement the
// interfaces it consumes (Store, Sender, Limiter, Tokens).
//
// The files, by purpose: policy.go (the rules' settings), challenge.go
// (an SMS code: making, hashing and checking it, counting its tries),
// limits.go (per-IP limit and the SMS budget), send.go (sending a code),
// register.go and login.go (the two sign-in code flows), account.go (what
// a signed-in user does with a code: delete the account, change its
// number), session.go (a session, its rotation and access rules, and the
// token flows: refresh, logout, me),
// token.go (what a token says and how a store finds its session), error.go
// (the error kinds), undo.go (taking back a failed flow's steps),
// metrics.go (what the flows report to an operator's metrics).
package phoneauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Service runs the sign-in flows. Build it with New; it is safe for
// concurrent use.
type Service struct {
	store   Store
	sender  Sender
	texts   Texts
	limiter Limiter
	tokens  Tokens
	policy  Policy
	region  string
	now     func() time.Time
	random  io.Reader
	codeKey []byte
	log     *slog.Logger
	metrics Metrics

	storeName, limiterName string // what Check calls them

	counterHashKey   []byte // keys the limiter's names for numbers
	smsRegions       []string
	testNumbers      map[string]string
	testNumbersUntil time.Time
	phones           *phoneCache // numbers as typed, read and classified
}

// Deps are the dependencies of a Service. Store, Sender, Limiter and Tokens
// are required; the rest default to the real clock, crypto/rand,
// slog.Default and no metrics.
type Deps struct {
	Store  Store
	Sender Sender
	// Texts writes each SMS's text; nil: DefaultText.
	Texts   Texts
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
	Metrics Metrics
	// StoreName names the database in Check's answer by what it is, as
	// "sqlite" or "postgres" ("database" if empty).
	StoreName string
	// LimiterName names the limiter's backend in Check's answer, as
	// "redis", when it is a dependency of its own. Empty when the counters
	// live in the store's database or in memory: Check then pings no
	// limiter, since the store's ping tells the same.
	LimiterName string
	// TestNumbers maps E.164 numbers to fixed codes, for app-store
	// reviewers and automated tests: such a number is never sent an SMS,
	// its fixed code works for register and login, and it skips the
	// region, number-type and SMS-budget checks; every other rule applies.
	// They stop working at TestNumbersUntil, which is required with them.
	TestNumbers      map[string]string
	TestNumbersUntil time.Time
}

// phoneCacheSize is how many numbers as typed a Service remembers the
// reading of, in each of its cache's two generations: about a megabyte
// in all. A number typed again within the next 4,096 new ones (its
// verification, its resend, a login soon after) is read once; a larger
// cache would only hold more of the numbers nobody types twice, and
// keep them in every instance's memory.
const phoneCacheSize = 4 << 10

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
	if err := ValidateTestNumbers(d.TestNumbers, d.TestNumbersUntil, d.Policy.CodeLength); err != nil {
		errs = append(errs, fmt.Errorf("phoneauth: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Service{
		store: d.Store, sender: d.Sender, limiter: d.Limiter, tokens: d.Tokens,
		policy: d.Policy, region: d.Region, now: d.Now, random: d.Random, log: d.Log,
		codeKey: append([]byte(nil), d.CodeKey...), metrics: d.Metrics,
		storeName: d.StoreName, limiterName: d.LimiterName,

		counterHashKey:   DeriveKey(d.CodeKey, "counter"),
		smsRegions:       slices.Clone(d.Policy.SMSRegions),
		testNumbers:      maps.Clone(d.TestNumbers),
		testNumbersUntil: d.TestNumbersUntil,
	}
	s.phones = newPhoneCache(phoneCacheSize)
	s.texts = d.Texts
	if s.texts == nil {
		s.texts = defaultTexts{}
	}
	if len(s.smsRegions) == 0 {
		s.smsRegions = []string{strings.ToUpper(d.Region)}
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
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	if s.storeName == "" {
		s.storeName = "database"
	}
	return s, nil
}

// ValidateTestNumbers checks test numbers as New takes them: each an
// E.164 number with a code of codeLength digits, and a time they stop
// working (until) whenever there are any.
func ValidateTestNumbers(numbers map[string]string, until time.Time, codeLength int) error {
	var errs []error
	if len(numbers) > 0 && until.IsZero() {
		errs = append(errs, errors.New("test numbers need the time they stop working"))
	}
	for phone, code := range numbers {
		if e164, err := ParsePhone(phone, "US"); err != nil || e164 != phone {
			errs = append(errs, fmt.Errorf("test number %q is not in E.164 form, as +15550100000", phone))
		}
		if len(code) != codeLength || strings.Trim(code, "0123456789") != "" {
			errs = append(errs, fmt.Errorf("the code of test number %s must be %d digits", maskPhone(phone), codeLength))
		}
	}
	return errors.Join(errs...)
}

// TestNumbersActive returns how many test numbers work at now: start-up
// warns about them.
func (s *Service) TestNumbersActive(now time.Time) int {
	if !now.Before(s.testNumbersUntil) {
		return 0
	}
	return len(s.testNumbers)
}

// Policy returns the policy the service runs with.
func (s *Service) Policy() Policy { return s.policy }

// Check pings every dependency at once, each bounded by ctx, and returns
// each one's answer under its name (Deps.StoreName, and Deps.LimiterName
// when the limiter is a dependency of its own): nil for one that is up.
// The pings run in parallel so a slow database cannot starve the limiter's
// check of time, or the other way round.
func (s *Service) Check(ctx context.Context) map[string]error {
	checks := map[string]func(context.Context) error{s.storeName: s.store.Ping}
	if s.limiterName != "" {
		checks[s.limiterName] = s.limiter.Ping
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	answers := map[string]error{}
	for name, ping := range checks {
		wg.Go(func() {
			err := ping(ctx)
			mu.Lock()
			answers[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return answers
}

// newID mints the ID of a new user, challenge or session. The service
// mints every ID and passes it to the store, so the stores decide nothing
// about identity.
func (s *Service) newID() (string, error) {
	id, err := uuid.NewRandomFromReader(s.random)
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return id.String(), nil
}

// storeErr names the store operation a store error came from: the one way
// every flow wraps them. The kinds the store returns stay matchable with
// errors.Is.
func storeErr(op string, err error) error {
	return fmt.Errorf("store: %s: %w", op, err)
}

// DeriveKey derives a purpose-specific key from a master secret, so one
// configured secret can key both token signatures and code hashes without
// reusing the same key for both.
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("phoneauth/" + purpose))
	return m.Sum(nil)
}
