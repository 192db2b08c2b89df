// Package inmem is a phoneauth.Limiter kept in the memory of one process:
// for a single instance, development and tests. Its counters are lost on
// restart and not shared between processes; for a fleet use redis/, or
// without Redis the Limiter of a postgres.Store.
package inmem

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/phoneauth/phoneauth"
)

// sweepMin is the fewest operations between two sweeps of expired entries.
// A sweep waits for at least as many operations as there were entries left
// by the last one, so its cost is amortised to O(1) per operation and the
// map holds at most about twice the live entries (or sweepMin).
const sweepMin = 256

var _ phoneauth.Limiter = (*Limiter)(nil)

// Limiter is an in-process phoneauth.Limiter, safe for concurrent use. Build
// it with New. Its methods never return ErrUnavailable; they fail only on
// a window that is not positive.
type Limiter struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry
	ops     int // operations since the last sweep
	nextAt  int // ops at which the next sweep runs
}

// entry is a counter.
type entry struct {
	n     int64
	until time.Time // the entry is gone from this instant on
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock makes the Limiter read the time from now instead of time.Now,
// so tests can pass windows without sleeping.
func WithClock(now func() time.Time) Option {
	return func(l *Limiter) { l.now = now }
}

// New returns an empty Limiter. It starts no goroutine: expired entries are
// swept as a side effect of later operations.
func New(opts ...Option) *Limiter {
	l := &Limiter{now: time.Now, entries: make(map[string]entry), nextAt: sweepMin}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Hit adds one to the counter key and returns the new count and the time
// until the counter resets, window after its first hit. It fails if window
// is not positive.
func (l *Limiter) Hit(_ context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("inmem: hit: window %s is not positive", window)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.step()
	e, ok := l.live(key, now)
	if !ok {
		e = entry{until: now.Add(window)}
	}
	e.n++
	l.entries[key] = e
	return e.n, e.until.Sub(now), nil
}

// Refund takes back one Hit of the counter key, keeping its window. A
// counter at zero, and one that does not exist or has expired, is left as
// it is. Refund never fails.
func (l *Limiter) Refund(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.step()
	if e, ok := l.live(key, now); ok && e.n > 0 {
		e.n--
		l.entries[key] = e
	}
	return nil
}

// Ping always answers: the limiter is in the process.
func (l *Limiter) Ping(context.Context) error { return nil }

// step counts an operation, sweeps when one is due and returns the time
// the operation runs at. l.mu must be held.
func (l *Limiter) step() time.Time {
	now := l.now()
	l.ops++
	if l.ops >= l.nextAt {
		for k, e := range l.entries {
			if !now.Before(e.until) {
				delete(l.entries, k)
			}
		}
		l.ops = 0
		l.nextAt = max(sweepMin, len(l.entries))
	}
	return now
}

// live returns the entry of key if it has not expired at now. l.mu must be
// held.
func (l *Limiter) live(key string, now time.Time) (entry, bool) {
	e, ok := l.entries[key]
	if !ok || !now.Before(e.until) {
		return entry{}, false
	}
	return e, true
}
