package phoneauth

import (
	"context"
	"time"
)

// Limiter keeps short-lived counters and holds: login throttles, attempt
// counters and rate limits. Implementations live in inmem/ (one process),
// redis/ and postgres/ (shared by a fleet); all of them pass
// limitertest.Run. Losing a Limiter's state loses only counters and
// throttles, never accounts or sessions. Errors wrap ErrUnavailable when
// the backend cannot be reached.
type Limiter interface {
	// Hit adds one to the counter key and returns the new count and how
	// long until the counter resets. A counter lives for window from its
	// first hit (a fixed window); the increment is atomic. window must be
	// positive: for 0 or less Hit returns an error that does not wrap
	// ErrUnavailable, and stores nothing.
	Hit(ctx context.Context, key string, window time.Duration) (count int64, reset time.Duration, err error)

	// Hold takes key for owner for ttl if nobody holds it and returns
	// true. If it is held (by anyone, owner included) it returns false and
	// how long the hold has left, without extending it. Atomic. ttl must be
	// positive: for 0 or less Hold returns an error that does not wrap
	// ErrUnavailable, and stores nothing.
	Hold(ctx context.Context, key, owner string, ttl time.Duration) (ok bool, left time.Duration, err error)

	// Unhold deletes the hold key if owner holds it, and does nothing
	// otherwise (another owner's hold, no hold, or a counter). Atomic. It
	// lets a request undo its own hold after a failure, even one whose Hold
	// call itself failed after the backend took the hold, without ever
	// freeing a hold another request took.
	Unhold(ctx context.Context, key, owner string) error

	// Refund takes back one Hit of the counter key, as when the event it
	// counted did not happen after all (an SMS the provider refused). It
	// never takes a counter below zero, keeps the counter's window, and
	// does nothing if the counter does not exist. Atomic.
	Refund(ctx context.Context, key string) error

	// Release deletes key, a counter or a hold. Deleting what does not
	// exist is no error.
	Release(ctx context.Context, key string) error

	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
}
