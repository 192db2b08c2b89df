// Package storetest is the conformance suite of phoneauth.Store. Every
// storage backend runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) phoneauth.Store { return openTestStore(t) })
//	}
//
// The suite pins the meaning of each method as its doc comment states it,
// races included, so the backends cannot drift apart.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
)

// Run runs the conformance suite against the store that open returns.
//
// open is called once per subtest, from subtests that run in parallel, and
// must return a fresh, empty, migrated store independent of every other
// call's; it registers its own cleanup on t and fails or skips t itself when
// it cannot open the store.
func Run(t *testing.T, open func(t *testing.T) phoneauth.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(*testing.T, func(*testing.T) phoneauth.Store)
	}{
		{"Register", testRegister},
		{"CancelRegistration", testCancelRegistration},
		{"UserByPhone", testUserByPhone},
		{"PutLoginChallenge", testPutLoginChallenge},
		{"DeleteChallenge", testDeleteChallenge},
		{"VerifyRegistration", testVerifyRegistration},
		{"VerifyLogin", testVerifyLogin},
		{"Guessing", testGuessing},
		{"PutChallenge", testPutChallenge},
		{"DeleteAccount", testDeleteAccount},
		{"ChangePhone", testChangePhone},
		{"RotateRefresh", testRotateRefresh},
		{"RevokeToken", testRevokeToken},
		{"AccessUser", testAccessUser},
		{"Prune", testPrune},
		{"Audit", testAudit},
		{"Ping", testPing},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, open)
		})
	}
}

// Concurrency is how many goroutines the race tests start at once.
const Concurrency = 16

const (
	codeTTL    = 5 * time.Minute
	accessTTL  = 15 * time.Minute
	refreshTTL = 720 * time.Hour
)

