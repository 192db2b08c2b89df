// Package limitertest is the conformance suite of phoneauth.Limiter: every
// implementation's test calls Run, which pins what the interface's doc
// comments promise, races included.
package limitertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// shortTTL is the window used where expiry must happen in a real backend. The suite polls until it has passed and never asserts elapsed
// time.
const shortTTL = 300 * time.Millisecond

// longTTL is a window that must not pass while a subtest runs.
const longTTL = time.Minute

// Run runs the suite against the limiters open returns. Every subtest calls
// open once and uses only that limiter, so open must return a limiter whose
// keys are not shared with any other call (a fresh in-process limiter, or a
// unique key prefix), and must register its own cleanup with t.Cleanup.
// Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) phoneauth.Limiter) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, phoneauth.Limiter)
	}{
		{"Hit counts 1, 2, 3 and reports a reset within the window", testHitCounts},
		{"Hit starts the count over once the window from the first hit has passed, however often it is hit", testHitWindowEnds},
		{"Hit counts each key on its own", testHitKeysApart},
		{"64 concurrent Hits on one key return each count from 1 to 64 exactly once", testHitRace},
		{"Refund takes back one Hit: Hit, Hit, Refund, Hit counts 2 in the same window", testRefundOne},
		{"Refund of a counter that does not exist is no error and creates nothing", testRefundMissing},
		{"Refund never takes a counter below zero", testRefundFloor},
		{"Refund keeps the window of the first Hit, even down to zero", testRefundKeepsWindow},
		{"64 concurrent Hits and 32 concurrent Refunds of a counter at 32 net out exactly", testRefundRace},
		{"Hit with a window of 0 or less fails, not with ErrUnavailable, and stores nothing", testNonPositiveWindow},
		{"Ping reports the backend answers", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

func testHitCounts(t *testing.T, l phoneauth.Limiter) {
	var prev time.Duration
	for want := int64(1); want <= 3; want++ {
		got, reset := hit(t, l, "ip:127.0.0.1", longTTL)
		if got != want {
			t.Fatalf("hit %d: count = %d, want %d", want, got, want)
		}
		checkLeft(t, fmt.Sprintf("hit %d: reset", want), reset, longTTL)
		if want > 1 && reset > prev {
			t.Fatalf("hit %d: reset = %s grew from %s: the window must be fixed from the first hit", want, reset, prev)
		}
		prev = reset
	}
}

func testHitWindowEnds(t *testing.T, l phoneauth.Limiter) {
	for want := int64(1); want <= 2; want++ {
		if got, _ := hit(t, l, "sms:budget", shortTTL); got != want {
			t.Fatalf("count = %d, want %d", got, want)
		}
	}
	// Hitting several times per window: a window that each hit
	// extended would never end.
	poll(t, "counter to reset", func() (bool, time.Duration) {
		n, reset := hit(t, l, "sms:budget", shortTTL)
		if n == 1 {
			checkLeft(t, "reset of the new window", reset, shortTTL)
			return true, 0
		}
		return false, min(reset, shortTTL/5)
	})
}

func testHitKeysApart(t *testing.T, l phoneauth.Limiter) {
	keys := []string{"login:+15551234567", "login:+15551234568", "ip:127.0.0.1", "ip:::1"}
	for i, k := range keys {
		for range i {
			hit(t, l, k, longTTL)
		}
	}
	for i, k := range keys {
		got, _ := hit(t, l, k, longTTL)
		if want := int64(i + 1); got != want {
			t.Errorf("Hit(%q) = %d, want %d", k, got, want)
		}
	}
}

func testHitRace(t *testing.T, l phoneauth.Limiter) {
	const n = 64
	counts := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			counts[i], _, errs[i] = l.Hit(t.Context(), "attempts:login:u1", longTTL)
		})
	}
	wg.Wait()
	seen := make(map[int64]int, n)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Hit: %v", errs[i])
		}
		seen[counts[i]]++
	}
	for c := int64(1); c <= n; c++ {
		if seen[c] != 1 {
			t.Errorf("count %d returned %d times, want once", c, seen[c])
		}
	}
}

func testRefundOne(t *testing.T, l phoneauth.Limiter) {
	hit(t, l, "sms:budget", longTTL)
	_, prev := hit(t, l, "sms:budget", longTTL)
	refund(t, l, "sms:budget")
	got, reset := hit(t, l, "sms:budget", longTTL)
	if got != 2 {
		t.Errorf("Hit after Hit, Hit, Refund = %d, want 2", got)
	}
	checkLeft(t, "reset after Refund", reset, prev)
}

func testRefundMissing(t *testing.T, l phoneauth.Limiter) {
	refund(t, l, "ip:127.0.0.1")
	refund(t, l, "ip:127.0.0.1")
	// Whatever the Refunds left behind would show in the first Hit: a
	// count other than 1, or a window other than the Hit's own.
	got, reset := hit(t, l, "ip:127.0.0.1", shortTTL)
	if got != 1 {
		t.Fatalf("Hit after Refunds of a missing counter = %d, want 1", got)
	}
	checkLeft(t, "reset of the first Hit", reset, shortTTL)
	// The Hit opened a window of its own, which ends.
	poll(t, "counter to reset", func() (bool, time.Duration) {
		n, reset := hit(t, l, "ip:127.0.0.1", shortTTL)
		return n == 1, min(reset, shortTTL/5)
	})
}

