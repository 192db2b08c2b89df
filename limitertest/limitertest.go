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

// shortTTL is the window or hold used where expiry must happen in a real
// backend. The suite polls until it has passed and never asserts elapsed
// time.
const shortTTL = 300 * time.Millisecond

// longTTL is a window or hold that must not pass while a subtest runs.
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
		{"Hold succeeds once, then reports the time left without extending the hold", testHoldOnce},
		{"Hold can be taken again after its ttl has passed", testHoldExpires},
		{"Hold can be taken again after Release", testHoldAfterRelease},
		{"32 concurrent Holds of one key by distinct owners let exactly one through, and only its owner's Unhold frees the key", testHoldRace},
		{"Hold by the owner of a held key is refused and does not extend the hold", testHoldNotReentrant},
		{"Unhold by the owner frees the key for a new Hold", testUnholdByOwner},
		{"Unhold by any other owner, however alike, leaves the hold and its time left", testUnholdByOthers},
		{"Unhold of a key that does not exist is no error and creates nothing", testUnholdMissing},
		{"Unhold of a counter by any owner, even one that spells its count, is no error and keeps the count", testUnholdCounter},
		{"Unhold by the owner of an expired hold is no error and never frees the hold another owner took since", testUnholdStale},
		{"Release of a key that does not exist is no error", testReleaseMissing},
		{"Release starts a counter over", testReleaseCounter},
		{"Refund takes back one Hit: Hit, Hit, Refund, Hit counts 2 in the same window", testRefundOne},
		{"Refund of a counter that does not exist is no error and creates nothing", testRefundMissing},
		{"Refund never takes a counter below zero", testRefundFloor},
		{"Refund keeps the window of the first Hit, even down to zero", testRefundKeepsWindow},
		{"64 concurrent Hits and 32 concurrent Refunds of a counter at 32 net out exactly", testRefundRace},
		{"Hit and Hold with a window or ttl of 0 or less fail, not with ErrUnavailable, and store nothing", testNonPositiveDurations},
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

func testHoldOnce(t *testing.T, l phoneauth.Limiter) {
	if ok, _ := hold(t, l, "login:u1", "a", longTTL); !ok {
		t.Fatal("first Hold = false, want true")
	}
	for _, ttl := range []time.Duration{longTTL, 10 * longTTL} {
		ok, left := hold(t, l, "login:u1", "b", ttl)
		if ok {
			t.Fatalf("Hold(ttl %s) of a held key = true, want false", ttl)
		}
		// Measured against the first hold's ttl: a refused Hold must
		// not take the key over for its own ttl.
		checkLeft(t, fmt.Sprintf("Hold(ttl %s) left", ttl), left, longTTL)
	}
	if ok, _ := hold(t, l, "login:u2", "b", longTTL); !ok {
		t.Error("Hold of another key = false, want true: keys must be held on their own")
	}
}

func testHoldExpires(t *testing.T, l phoneauth.Limiter) {
	if ok, _ := hold(t, l, "login:u1", "a", shortTTL); !ok {
		t.Fatal("first Hold = false, want true")
	}
	poll(t, "hold to expire", func() (bool, time.Duration) {
		ok, left := hold(t, l, "login:u1", "b", shortTTL)
		if !ok {
			checkLeft(t, "left", left, shortTTL)
		}
		return ok, left
	})
}

func testHoldAfterRelease(t *testing.T, l phoneauth.Limiter) {
	if ok, _ := hold(t, l, "login:u1", "a", longTTL); !ok {
		t.Fatal("first Hold = false, want true")
	}
	release(t, l, "login:u1")
	if ok, _ := hold(t, l, "login:u1", "b", longTTL); !ok {
		t.Error("Hold after Release = false, want true")
	}
}