// base is the fixed "now" of every test. It is not in UTC and carries
// nanoseconds, so a store that keeps the zone or drops to seconds is seen.
var base = time.Date(2026, time.March, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+1", 3600))

// fixture is one fresh store under test.
type fixture struct {
	t *testing.T
	s phoneauth.Store
}

func newFixture(t *testing.T, open func(*testing.T) phoneauth.Store) *fixture {
	t.Helper()
	t.Parallel()
	s := open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	return &fixture{t: t, s: s}
}

// hash stands in for the service's keyed code hash.
func hash(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

func newID() string { return uuid.NewString() }

// phoneN returns a distinct, valid E.164 test number.
func phoneN(n int) string { return fmt.Sprintf("+1555555%04d", n) }

func newUser(phone string, now time.Time) phoneauth.User {
	return phoneauth.User{ID: newID(), Phone: phone, CreatedAt: now}
}

func newChallenge(p phoneauth.Purpose, userID, code string, now time.Time) phoneauth.Challenge {
	return phoneauth.Challenge{
		ID:        newID(),
		UserID:    userID,
		Purpose:   p,
		CodeHash:  hash(code),
		CreatedAt: now,
		ExpiresAt: now.Add(codeTTL),
	}
}

// register creates an unverified account for phone at now.
func (f *fixture) register(phone string, now time.Time) (phoneauth.User, phoneauth.Challenge) {
	f.t.Helper()
	u := newUser(phone, now)
	c := newChallenge(phoneauth.PurposeRegister, "", "reg-"+u.ID, now)
	if _, err := f.s.Register(f.t.Context(), u, c, now); err != nil {
		f.t.Fatalf("Register(%s): %v", phone, err)
	}
	got := f.user(phone)
	c.UserID = got.ID
	return got, c
}

// user returns the account of phone, failing the test if there is none.
func (f *fixture) user(phone string) phoneauth.User {
	f.t.Helper()
	u, err := f.s.UserByPhone(f.t.Context(), phone)
	if err != nil {
		f.t.Fatalf("UserByPhone(%s): %v", phone, err)
	}
	return u
}

// verified creates a verified account for phone at base.
func (f *fixture) verified(phone string) phoneauth.User {
	f.t.Helper()
	u, c := f.register(phone, base)
	if err := verifyRegistration(f.t.Context(), f.s, c.ID, phone, c.CodeHash, base); err != nil {
		f.t.Fatalf("VerifyRegistration(%s): %v", phone, err)
	}
	u.Verified = true
	checkUser(f.t, "UserByPhone after VerifyRegistration", f.user(phone), u)
	return u
}

// putLogin stores a login challenge for userID with code, through
// PutChallenge: whether the account is verified or not, and with no
// throttle (it must not be locked).
func (f *fixture) putLogin(userID, code string, now time.Time) phoneauth.Challenge {
	f.t.Helper()
	c := newChallenge(phoneauth.PurposeLogin, userID, code, now)
	if _, _, err := f.s.PutChallenge(f.t.Context(), c, c.CreatedAt); err != nil {
		f.t.Fatalf("PutChallenge(login of %s): %v", userID, err)
	}
	return c
}

// strictTry is Try of code hash h at now under a policy of one try a code
// and one failure a lockout: a wrong one locks the account and kills the
// code it is decided on.
func strictTry(h []byte, now time.Time) phoneauth.Try {
	try := Try(h, now)
	try.Policy.LockoutThreshold, try.Policy.MaxAttempts = 1, 1
	return try
}

// Policy is the policy the suite's tries are decided by.
var Policy = phoneauth.Policy{
	CodeTTL:          codeTTL,
	LoginThrottle:    codeTTL,
	CodeLength:       6,
	MaxAttempts:      5,
	AccessTTL:        accessTTL,
	RefreshTTL:       refreshTTL,
	LockoutThreshold: 20,
	LockoutDuration:  15 * time.Minute,
}

// Try is a try at now, under Policy, of the code whose hash is h: what a
// backend's own tests hand the Verify methods.
func Try(h []byte, now time.Time) phoneauth.Try {
	return phoneauth.Try{Hash: func(phoneauth.Challenge) []byte { return h }, Now: now, Policy: Policy}
}

func verifyRegistration(ctx context.Context, s phoneauth.Store, id, phone string, h []byte, now time.Time) error {
	_, err := s.VerifyRegistration(ctx, id, phone, Try(h, now))
	return err
}

func verifyLogin(ctx context.Context, s phoneauth.Store, userID string, h []byte, now time.Time, sess phoneauth.Session) error {
	_, err := s.VerifyLogin(ctx, userID, Try(h, now), sess)
	return err
}

// wantErr fails t unless err matches want (nil meaning success).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: got error %v, want success", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// checkUser compares users field by field; times at millisecond precision
// and in UTC.
func checkUser(t *testing.T, what string, got, want phoneauth.User) {
	t.Helper()
	if got.ID != want.ID || got.Phone != want.Phone || got.Verified != want.Verified {
		t.Errorf("%s: got user {ID:%s Phone:%s Verified:%t}, want {ID:%s Phone:%s Verified:%t}",
			what, got.ID, got.Phone, got.Verified, want.ID, want.Phone, want.Verified)
	}
	if g, w := got.CreatedAt.Truncate(time.Millisecond), want.CreatedAt.Truncate(time.Millisecond); !g.Equal(w) {
		t.Errorf("%s: got CreatedAt %s, want %s (at millisecond precision)", what, g, w)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: got CreatedAt in zone %s, want UTC", what, got.CreatedAt.Location())
	}
}

// race runs f on Concurrency goroutines released at the same moment and
// returns their errors, in goroutine order.
func race(f func(i int) error) []error {
	errs := make([]error, Concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range Concurrency {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkOneWinner fails t unless exactly one of errs is nil and every other
// matches loser. It returns the winner's index.
func checkOneWinner(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("goroutines %d and %d both succeeded, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("goroutine %d: got error %v, want %v", i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("no goroutine succeeded, want exactly one")
	}
	return winner
}

func testRegister(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("new number creates an unverified account whose code verifies", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u := newUser(phone, base)
		c := newChallenge(phoneauth.PurposeRegister, "", "123456", base)
		_, err := f.s.Register(t.Context(), u, c, base)
		wantErr(t, "Register", err, nil)
		byPhone, err := f.s.UserByPhone(t.Context(), phone)
		wantErr(t, "UserByPhone", err, nil)
		checkUser(t, "UserByPhone", byPhone, u)
		err = verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, base)
		wantErr(t, "VerifyRegistration", err, nil)
	})

	t.Run("verified account refuses with ErrUserExists", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		f.verified(phone)
		later := base.Add(2 * codeTTL) // its code is long expired: verified still wins
		_, err := f.s.Register(t.Context(), newUser(phone, later), newChallenge(phoneauth.PurposeRegister, "", "1", later), later)
		wantErr(t, "second Register", err, phoneauth.ErrUserExists)
	})

	t.Run("unverified account with a live code refuses with ErrUserExists and keeps its code", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		_, first := f.register(phone, base)
		now := first.ExpiresAt.Add(-time.Millisecond)
		second := newChallenge(phoneauth.PurposeRegister, "", "2", now)
		_, err := f.s.Register(t.Context(), newUser(phone, now), second, now)
		wantErr(t, "second Register", err, phoneauth.ErrUserExists)
		err = verifyRegistration(t.Context(), f.s, second.ID, phone, second.CodeHash, now)
		wantErr(t, "VerifyRegistration of the refused challenge", err, phoneauth.ErrChallengeNotFound)
		err = verifyRegistration(t.Context(), f.s, first.ID, phone, first.CodeHash, now)
		wantErr(t, "VerifyRegistration of the first challenge", err, nil)
	})

	for _, tc := range []struct {
		name  string
		prune func(f *fixture, c phoneauth.Challenge) time.Time // returns when to register again
	}{
		{
			name:  "unverified account whose code expired is returned with the new code",
			prune: func(_ *fixture, c phoneauth.Challenge) time.Time { return c.ExpiresAt },
		},
		{
			name: "unverified account without a code is returned with the new code",
			prune: func(f *fixture, c phoneauth.Challenge) time.Time {
				wantErr(f.t, "DeleteChallenge", f.s.DeleteChallenge(f.t.Context(), c.ID), nil)
				return base.Add(time.Second)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, open)
			phone := phoneN(1)
			first, old := f.register(phone, base)
			now := tc.prune(f, old)
			c := newChallenge(phoneauth.PurposeRegister, "", "again", now)
			_, err := f.s.Register(t.Context(), newUser(phone, now), c, now)
			wantErr(t, "second Register", err, nil)
			checkUser(t, "UserByPhone after the second Register", f.user(phone), first)
			err = verifyRegistration(t.Context(), f.s, old.ID, phone, old.CodeHash, now)
			wantErr(t, "VerifyRegistration of the replaced challenge", err, phoneauth.ErrChallengeNotFound)
			err = verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, now)
			wantErr(t, "VerifyRegistration of the new challenge", err, nil)
			first.Verified = true
			checkUser(t, "UserByPhone after VerifyRegistration", f.user(phone), first)
		})
	}

	t.Run("concurrent registrations of one number: one succeeds, the rest get ErrUserExists", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		users := make([]phoneauth.User, Concurrency)
		challenges := make([]phoneauth.Challenge, Concurrency)
		for i := range users {
			users[i] = newUser(phone, base)
			challenges[i] = newChallenge(phoneauth.PurposeRegister, "", fmt.Sprint(i), base)
		}
		errs := race(func(i int) error {
			_, err := f.s.Register(t.Context(), users[i], challenges[i], base)
			return err
		})
		w := checkOneWinner(t, errs, phoneauth.ErrUserExists)
		got, err := f.s.UserByPhone(t.Context(), phone)
		wantErr(t, "UserByPhone", err, nil)
		checkUser(t, "UserByPhone", got, users[w])
		err = verifyRegistration(t.Context(), f.s, challenges[w].ID, phone, challenges[w].CodeHash, base)
		wantErr(t, "VerifyRegistration of the winner's challenge", err, nil)
	})
}

