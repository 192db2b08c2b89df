package phoneauth

import (
	"context"
	"time"
)

// Limiter keeps short-lived fixed-window counters: the per-IP rate limits
// and the SMS budgets. Hit counts an event, Refund takes back one that did
// not happen after all, and Ping tells the health check whether the
// backend answers. The login throttle is not a Limiter's: it lives in the
// Store (PutLoginChallenge), beside the challenge it throttles.
// Implementations live in inmem/ (one process), redis/ and postgres/
// (shared by a fleet); all of them pass limitertest.Run. Losing a
// Limiter's state loses only counters, never accounts or sessions. Errors
// wrap ErrUnavailable when the backend cannot be reached.
type Limiter interface {
	// Hit adds one to the counter key and returns the new count and how
	// long until the counter resets. A counter lives for window from its
	// first hit (a fixed window); the increment is atomic. window must be
	// positive: for 0 or less Hit returns an error that does not wrap
	// ErrUnavailable, and stores nothing.
	Hit(ctx context.Context, key string, window time.Duration) (count int64, reset time.Duration, err error)

	// Refund takes back one Hit of the counter key, as when the event it
	// counted did not happen after all (an SMS the provider refused). It
	// never takes a counter below zero, keeps the counter's window, and
	// does nothing if the counter does not exist. Atomic.
	Refund(ctx context.Context, key string) error

	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
}