func testHoldRace(t *testing.T, l phoneauth.Limiter) {
	const n = 32
	owners := make([]string, n)
	for i := range owners {
		owners[i] = fmt.Sprintf("owner-%d", i)
	}
	oks := make([]bool, n)
	lefts := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			oks[i], lefts[i], errs[i] = l.Hold(t.Context(), "login:u1", owners[i], longTTL)
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Hold: %v", errs[i])
		}
		if !oks[i] {
			checkLeft(t, "left of a refused Hold", lefts[i], longTTL)
			continue
		}
		if winner >= 0 {
			t.Fatalf("Holds by %s and %s both succeeded, want exactly 1", owners[winner], owners[i])
		}
		winner = i
	}
	if winner < 0 {
		t.Fatal("no Hold succeeded, want exactly 1")
	}

	// The owners that were refused Unhold at once, as requests that
	// undo a failed Hold would.
	for i := range n {
		if i != winner {
			wg.Go(func() { errs[i] = l.Unhold(t.Context(), "login:u1", owners[i]) })
		}
	}
	wg.Wait()
	for i := range n {
		if i != winner && errs[i] != nil {
			t.Fatalf("Unhold by %s: %v", owners[i], errs[i])
		}
	}
	ok, left := hold(t, l, "login:u1", "late", longTTL)
	if ok {
		t.Fatal("Hold after the refused owners' Unholds = true, want false: only the winner's Unhold may free the key")
	}
	checkLeft(t, "left after the refused owners' Unholds", left, longTTL)
	unhold(t, l, "login:u1", owners[winner])
	if ok, _ := hold(t, l, "login:u1", "late", longTTL); !ok {
		t.Error("Hold after the winner's Unhold = false, want true")
	}
}

func testHoldNotReentrant(t *testing.T, l phoneauth.Limiter) {
	if ok, _ := hold(t, l, "login:u1", "a", longTTL); !ok {
		t.Fatal("first Hold = false, want true")
	}
	ok, left := hold(t, l, "login:u1", "a", 10*longTTL)
	if ok {
		t.Fatal("second Hold by the same owner = true, want false: a hold is not re-entrant")
	}
	checkLeft(t, "left", left, longTTL)
}

func testUnholdByOwner(t *testing.T, l phoneauth.Limiter) {
	if ok, _ := hold(t, l, "login:u1", "a", longTTL); !ok {
		t.Fatal("first Hold = false, want true")
	}
	unhold(t, l, "login:u1", "a")
	if ok, _ := hold(t, l, "login:u1", "b", longTTL); !ok {
		t.Error("Hold after Unhold by the owner = false, want true")
	}
}

func testUnholdByOthers(t *testing.T, l phoneauth.Limiter) {
	if ok, _ := hold(t, l, "login:u1", "a1", longTTL); !ok {
		t.Fatal("first Hold = false, want true")
	}
	// The owner is compared exactly: no prefix, case folding or
	// number parsing may match.
	for _, other := range []string{"b", "", "a", "a1 ", "A1", "a10", "01", "1"} {
		unhold(t, l, "login:u1", other)
	}
	ok, left := hold(t, l, "login:u1", "c", longTTL)
	if ok {
		t.Fatal("Hold after Unholds by other owners = true, want false")
	}
	checkLeft(t, "left after Unholds by other owners", left, longTTL)
	unhold(t, l, "login:u1", "a1")
	if ok, _ := hold(t, l, "login:u1", "c", longTTL); !ok {
		t.Error("Hold after Unhold by the owner = false, want true")
	}
}

func testUnholdMissing(t *testing.T, l phoneauth.Limiter) {
	unhold(t, l, "login:nobody", "a")
	unhold(t, l, "login:nobody", "a")
	if ok, _ := hold(t, l, "login:nobody", "b", longTTL); !ok {
		t.Error("Hold after Unholds of a missing key = false, want true")
	}
}

func testUnholdCounter(t *testing.T, l phoneauth.Limiter) {
	hit(t, l, "attempts:login:u1", longTTL)
	hit(t, l, "attempts:login:u1", longTTL)
	for _, owner := range []string{"a", "", "0", "1", "2", "3"} {
		unhold(t, l, "attempts:login:u1", owner)
	}
	if got, _ := hit(t, l, "attempts:login:u1", longTTL); got != 3 {
		t.Errorf("Hit after Hit, Hit and Unholds = %d, want 3: Unhold must not touch a counter", got)
	}
}