func testCancelRegistration(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("deletes an unverified account and its challenge so the number registers again", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		_, c := f.register(phone, base)
		wantErr(t, "CancelRegistration", f.s.CancelRegistration(t.Context(), c.ID), nil)
		_, err := f.s.UserByPhone(t.Context(), phone)
		wantErr(t, "UserByPhone", err, phoneauth.ErrUserNotFound)
		err = verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, base)
		wantErr(t, "VerifyRegistration", err, phoneauth.ErrChallengeNotFound)
		wantErr(t, "second CancelRegistration", f.s.CancelRegistration(t.Context(), c.ID), nil)
		// Same instant: the cancelled code must not count as live.
		u := newUser(phone, base)
		_, err = f.s.Register(t.Context(), u, newChallenge(phoneauth.PurposeRegister, "", "2", base), base)
		wantErr(t, "Register again", err, nil)
		checkUser(t, "UserByPhone after Register again", f.user(phone), u)
	})

	t.Run("keeps an unverified account that existed before the registration it cancels, with its failed checks", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		first, old := f.register(phone, base)
		wantErr(t, "wrong try", f.wrongTry(old.ID, phone, "", base), phoneauth.ErrCodeWrong)
		later := old.ExpiresAt
		_, again := f.register(phone, later)
		wantErr(t, "CancelRegistration", f.s.CancelRegistration(t.Context(), again.ID), nil)
		checkUser(t, "UserByPhone after the cancelled registration", f.user(phone), first)
		err := verifyRegistration(t.Context(), f.s, again.ID, phone, again.CodeHash, later)
		wantErr(t, "VerifyRegistration of the cancelled challenge", err, phoneauth.ErrChallengeNotFound)
		// The failure before the cancelled registration still counts:
		// threshold-1 more lock the account.
		_, c := f.register(phone, later)
		var err2 error
		for i := 1; i < Policy.LockoutThreshold; i++ {
			if i%Policy.MaxAttempts == 0 {
				later = c.ExpiresAt
				_, c = f.register(phone, later)
			}
			err2 = f.wrongTry(c.ID, phone, "", later)
		}
		wantErr(t, "the threshold-th failure, one of them before the cancelled registration", err2, phoneauth.ErrAccountLocked)
	})

	t.Run("keeps a verified account", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u, c := f.register(phone, base)
		err := verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, base)
		wantErr(t, "VerifyRegistration", err, nil)
		wantErr(t, "CancelRegistration", f.s.CancelRegistration(t.Context(), c.ID), nil)
		got, err := f.s.UserByPhone(t.Context(), phone)
		wantErr(t, "UserByPhone", err, nil)
		u.Verified = true
		checkUser(t, "UserByPhone", got, u)
	})

	t.Run("unknown challenge is no error", func(t *testing.T) {
		f := newFixture(t, open)
		wantErr(t, "CancelRegistration", f.s.CancelRegistration(t.Context(), newID()), nil)
	})
}

func testUserByPhone(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("unknown number returns ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		f.register(phoneN(1), base)
		_, err := f.s.UserByPhone(t.Context(), phoneN(2))
		wantErr(t, "UserByPhone", err, phoneauth.ErrUserNotFound)
	})

	t.Run("returns each account by its own number, verified or not", func(t *testing.T) {
		f := newFixture(t, open)
		unverified, _ := f.register(phoneN(1), base)
		verified := f.verified(phoneN(2))
		for _, want := range []phoneauth.User{unverified, verified} {
			got, err := f.s.UserByPhone(t.Context(), want.Phone)
			wantErr(t, "UserByPhone", err, nil)
			checkUser(t, "UserByPhone", got, want)
		}
	})
}