func testRefundFloor(t *testing.T, l phoneauth.Limiter) {
	hit(t, l, "sms:budget", longTTL)
	for range 3 {
		refund(t, l, "sms:budget")
	}
	for want := int64(1); want <= 2; want++ {
		if got, _ := hit(t, l, "sms:budget", longTTL); got != want {
			t.Fatalf("Hit %d after more Refunds than Hits = %d, want %d", want, got, want)
		}
	}
}

func testRefundKeepsWindow(t *testing.T, l phoneauth.Limiter) {
	const key = "sms:budget"
	hit(t, l, key, shortTTL)
	hit(t, l, key, shortTTL)
	refund(t, l, key)
	refund(t, l, key)
	// Later Hits pass longTTL: the counter lives for the window of its
	// first Hit, so a reset beyond shortTTL means a Refund ended or
	// restarted that window.
	n, reset := hit(t, l, key, longTTL)
	if n != 1 {
		t.Fatalf("Hit after Hit, Hit, Refund, Refund = %d, want 1", n)
	}
	checkLeft(t, "reset after refunding to zero", reset, shortTTL)
	poll(t, "counter to reset", func() (bool, time.Duration) {
		n, reset := hit(t, l, key, longTTL)
		if n == 1 {
			return true, 0
		}
		checkLeft(t, "reset in the first window", reset, shortTTL)
		return false, min(reset, shortTTL/5)
	})
}

func testRefundRace(t *testing.T, l phoneauth.Limiter) {
	const key, start, hits, refunds = "attempts:login:u1", 32, 64, 32
	for range start {
		hit(t, l, key, longTTL)
	}
	errs := make([]error, hits+refunds)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			if i < hits {
				_, _, errs[i] = l.Hit(t.Context(), key, longTTL)
			} else {
				errs[i] = l.Refund(t.Context(), key)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Hit or Refund: %v", err)
		}
	}
	// In any order the count stays at or above start-refunds = 0, so
	// the floor at zero swallows no Refund and the total is exact.
	got, _ := hit(t, l, key, longTTL)
	if want := int64(start + hits - refunds + 1); got != want {
		t.Errorf("Hit after the race = %d, want %d", got, want)
	}
}

func testNonPositiveWindow(t *testing.T, l phoneauth.Limiter) {
	for _, d := range []time.Duration{0, -time.Second} {
		key := "ip:127.0.0.1:" + d.String()
		_, _, err := l.Hit(t.Context(), key, d)
		checkInvalid(t, fmt.Sprintf("Hit(%q, %s)", key, d), err)
		if got, _ := hit(t, l, key, longTTL); got != 1 {
			t.Errorf("Hit after Hit with %s = %d, want 1: it must store nothing", d, got)
		}
	}
}

func testPing(t *testing.T, l phoneauth.Limiter) {
	if err := l.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func hit(t *testing.T, l phoneauth.Limiter, key string, window time.Duration) (int64, time.Duration) {
	t.Helper()
	n, reset, err := l.Hit(t.Context(), key, window)
	if err != nil {
		t.Fatalf("Hit(%q, %s): %v", key, window, err)
	}
	return n, reset
}

func refund(t *testing.T, l phoneauth.Limiter, key string) {
	t.Helper()
	if err := l.Refund(t.Context(), key); err != nil {
		t.Fatalf("Refund(%q): %v", key, err)
	}
}

// checkInvalid fails t unless err is the error of a call with an invalid
// argument: an error, and not one that says the backend is unavailable.
func checkInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, phoneauth.ErrUnavailable) {
		t.Errorf("%s: error %v, want one that does not wrap %v", what, err, phoneauth.ErrUnavailable)
	}
}

// checkLeft fails t unless 0 < got <= limit.
func checkLeft(t *testing.T, what string, got, limit time.Duration) {
	t.Helper()
	if got <= 0 || got > limit {
		t.Fatalf("%s = %s, want in (0, %s]", what, got, limit)
	}
}

// pollBound is how long poll waits for a short ttl to pass before it gives
// up: a bound against hanging, far beyond shortTTL, not a timing assertion.
const pollBound = 10 * time.Second

// poll calls try until it reports done, sleeping for the wait it returns
// (at least a few milliseconds, at most shortTTL) in between, and fails t
// after pollBound.
func poll(t *testing.T, what string, try func() (done bool, wait time.Duration)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), pollBound)
	defer cancel()
	for {
		done, wait := try()
		if done {
			return
		}
		wait = min(max(wait, 5*time.Millisecond), shortTTL)
		select {
		case <-ctx.Done():
			t.Fatalf("still waiting for %s after %s", what, pollBound)
		case <-time.After(wait):
		}
	}
}