func testUnholdStale(t *testing.T, l phoneauth.Limiter) {
	if ok, _ := hold(t, l, "login:u1", "a", shortTTL); !ok {
		t.Fatal("first Hold = false, want true")
	}
	// A probe held after the key expires no earlier: once it can be
	// taken again, so can the key, without anyone having taken it.
	if ok, _ := hold(t, l, "probe", "a", shortTTL); !ok {
		t.Fatal("Hold of the probe = false, want true")
	}
	poll(t, "probe to expire", func() (bool, time.Duration) {
		return hold(t, l, "probe", "poller", shortTTL)
	})
	unhold(t, l, "login:u1", "a")
	poll(t, "hold to expire", func() (bool, time.Duration) {
		return hold(t, l, "login:u1", "b", longTTL)
	})
	// The request that took the expired hold undoes it late.
	unhold(t, l, "login:u1", "a")
	ok, left := hold(t, l, "login:u1", "c", longTTL)
	if ok {
		t.Fatal("Hold after a stale Unhold = true, want false: Unhold freed another owner's hold")
	}
	checkLeft(t, "left after a stale Unhold", left, longTTL)
}

func testReleaseMissing(t *testing.T, l phoneauth.Limiter) {
	release(t, l, "login:nobody")
	release(t, l, "login:nobody")
}

func testReleaseCounter(t *testing.T, l phoneauth.Limiter) {
	hit(t, l, "attempts:login:u1", longTTL)
	hit(t, l, "attempts:login:u1", longTTL)
	release(t, l, "attempts:login:u1")
	if got, _ := hit(t, l, "attempts:login:u1", longTTL); got != 1 {
		t.Errorf("Hit after Release = %d, want 1", got)
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
	refund(t, l, "sms:budget")
	refund(t, l, "sms:budget")
	// A Hold is refused by any live key, so it sees whatever a Refund
	// might have left behind.
	if ok, _ := hold(t, l, "sms:budget", "a", longTTL); !ok {
		t.Fatal("Hold after Refunds of a missing key = false, want true: Refund must not create the key")
	}
	refund(t, l, "ip:127.0.0.1")
	got, reset := hit(t, l, "ip:127.0.0.1", shortTTL)
	if got != 1 {
		t.Fatalf("Hit after Refund of a missing counter = %d, want 1", got)
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

func testNonPositiveDurations(t *testing.T, l phoneauth.Limiter) {
	for _, d := range []time.Duration{0, -time.Second} {
		// Both calls on both keys: whatever either of them stored, one of
		// the checks below sees it.
		counter, held := "ip:127.0.0.1:"+d.String(), "login:u1:"+d.String()
		for _, key := range []string{counter, held} {
			_, _, err := l.Hit(t.Context(), key, d)
			checkInvalid(t, fmt.Sprintf("Hit(%q, %s)", key, d), err)
			_, _, err = l.Hold(t.Context(), key, "a", d)
			checkInvalid(t, fmt.Sprintf("Hold(%q, %q, %s)", key, "a", d), err)
		}
		if got, _ := hit(t, l, counter, longTTL); got != 1 {
			t.Errorf("Hit after Hit and Hold with %s = %d, want 1: they must store nothing", d, got)
		}
		if ok, _ := hold(t, l, held, "b", longTTL); !ok {
			t.Errorf("Hold by another owner after Hit and Hold with %s = false, want true: they must store nothing", d)
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

func hold(t *testing.T, l phoneauth.Limiter, key, owner string, ttl time.Duration) (bool, time.Duration) {
	t.Helper()
	ok, left, err := l.Hold(t.Context(), key, owner, ttl)
	if err != nil {
		t.Fatalf("Hold(%q, %q, %s): %v", key, owner, ttl, err)
	}
	return ok, left
}

func unhold(t *testing.T, l phoneauth.Limiter, key, owner string) {
	t.Helper()
	if err := l.Unhold(t.Context(), key, owner); err != nil {
		t.Fatalf("Unhold(%q, %q): %v", key, owner, err)
	}
}

func refund(t *testing.T, l phoneauth.Limiter, key string) {
	t.Helper()
	if err := l.Refund(t.Context(), key); err != nil {
		t.Fatalf("Refund(%q): %v", key, err)
	}
}

func release(t *testing.T, l phoneauth.Limiter, key string) {
	t.Helper()
	if err := l.Release(t.Context(), key); err != nil {
		t.Fatalf("Release(%q): %v", key, err)
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