func testPutLoginChallenge(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("puts the challenge of the verified account of the number and returns the account", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		c := newChallenge(phoneauth.PurposeLogin, "", "code", base)
		got, _, err := f.s.PutLoginChallenge(t.Context(), u.Phone, c, base.Add(-codeTTL))
		wantErr(t, "PutLoginChallenge", err, nil)
		if got.ID != u.ID || got.Phone != u.Phone || !got.Verified {
			t.Errorf("PutLoginChallenge returned %+v, want ID %s, phone %s, verified", got, u.ID, u.Phone)
		}
		err = verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base, newSession(u.ID, base))
		wantErr(t, "VerifyLogin with its code", err, nil)
	})

	t.Run("refusals in order: no account, not verified, locked, a code pending; nothing changes", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		refused := func(at time.Time) phoneauth.Challenge {
			c := newChallenge(phoneauth.PurposeLogin, "", "refused", at)
			c.Audit = phoneauth.Event{Kind: phoneauth.EventLoginRequest, ClientIP: "192.0.2.1"}
			return c
		}
		try := func(phone string, at time.Time) (phoneauth.User, time.Time, error) {
			return f.s.PutLoginChallenge(ctx, phone, refused(at), at.Add(-codeTTL))
		}
		u, _, err := try(phoneN(9), base)
		wantErr(t, "PutLoginChallenge for a number with no account", err, phoneauth.ErrUserNotFound)
		if u.ID != "" {
			t.Errorf("no account: returned %+v, want the zero User", u)
		}

		unverified, _ := f.register(phoneN(2), base)
		u, _, err = try(phoneN(2), base)
		wantErr(t, "PutLoginChallenge for an unverified account", err, phoneauth.ErrNotVerified)
		if u.ID != unverified.ID || u.Verified {
			t.Errorf("unverified: returned %+v, want ID %s, not verified", u, unverified.ID)
		}
		err = verifyLogin(ctx, f.s, unverified.ID, hash("refused"), base, newSession(unverified.ID, base))
		wantErr(t, "VerifyLogin of the unverified account's refused code", err, phoneauth.ErrNoPendingLogin)

		// Unverified and locked (by wrong registration codes): not
		// verified is what is said.
		lockedUnverified, reg := f.register(phoneN(4), base)
		regTry := Try(hash("wrong"), base)
		regTry.Policy.LockoutThreshold = 1
		_, err = f.s.VerifyRegistration(ctx, reg.ID, lockedUnverified.Phone, regTry)
		wantErr(t, "the wrong registration code that locks the account", err, phoneauth.ErrAccountLocked)
		_, _, err = try(lockedUnverified.Phone, base.Add(time.Second))
		wantErr(t, "PutLoginChallenge for an unverified, locked account", err, phoneauth.ErrNotVerified)

		// Locked (by a wrong code), with a login code pending too: the
		// lock is what is said.
		v := f.verified(phoneN(3))
		pending := f.putLogin(v.ID, "pending", base)
		lockTry := Try(hash("wrong"), base)
		lockTry.Policy.LockoutThreshold = 1
		_, err = f.s.VerifyLogin(ctx, v.ID, lockTry, newSession(v.ID, base))
		wantErr(t, "the wrong code that locks the account", err, phoneauth.ErrAccountLocked)
		locked := base.Add(time.Second)
		u, _, err = try(v.Phone, locked)
		wantErr(t, "PutLoginChallenge while locked", err, phoneauth.ErrAccountLocked)
		if u.ID != v.ID || !u.LockedUntil.After(locked) {
			t.Errorf("locked: returned %+v, want ID %s, locked until after %s", u, v.ID, locked)
		}

		// Once the lock has ended, the pending code is what is said (here
		// with a throttle longer than the lockout).
		free := base.Add(Policy.LockoutDuration)
		u, since, err := f.s.PutLoginChallenge(ctx, v.Phone, refused(free), base.Add(-time.Second))
		wantErr(t, "PutLoginChallenge once the lock has ended, within the throttle", err, phoneauth.ErrLoginPending)
		if u.ID != v.ID || !since.Equal(pending.CreatedAt.Truncate(time.Millisecond)) && !since.Equal(pending.CreatedAt.Truncate(time.Microsecond)) {
			t.Errorf("pending: returned %+v since %s, want ID %s since %s", u, since, v.ID, pending.CreatedAt)
		}
		if evs, err := f.s.Events(ctx, "", phoneauth.EventLoginRequest, time.Time{}, 100); err != nil || len(evs) != 0 {
			t.Errorf("refusals recorded %d login_request events (%v), want none", len(evs), err)
		}
	})

	t.Run("an unconsumed challenge newer than notBefore is the throttle: ErrLoginPending with its age, nothing changes", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		first := f.putLogin(u.ID, "first", base)
		later := base.Add(time.Minute)
		second := newChallenge(phoneauth.PurposeLogin, "", "second", later)
		_, since, err := f.s.PutLoginChallenge(t.Context(), u.Phone, second, later.Add(-codeTTL))
		wantErr(t, "PutLoginChallenge within the throttle", err, phoneauth.ErrLoginPending)
		if !since.Equal(base.Truncate(time.Millisecond)) && !since.Equal(base.Truncate(time.Microsecond)) {
			t.Errorf("pending since %s, want %s", since, base)
		}
		err = verifyLogin(t.Context(), f.s, u.ID, second.CodeHash, later, newSession(u.ID, later))
		wantErr(t, "VerifyLogin with the refused code", err, phoneauth.ErrCodeWrong)
		err = verifyLogin(t.Context(), f.s, u.ID, first.CodeHash, later, newSession(u.ID, later))
		wantErr(t, "VerifyLogin with the first code", err, nil)
	})

	t.Run("a challenge as old as notBefore, or consumed, is replaced with a fresh count of tries", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		f.putLogin(u.ID, "first", base)
		err := verifyLogin(t.Context(), f.s, u.ID, hash("wrong"), base, newSession(u.ID, base))
		wantErr(t, "wrong VerifyLogin", err, phoneauth.ErrCodeWrong)
		next := base.Add(codeTTL)
		c := newChallenge(phoneauth.PurposeLogin, "", "next", next)
		_, _, err = f.s.PutLoginChallenge(t.Context(), u.Phone, c, next.Add(-codeTTL))
		wantErr(t, "PutLoginChallenge once the throttle has passed", err, nil)
		for i := range Policy.MaxAttempts - 1 {
			err := verifyLogin(t.Context(), f.s, u.ID, hash("wrong"), next, newSession(u.ID, next))
			wantErr(t, fmt.Sprintf("wrong try %d of the new code", i+1), err, phoneauth.ErrCodeWrong)
		}
		err = verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, next, newSession(u.ID, next))
		wantErr(t, "the right code on the last try", err, nil)
		again := newChallenge(phoneauth.PurposeLogin, "", "again", next)
		_, _, err = f.s.PutLoginChallenge(t.Context(), u.Phone, again, next.Add(-codeTTL))
		wantErr(t, "PutLoginChallenge after a consumed one, within the throttle", err, nil)
	})

	t.Run("concurrent puts within the throttle: one wins, the rest get ErrLoginPending", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		f.login(u)
		now := base.Add(time.Minute)
		cs := make([]phoneauth.Challenge, Concurrency)
		for i := range cs {
			cs[i] = newChallenge(phoneauth.PurposeLogin, "", fmt.Sprint(i), now)
		}
		since := make([]time.Time, len(cs))
		errs := race(func(i int) error {
			var err error
			_, since[i], err = f.s.PutLoginChallenge(t.Context(), u.Phone, cs[i], now.Add(-codeTTL))
			return err
		})
		w := checkOneWinner(t, errs, phoneauth.ErrLoginPending)
		// Every loser learns the winner's age (now), not that of the code
		// the winner replaced (base), so its Retry-After is the whole
		// throttle.
		for i := range cs {
			if i != w && since[i].Sub(now).Abs() > time.Millisecond {
				t.Errorf("loser %d: pending since %s, want %s", i, since[i], now)
			}
		}
		err := verifyLogin(t.Context(), f.s, u.ID, cs[w].CodeHash, now, newSession(u.ID, now))
		wantErr(t, "VerifyLogin with the winner's code", err, nil)
	})

	t.Run("a lockout committed by a concurrent try is seen: no code is put for a locked account", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		for round := range 10 {
			v := f.verified(phoneN(100 + round))
			f.putLogin(v.ID, "pending", base)
			c := newChallenge(phoneauth.PurposeLogin, "", "new", base)
			var putErr error
			errs := race(func(i int) error {
				switch i {
				case 0:
					_, err := f.s.VerifyLogin(ctx, v.ID, strictTry(hash("wrong"), base), newSession(v.ID, base))
					return err
				case 1:
					// notBefore is the pending code's time: it is
					// replaced unless the account is locked.
					_, _, putErr = f.s.PutLoginChallenge(ctx, v.Phone, c, base)
				}
				return nil
			})
			wantErr(t, "the wrong try that locks the account", errs[0], phoneauth.ErrAccountLocked)
			if putErr != nil {
				wantErr(t, "PutLoginChallenge beside the locking try", putErr, phoneauth.ErrAccountLocked)
			}
			// Put before the try, c took the try and is dead; refused,
			// the pending code did. Put after the lock, c would still
			// have its try, and its right code would be judged expired.
			_, err := f.s.VerifyLogin(ctx, v.ID, strictTry(c.CodeHash, base.Add(Policy.LockoutDuration)), newSession(v.ID, base))
			wantErr(t, "the new code once the lock has ended", err, phoneauth.ErrTooManyAttempts)
		}
	})

	t.Run("unknown number returns ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		_, _, err := f.s.PutLoginChallenge(t.Context(), phoneN(1), newChallenge(phoneauth.PurposeLogin, "", "1", base), base)
		wantErr(t, "PutLoginChallenge", err, phoneauth.ErrUserNotFound)
	})

	t.Run("replaces the earlier login challenge: the old code fails, the new one works", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		old := f.putLogin(u.ID, "old", base)
		c := newChallenge(phoneauth.PurposeLogin, "", "new", base.Add(time.Second))
		_, _, err := f.s.PutLoginChallenge(t.Context(), u.Phone, c, base)
		wantErr(t, "PutLoginChallenge with old's time as notBefore", err, nil)
		err = verifyLogin(t.Context(), f.s, u.ID, old.CodeHash, base.Add(time.Second), newSession(u.ID, base))
		wantErr(t, "VerifyLogin with the old code", err, phoneauth.ErrCodeWrong)
		err = verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base.Add(time.Second), newSession(u.ID, base))
		wantErr(t, "VerifyLogin with the new code", err, nil)
	})

	t.Run("replaces a consumed login challenge so the user can sign in again", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		f.login(u)
		now := base.Add(time.Minute)
		c := newChallenge(phoneauth.PurposeLogin, "", "again", now)
		_, _, err := f.s.PutLoginChallenge(t.Context(), u.Phone, c, now.Add(-codeTTL))
		wantErr(t, "PutLoginChallenge within the throttle, after a consumed one", err, nil)
		err = verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, now, newSession(u.ID, now))
		wantErr(t, "second VerifyLogin", err, nil)
	})
}

