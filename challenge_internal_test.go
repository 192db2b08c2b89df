package phoneauth

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"
)

func TestNewCodeIsDigitsOfTheConfiguredLength(t *testing.T) {
	t.Parallel()
	for _, length := range []int{4, 6, 10} {
		s := &Service{policy: Policy{CodeLength: length}, random: rand.Reader}
		re := regexp.MustCompile(fmt.Sprintf(`^[0-9]{%d}$`, length))
		for range 100 {
			code, err := s.newCode()
			if err != nil || !re.MatchString(code) {
				t.Fatalf("length %d: newCode() = %q, %v", length, code, err)
			}
		}
	}
}

func TestNewCodeRejectsBiasedBytes(t *testing.T) {
	t.Parallel()
	// 250..255 would favour 0..5; they must be skipped, not folded.
	random := bytes.NewReader([]byte{255, 250, 7, 251, 19, 100, 249, 3, 42})
	s := &Service{policy: Policy{CodeLength: 6}, random: random}
	code, err := s.newCode()
	if err != nil {
		t.Fatal(err)
	}
	if want := "790932"; code != want {
		t.Errorf("newCode() = %q, want %q", code, want)
	}
}

func TestCodeHashesDifferPerSubjectAndPurpose(t *testing.T) {
	t.Parallel()
	s := &Service{codeKey: []byte("0123456789abcdef")}
	a := s.hashCode(PurposeLogin, "challenge-1", "123456")
	for name, b := range map[string][]byte{
		"other challenge": s.hashCode(PurposeLogin, "challenge-2", "123456"),
		"other purpose":   s.hashCode(PurposeRegister, "challenge-1", "123456"),
		"other code":      s.hashCode(PurposeLogin, "challenge-1", "123457"),
	} {
		if bytes.Equal(a, b) {
			t.Errorf("%s: same hash", name)
		}
	}
	if !bytes.Equal(a, s.hashCode(PurposeLogin, "challenge-1", "123456")) {
		t.Error("hash is not deterministic")
	}
}

func TestTryDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	right := []byte("right hash")
	wrong := []byte("wrong hash")
	p := Policy{MaxAttempts: 3, LockoutThreshold: 4, LockoutDuration: time.Minute, LoginThrottle: 5 * time.Minute}
	live := Challenge{Purpose: PurposeLogin, CodeHash: right, CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Minute)}
	with := func(f func(*Challenge)) Challenge { c := live; f(&c); return c }
	for _, tc := range []struct {
		name         string
		c            Challenge
		g            Guard
		presented    []byte
		want         []error // every kind the answer must wrap; nil: success
		wantLimit    Limit   // the limit of a *ThrottledError answer, if any
		wantRetry    time.Duration
		wantAttempts int
		wantGuard    Guard
		wantConsumed bool
	}{
		{name: "right code passes, counts and clears the guard", c: live, g: Guard{Failures: 3, Lockouts: 2, LockedUntil: now.Add(-time.Second)},
			presented: right, wantAttempts: 1, wantConsumed: true},
		{name: "wrong code counts against the code and the account", c: live, g: Guard{Failures: 1, Lockouts: 1},
			presented: wrong, want: []error{ErrCodeWrong}, wantAttempts: 1, wantGuard: Guard{Failures: 2, Lockouts: 1}},
		{name: "a prefix of the hash is wrong", c: live, presented: right[:4],
			want: []error{ErrCodeWrong}, wantAttempts: 1, wantGuard: Guard{Failures: 1}},
		{name: "the last allowed wrong try kills the code until the login throttle ends", c: with(func(c *Challenge) { c.Attempts = 2 }),
			presented: wrong, want: []error{ErrTooManyAttempts, ErrCodeWrong}, wantLimit: LimitAttempts, wantRetry: 4 * time.Minute,
			wantAttempts: 3, wantGuard: Guard{Failures: 1}},
		{name: "a dead code refuses the right code and counts nothing", c: with(func(c *Challenge) { c.Attempts = 3 }),
			presented: right, want: []error{ErrTooManyAttempts}, wantLimit: LimitAttempts, wantRetry: 4 * time.Minute, wantAttempts: 3},
		{name: "a dead registration code waits for its expiry", c: with(func(c *Challenge) { c.Attempts = 3; c.Purpose = PurposeRegister }),
			presented: right, want: []error{ErrTooManyAttempts}, wantLimit: LimitAttempts, wantRetry: time.Minute, wantAttempts: 3},
		{name: "right code at its expiry is expired and counts nothing", c: with(func(c *Challenge) { c.ExpiresAt = now }),
			presented: right, want: []error{ErrCodeExpired}},
		{name: "wrong code after expiry is expired, not wrong", c: with(func(c *Challenge) { c.ExpiresAt = now.Add(-time.Hour) }),
			presented: wrong, want: []error{ErrCodeExpired}},
		{name: "spent login code is no pending login", c: with(func(c *Challenge) { c.Consumed = true }),
			presented: right, want: []error{ErrNoPendingLogin}, wantConsumed: true},
		{name: "spent registration code is not found", c: with(func(c *Challenge) { c.Consumed = true; c.Purpose = PurposeRegister }),
			presented: right, want: []error{ErrChallengeNotFound}, wantConsumed: true},
		{name: "a locked account refuses the right code and counts nothing", c: live, g: Guard{Lockouts: 1, LockedUntil: now.Add(time.Minute)},
			presented: right, want: []error{ErrAccountLocked}, wantLimit: LimitLockout, wantRetry: time.Minute,
			wantGuard: Guard{Lockouts: 1, LockedUntil: now.Add(time.Minute)}},
		{name: "the threshold-th failure locks the account for the lockout duration", c: live, g: Guard{Failures: 3},
			presented: wrong, want: []error{ErrAccountLocked, ErrCodeWrong}, wantLimit: LimitLockout, wantRetry: time.Minute,
			wantAttempts: 1, wantGuard: Guard{Lockouts: 1, LockedUntil: now.Add(time.Minute)}},
		{name: "each further lockout doubles", c: live, g: Guard{Failures: 3, Lockouts: 2, LockedUntil: now.Add(-time.Hour)},
			presented: wrong, want: []error{ErrAccountLocked, ErrCodeWrong}, wantLimit: LimitLockout, wantRetry: 4 * time.Minute,
			wantAttempts: 1, wantGuard: Guard{Lockouts: 3, LockedUntil: now.Add(4 * time.Minute)}},
		{name: "lockouts stop doubling at MaxLockout", c: live, g: Guard{Failures: 3, Lockouts: 70},
			presented: wrong, want: []error{ErrAccountLocked, ErrCodeWrong}, wantLimit: LimitLockout, wantRetry: MaxLockout,
			wantAttempts: 1, wantGuard: Guard{Lockouts: 71, LockedUntil: now.Add(MaxLockout)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, g := tc.c, tc.g
			presented := tc.presented
			err := Try{Hash: func(Challenge) []byte { return presented }, Now: now, Policy: p}.Decide(&c, &g)
			if tc.want == nil && err != nil {
				t.Fatalf("Decide = %v, want success", err)
			}
			for _, k := range tc.want {
				if !errors.Is(err, k) {
					t.Errorf("Decide = %v, want it to wrap %v", err, k)
				}
			}
			var th *ThrottledError
			if got := errors.As(err, &th); got != (tc.wantLimit != "") {
				t.Errorf("Decide = %v: throttled %t, want %t", err, got, tc.wantLimit != "")
			} else if got {
				if th.Limit != tc.wantLimit || th.RetryAfter != tc.wantRetry {
					t.Errorf("throttled by %q for %s, want %q for %s", th.Limit, th.RetryAfter, tc.wantLimit, tc.wantRetry)
				}
			}
			if c.Attempts != tc.wantAttempts || c.Consumed != tc.wantConsumed {
				t.Errorf("challenge attempts %d consumed %t, want %d, %t", c.Attempts, c.Consumed, tc.wantAttempts, tc.wantConsumed)
			}
			if !g.LockedUntil.Equal(tc.wantGuard.LockedUntil) || g.Failures != tc.wantGuard.Failures || g.Lockouts != tc.wantGuard.Lockouts {
				t.Errorf("guard %+v, want %+v", g, tc.wantGuard)
			}
		})
	}
}

func TestLockoutsNeverOverflowAndStopAtMaxLockout(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, base := range []time.Duration{time.Second, 15 * time.Minute, MaxLockout} {
		want := base
		for lockouts := 1; lockouts <= 100; lockouts++ {
			c := Challenge{Purpose: PurposeLogin, CodeHash: []byte("right"), ExpiresAt: now.Add(time.Minute)}
			g := Guard{Failures: 9, Lockouts: lockouts - 1}
			p := Policy{MaxAttempts: 5, LockoutThreshold: 10, LockoutDuration: base}
			err := Try{Hash: func(Challenge) []byte { return []byte("wrong") }, Now: now, Policy: p}.Decide(&c, &g)
			var th *ThrottledError
			if !errors.As(err, &th) || th.Limit != LimitLockout || th.RetryAfter != want || !g.LockedUntil.Equal(now.Add(want)) {
				t.Fatalf("lockout %d of %s: %v, locked until %s; want a lockout of %s", lockouts, base, err, g.LockedUntil, want)
			}
			want = min(2*want, MaxLockout)
		}
	}
}