func testDeleteChallenge(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("deleted login challenge leaves no pending login", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		c := f.putLogin(u.ID, "1", base)
		wantErr(t, "DeleteChallenge", f.s.DeleteChallenge(t.Context(), c.ID), nil)
		err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base, newSession(u.ID, base))
		wantErr(t, "VerifyLogin", err, phoneauth.ErrNoPendingLogin)
	})

	t.Run("deleted registration challenge cannot be verified", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		_, c := f.register(phone, base)
		wantErr(t, "DeleteChallenge", f.s.DeleteChallenge(t.Context(), c.ID), nil)
		err := verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, base)
		wantErr(t, "VerifyRegistration", err, phoneauth.ErrChallengeNotFound)
	})

	t.Run("unknown challenge is no error", func(t *testing.T) {
		f := newFixture(t, open)
		wantErr(t, "DeleteChallenge", f.s.DeleteChallenge(t.Context(), newID()), nil)
	})
}

func testVerifyRegistration(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("right code before expiry verifies the account", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u, c := f.register(phone, base)
		err := verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, c.ExpiresAt.Add(-time.Millisecond))
		wantErr(t, "VerifyRegistration", err, nil)
		u.Verified = true
		byPhone, err := f.s.UserByPhone(t.Context(), phone)
		wantErr(t, "UserByPhone", err, nil)
		checkUser(t, "UserByPhone", byPhone, u)
	})

	for _, tc := range []struct {
		name    string
		hash    []byte // nil: the right one
		at      time.Duration
		wantErr error
	}{
		{"wrong code returns ErrCodeWrong", hash("wrong"), 0, phoneauth.ErrCodeWrong},
		{"empty code hash returns ErrCodeWrong", []byte{}, 0, phoneauth.ErrCodeWrong},
		{"right code at its expiry returns ErrCodeExpired", nil, codeTTL, phoneauth.ErrCodeExpired},
		{"wrong code after expiry returns ErrCodeExpired", hash("wrong"), codeTTL + time.Hour, phoneauth.ErrCodeExpired},
	} {
		t.Run(tc.name+" and leaves the challenge usable", func(t *testing.T) {
			f := newFixture(t, open)
			phone := phoneN(1)
			u, c := f.register(phone, base)
			h := tc.hash
			if h == nil {
				h = c.CodeHash
			}
			err := verifyRegistration(t.Context(), f.s, c.ID, phone, h, base.Add(tc.at))
			wantErr(t, "VerifyRegistration", err, tc.wantErr)
			got, err := f.s.UserByPhone(t.Context(), phone)
			wantErr(t, "UserByPhone", err, nil)
			checkUser(t, "UserByPhone after the failure", got, u)
			err = verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, base)
			wantErr(t, "VerifyRegistration with the right code in time", err, nil)
		})
	}

	for _, tc := range []struct {
		name string
		// args returns the challenge ID, phone and hash presented.
		args func(f *fixture) (id, phone string, codeHash []byte)
	}{
		{
			name: "unknown challenge returns ErrChallengeNotFound",
			args: func(f *fixture) (string, string, []byte) {
				_, c := f.register(phoneN(1), base)
				return newID(), phoneN(1), c.CodeHash
			},
		},
		{
			name: "challenge of another number returns ErrChallengeNotFound",
			args: func(f *fixture) (string, string, []byte) {
				_, c := f.register(phoneN(1), base)
				f.register(phoneN(2), base)
				return c.ID, phoneN(2), c.CodeHash
			},
		},
		{
			name: "challenge for an unregistered number returns ErrChallengeNotFound",
			args: func(f *fixture) (string, string, []byte) {
				_, c := f.register(phoneN(1), base)
				return c.ID, phoneN(3), c.CodeHash
			},
		},
		{
			name: "login challenge returns ErrChallengeNotFound",
			args: func(f *fixture) (string, string, []byte) {
				u := f.verified(phoneN(1))
				c := f.putLogin(u.ID, "1", base)
				return c.ID, u.Phone, c.CodeHash
			},
		},
		{
			name: "second use of a challenge returns ErrChallengeNotFound",
			args: func(f *fixture) (string, string, []byte) {
				_, c := f.register(phoneN(1), base)
				if err := verifyRegistration(f.t.Context(), f.s, c.ID, phoneN(1), c.CodeHash, base); err != nil {
					f.t.Fatalf("first VerifyRegistration: %v", err)
				}
				return c.ID, phoneN(1), c.CodeHash
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, open)
			id, phone, h := tc.args(f)
			err := verifyRegistration(t.Context(), f.s, id, phone, h, base)
			wantErr(t, "VerifyRegistration", err, phoneauth.ErrChallengeNotFound)
		})
	}

	t.Run("concurrent verifications of one code: one succeeds, the rest get ErrChallengeNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		_, c := f.register(phone, base)
		errs := race(func(int) error {
			err := verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, base)
			return err
		})
		checkOneWinner(t, errs, phoneauth.ErrChallengeNotFound)
	})
}

func testVerifyLogin(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("right code before expiry opens the session, whose tokens are accepted", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		c := f.putLogin(u.ID, "1", base)
		now := c.ExpiresAt.Add(-time.Millisecond)
		sess := newSession(u.ID, now)
		err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, now, sess)
		wantErr(t, "VerifyLogin", err, nil)
		got, err := f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
		wantErr(t, "AccessUser", err, nil)
		checkUser(t, "AccessUser", got, u)
		next, err := f.rotate(refreshOf(sess), now)
		wantErr(t, "RotateRefresh", err, nil)
		checkSession(t, "RotateRefresh", next, rotated(sess, now))
	})

	for _, tc := range []struct {
		name    string
		hash    []byte // nil: the right one
		at      time.Duration
		wantErr error
	}{
		{"wrong code returns ErrCodeWrong", hash("wrong"), 0, phoneauth.ErrCodeWrong},
		{"right code at its expiry returns ErrCodeExpired", nil, codeTTL, phoneauth.ErrCodeExpired},
		{"wrong code after expiry returns ErrCodeExpired", hash("wrong"), codeTTL + time.Hour, phoneauth.ErrCodeExpired},
	} {
		t.Run(tc.name+" and opens no session", func(t *testing.T) {
			f := newFixture(t, open)
			u := f.verified(phoneN(1))
			c := f.putLogin(u.ID, "1", base)
			h := tc.hash
			if h == nil {
				h = c.CodeHash
			}
			sess := newSession(u.ID, base)
			err := verifyLogin(t.Context(), f.s, u.ID, h, base.Add(tc.at), sess)
			wantErr(t, "VerifyLogin", err, tc.wantErr)
			_, err = f.rotate(refreshOf(sess), base)
			wantErr(t, "RotateRefresh in the refused session", err, phoneauth.ErrTokenRevoked)
			_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
			wantErr(t, "AccessUser in the refused session", err, phoneauth.ErrTokenRevoked)
			err = verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base, newSession(u.ID, base))
			wantErr(t, "VerifyLogin with the right code in time", err, nil)
		})
	}

	for _, tc := range []struct {
		name string
		// args returns the user ID and code hash presented.
		args func(f *fixture) (userID string, codeHash []byte)
	}{
		{
			name: "no login challenge returns ErrNoPendingLogin",
			args: func(f *fixture) (string, []byte) {
				u := f.verified(phoneN(1))
				return u.ID, hash("1")
			},
		},
		{
			name: "unknown user returns ErrNoPendingLogin",
			args: func(f *fixture) (string, []byte) {
				return newID(), hash("1")
			},
		},
		{
			name: "registration challenge is no pending login",
			args: func(f *fixture) (string, []byte) {
				u, c := f.register(phoneN(1), base)
				return u.ID, c.CodeHash
			},
		},
		{
			name: "second use of a code returns ErrNoPendingLogin",
			args: func(f *fixture) (string, []byte) {
				u := f.verified(phoneN(1))
				c := f.putLogin(u.ID, "1", base)
				if err := verifyLogin(f.t.Context(), f.s, u.ID, c.CodeHash, base, newSession(u.ID, base)); err != nil {
					f.t.Fatalf("first VerifyLogin: %v", err)
				}
				return u.ID, c.CodeHash
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, open)
			userID, h := tc.args(f)
			err := verifyLogin(t.Context(), f.s, userID, h, base, newSession(userID, base))
			wantErr(t, "VerifyLogin", err, phoneauth.ErrNoPendingLogin)
		})
	}

	t.Run("concurrent verifications of one code: one succeeds, the rest get ErrNoPendingLogin", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		c := f.putLogin(u.ID, "1", base)
		sessions := make([]phoneauth.Session, Concurrency)
		for i := range sessions {
			sessions[i] = newSession(u.ID, base)
		}
		errs := race(func(i int) error {
			err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base, sessions[i])
			return err
		})
		w := checkOneWinner(t, errs, phoneauth.ErrNoPendingLogin)
		for i, sess := range sessions {
			want := phoneauth.ErrTokenRevoked // never opened
			if i == w {
				want = nil
			}
			_, err := f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
			wantErr(t, fmt.Sprintf("AccessUser in the session of goroutine %d", i), err, want)
		}
	})
}

// prune runs Prune at now and fails t unless it deleted want rows.
func (f *fixture) prune(now time.Time, want int64) {
	f.t.Helper()
	got, err := f.s.Prune(f.t.Context(), now)
	if err != nil {
		f.t.Fatalf("Prune(%s): %v", now, err)
	}
	if got != want {
		f.t.Fatalf("Prune(%s): got %d rows deleted, want %d", now, got, want)
	}
}

func testPrune(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("empty store deletes nothing", func(t *testing.T) {
		f := newFixture(t, open)
		f.prune(base, 0)
	})

	t.Run("consumed and expired challenges go; live ones stay and still verify", func(t *testing.T) {
		f := newFixture(t, open)
		now := base.Add(time.Minute)
		// Dead: the registration challenges of u1 and u2 (consumed) and the
		// login challenge of u2 (expired). The expired registration code of
		// u3, unverified, stays with its account for a day.
		u1, u2 := f.verified(phoneN(1)), f.verified(phoneN(2))
		_, expiredReg := f.register(phoneN(3), base.Add(-codeTTL))
		expiredLogin := f.putLogin(u2.ID, "2", now.Add(-codeTTL))
		// Live: the registration challenge of u4 and the login challenge
		// of u1.
		_, liveReg := f.register(phoneN(4), base)
		liveLogin := f.putLogin(u1.ID, "1", base)

		f.prune(now, 3)
		f.prune(now, 0)
		err := verifyRegistration(t.Context(), f.s, liveReg.ID, phoneN(4), liveReg.CodeHash, now)
		wantErr(t, "VerifyRegistration of the live challenge", err, nil)
		err = verifyLogin(t.Context(), f.s, u1.ID, liveLogin.CodeHash, now, newSession(u1.ID, now))
		wantErr(t, "VerifyLogin of the live challenge", err, nil)
		err = verifyRegistration(t.Context(), f.s, expiredReg.ID, phoneN(3), expiredReg.CodeHash, now)
		wantErr(t, "VerifyRegistration of the kept expired challenge", err, phoneauth.ErrCodeExpired)
		// Had the expired login challenge stayed, it would be ErrCodeExpired.
		err = verifyLogin(t.Context(), f.s, u2.ID, expiredLogin.CodeHash, now, newSession(u2.ID, now))
		wantErr(t, "VerifyLogin of the pruned challenge", err, phoneauth.ErrNoPendingLogin)
	})

	t.Run("challenge goes at its expiry, not a millisecond before", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		f.prune(base, 1) // the consumed registration challenge
		c := f.putLogin(u.ID, "1", base)
		f.prune(c.ExpiresAt.Add(-time.Millisecond), 0)
		err := verifyLogin(t.Context(), f.s, u.ID, hash("wrong"), c.ExpiresAt.Add(-time.Millisecond),
			newSession(u.ID, base))
		wantErr(t, "VerifyLogin just before expiry", err, phoneauth.ErrCodeWrong)
		f.prune(c.ExpiresAt, 1)
	})

	t.Run("a session goes at its end and not a millisecond before, however often it rotated", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		for i := range 3 {
			var err error
			sess, err = f.rotate(refreshOf(sess), base.Add(time.Duration(i+1)*time.Hour))
			wantErr(t, "RotateRefresh", err, nil)
		}
		f.prune(base, 2) // the consumed registration and login challenges
		f.prune(sess.ExpiresAt.Add(-time.Millisecond), 0)
		_, err := f.rotate(refreshOf(sess), sess.ExpiresAt.Add(-time.Millisecond))
		wantErr(t, "RotateRefresh in the session's last millisecond", err, nil)
		f.prune(sess.ExpiresAt, 1)
		f.prune(sess.ExpiresAt, 0)
	})

	t.Run("a revoked session stays until its end, refusing its tokens", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(sess), base)), nil)
		f.prune(sess.ExpiresAt.Add(-time.Millisecond), 2)
		_, err := f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
		wantErr(t, "AccessUser after Prune", err, phoneauth.ErrTokenRevoked)
		f.prune(sess.ExpiresAt, 1)
	})

	t.Run("a recorded foreign token keeps its session until the token expires, so it is never adopted again", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		tok := foreignToken(u.ID, phoneauth.TokenRefresh, base)
		tok.ExpiresAt = base.Add(2 * refreshTTL) // outlives any session adopted from it
		sess, err := f.rotate(tok, base)
		wantErr(t, "RotateRefresh of the foreign token", err, nil)
		f.prune(sess.ExpiresAt, 1) // the registration challenge
		_, err = f.rotate(tok, sess.ExpiresAt.Add(time.Hour))
		wantErr(t, "RotateRefresh of the foreign token after its session ended", err, phoneauth.ErrTokenExpired)
		f.prune(tok.ExpiresAt.Add(-time.Millisecond), 0)
		f.prune(tok.ExpiresAt, 2) // the session and the token's jti
	})

	t.Run("unknown foreign token recorded as revoked stays refused until it expires", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		tok := foreignToken(u.ID, phoneauth.TokenAccess, base)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, tok, base)), nil)
		f.prune(tok.ExpiresAt.Add(-time.Millisecond), 1)
		_, err := f.s.AccessUser(t.Context(), u.ID, tok.Ref)
		wantErr(t, "AccessUser after Prune", err, phoneauth.ErrTokenRevoked)
		f.prune(tok.ExpiresAt, 2) // the session and the token's jti
		// The store has forgotten the token; by now Tokens.Parse refuses
		// it before the store is asked.
		_, err = f.s.AccessUser(t.Context(), u.ID, tok.Ref)
		wantErr(t, "AccessUser after the token expired and was pruned", err, nil)
	})

	t.Run("verified users are never deleted; unverified ones go a day after their code died", func(t *testing.T) {
		f := newFixture(t, open)
		verified := f.verified(phoneN(1))
		f.login(verified)
		unverified, reg := f.register(phoneN(2), base)
		// The consumed registration and login challenges of the verified
		// account; the unverified one's code stays with its account.
		f.prune(reg.ExpiresAt, 2)
		dayAfter := reg.ExpiresAt.Add(phoneauth.UnverifiedRetention)
		f.prune(dayAfter.Add(-time.Millisecond), 0)
		checkUser(t, "UserByPhone of the unverified account a moment before its day is up", f.user(phoneN(2)), unverified)
		f.prune(dayAfter, 2) // the unverified account and its code
		_, err := f.s.UserByPhone(t.Context(), phoneN(2))
		wantErr(t, "UserByPhone of the pruned unverified account", err, phoneauth.ErrUserNotFound)
		// The session, much later; the verified account stays.
		f.prune(base.Add(10*refreshTTL), 1)
		checkUser(t, "UserByPhone of the verified account", f.user(phoneN(1)), verified)
	})

	t.Run("an unverified account that registered again keeps its day from the new code", func(t *testing.T) {
		f := newFixture(t, open)
		first, old := f.register(phoneN(1), base)
		again := old.ExpiresAt.Add(20 * time.Hour)
		f.register(phoneN(1), again)
		f.prune(old.ExpiresAt.Add(phoneauth.UnverifiedRetention), 0)
		checkUser(t, "UserByPhone after the first code's day", f.user(phoneN(1)), first)
	})

	t.Run("concurrent Prunes delete each row once: their counts and a later Prune's add up", func(t *testing.T) {
		f := newFixture(t, open)
		const users = 4
		for i := range users {
			f.login(f.verified(phoneN(i)))
		}
		now := base.Add(refreshTTL)
		counts := make([]int64, Concurrency)
		errs := race(func(i int) error {
			var err error
			counts[i], err = f.s.Prune(t.Context(), now)
			return err
		})
		var total int64
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("Prune in goroutine %d", i), err, nil)
			total += counts[i]
		}
		// Rows one call held may be left to the next.
		rest, err := f.s.Prune(t.Context(), now)
		wantErr(t, "Prune after the race", err, nil)
		// Per user two challenges and a session.
		if want := int64(users * 3); total+rest != want {
			t.Errorf("Prunes deleted %d rows in the race and %d after, want %d in all", total, rest, want)
		}
		f.prune(now, 0)
	})
}

func testPing(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("open store answers", func(t *testing.T) {
		f := newFixture(t, open)
		wantErr(t, "Ping", f.s.Ping(t.Context()), nil)
	})
}

// wrongTry is one wrong try at the registration code of phone, or at the
// login code of userID when phone is empty.
func (f *fixture) wrongTry(challengeID, phone, userID string, now time.Time) error {
	f.t.Helper()
	if phone != "" {
		_, err := f.s.VerifyRegistration(f.t.Context(), challengeID, phone, Try(hash("wrong"), now))
		return err
	}
	_, err := f.s.VerifyLogin(f.t.Context(), userID, Try(hash("wrong"), now), newSession(userID, now))
	return err
}

// limitOf returns the limit of a *phoneauth.ThrottledError, or "".
func limitOf(err error) phoneauth.Limit {
	var t *phoneauth.ThrottledError
	if errors.As(err, &t) {
		return t.Limit
	}
	return ""
}

func testGuessing(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("a locked unverified account cannot register again until its lockout ends", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		_, c := f.register(phone, base)
		now := base
		for i := 0; i < Policy.LockoutThreshold; i++ {
			if i > 0 && i%(Policy.MaxAttempts-1) == 0 {
				// The code expires; a new registration brings a new one.
				now = c.ExpiresAt
				_, c = f.register(phone, now)
			}
			_ = f.wrongTry(c.ID, phone, "", now) // wrong, dead or locked: the count is what matters
		}
		lockedUntil := f.user(phone).LockedUntil
		if !lockedUntil.After(now) {
			t.Fatalf("LockedUntil %s, want after %s", lockedUntil, now)
		}
		later := c.ExpiresAt
		again := newChallenge(phoneauth.PurposeRegister, "", "again", later)
		until, err := f.s.Register(t.Context(), newUser(phone, later), again, later)
		wantErr(t, "Register while locked", err, phoneauth.ErrAccountLocked)
		if until.Sub(lockedUntil).Abs() > time.Millisecond {
			t.Errorf("Register while locked: lockout ends %s, want %s", until, lockedUntil)
		}
		err = verifyRegistration(t.Context(), f.s, again.ID, phone, again.CodeHash, lockedUntil)
		wantErr(t, "VerifyRegistration of the refused challenge", err, phoneauth.ErrChallengeNotFound)
		_, err = f.s.Register(t.Context(), newUser(phone, lockedUntil), again, lockedUntil)
		wantErr(t, "Register once the lockout has ended", err, nil)
	})

	t.Run("a code takes MaxAttempts tries in all; then even the right code is refused", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		c := f.putLogin(u.ID, "1", base)
		for i := range Policy.MaxAttempts {
			err := f.wrongTry("", "", u.ID, base)
			wantErr(t, fmt.Sprintf("wrong try %d", i+1), err, phoneauth.ErrCodeWrong)
			if last := i == Policy.MaxAttempts-1; last != (limitOf(err) == phoneauth.LimitAttempts) {
				t.Errorf("wrong try %d: limit %q; only the last try may say the code is dead", i+1, limitOf(err))
			}
		}
		err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base, newSession(u.ID, base))
		wantErr(t, "right code after MaxAttempts tries", err, phoneauth.ErrTooManyAttempts)
	})

	t.Run("40 concurrent wrong guesses at one code are decided at most MaxAttempts times; the right code afterwards is refused", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		_, c := f.register(phone, base)
		const n = 40
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = f.s.VerifyRegistration(t.Context(), c.ID, phone, Try(hash(fmt.Sprint("guess", i)), base))
			})
		}
		close(start)
		wg.Wait()
		decided := 0
		for i, err := range errs {
			switch {
			case errors.Is(err, phoneauth.ErrCodeWrong):
				decided++
			case errors.Is(err, phoneauth.ErrTooManyAttempts):
			default:
				t.Errorf("guess %d: %v, want ErrCodeWrong or ErrTooManyAttempts", i, err)
			}
		}
		if decided != Policy.MaxAttempts {
			t.Errorf("%d guesses were checked against the code, want exactly %d", decided, Policy.MaxAttempts)
		}
		err := verifyRegistration(t.Context(), f.s, c.ID, phone, c.CodeHash, base)
		wantErr(t, "right code after the guesses", err, phoneauth.ErrTooManyAttempts)
	})

	t.Run("failed checks across codes and both flows lock the account; a locked account refuses the right code", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u, reg := f.register(phone, base)
		now := base
		// Registration tries count too: all but one of a code's tries,
		// then a fresh code, until the threshold.
		failures := 0
		for i := range Policy.MaxAttempts - 1 {
			wantErr(t, fmt.Sprintf("wrong registration try %d", i+1), f.wrongTry(reg.ID, phone, "", now), phoneauth.ErrCodeWrong)
			failures++
		}
		wantErr(t, "VerifyRegistration", verifyRegistration(t.Context(), f.s, reg.ID, phone, reg.CodeHash, now), nil)
		failures = 0 // a success clears the count
		var c phoneauth.Challenge
		for failures < Policy.LockoutThreshold-1 {
			if failures%(Policy.MaxAttempts-1) == 0 {
				now = now.Add(time.Second)
				c = f.putLogin(u.ID, fmt.Sprint("code", failures), now) // a new code does not reset the count
			}
			wantErr(t, fmt.Sprintf("wrong login try %d", failures+1), f.wrongTry("", "", u.ID, now), phoneauth.ErrCodeWrong)
			failures++
		}
		now = now.Add(time.Second)
		c = f.putLogin(u.ID, "last", now)
		err := f.wrongTry("", "", u.ID, now)
		wantErr(t, "the threshold-th failure", err, phoneauth.ErrAccountLocked)
		wantErr(t, "the threshold-th failure", err, phoneauth.ErrCodeWrong)
		if limitOf(err) != phoneauth.LimitLockout {
			t.Errorf("the threshold-th failure: limit %q, want %q", limitOf(err), phoneauth.LimitLockout)
		}
		got := f.user(phone)
		if want := now.Add(Policy.LockoutDuration); got.LockedUntil.Sub(want).Abs() > time.Millisecond {
			t.Errorf("UserByPhone: LockedUntil %s, want %s", got.LockedUntil, want)
		}
		err = verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, now, newSession(u.ID, now))
		wantErr(t, "right code while locked", err, phoneauth.ErrAccountLocked)
		// The lockout ends by itself; the right code then works and
		// clears the record.
		after := got.LockedUntil
		c = f.putLogin(u.ID, "after", after)
		err = verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, after, newSession(u.ID, after))
		wantErr(t, "right code once the lockout has ended", err, nil)
	})

	t.Run("each further lockout doubles, and the verify methods return the account with their answer", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u := f.verified(phone)
		now := base
		for lockout, want := range []time.Duration{Policy.LockoutDuration, 2 * Policy.LockoutDuration, 4 * Policy.LockoutDuration} {
			var err error
			for i := 0; i < Policy.LockoutThreshold; i++ {
				if i%Policy.MaxAttempts == 0 {
					f.putLogin(u.ID, fmt.Sprint(lockout, i), now)
				}
				var got phoneauth.User
				got, err = f.s.VerifyLogin(t.Context(), u.ID, Try(hash("wrong"), now), newSession(u.ID, now))
				if got.Phone != phone || got.ID != u.ID {
					t.Fatalf("VerifyLogin returned user %+v with %v, want %s", got, err, phone)
				}
			}
			var th *phoneauth.ThrottledError
			if !errors.As(err, &th) || th.Limit != phoneauth.LimitLockout || th.RetryAfter != want {
				t.Fatalf("lockout %d: %v, want a lockout of %s", lockout+1, err, want)
			}
			now = now.Add(want)
		}
	})
}
