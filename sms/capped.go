package sms

import (
	"context"
	"fmt"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Capped)(nil)

// DefaultConcurrency is how many sends a service lets run at once when
// nothing else is configured: far more than a healthy gateway keeps busy,
// far fewer than the requests a stalled one would pile up.
const DefaultConcurrency = 64

// MaxConcurrency is the most sends NewCapped lets run at once.
const MaxConcurrency = 10_000

// ErrBusy is the error of a send that Capped refused because every slot
// was taken. It wraps phoneauth.ErrUnavailable: nothing was sent, and the
// same request may succeed a moment later.
var ErrBusy = fmt.Errorf("sms: every send slot is taken: %w", phoneauth.ErrUnavailable)

// CheckConcurrency returns an error unless n is a number of sends NewCapped
// accepts, 1 to MaxConcurrency. Its text is a predicate on n, to follow
// the name of the setting that holds it.
func CheckConcurrency(n int) error {
	if n < 1 || n > MaxConcurrency {
		return fmt.Errorf("must be between 1 and %d", MaxConcurrency)
	}
	return nil
}

// Capped is a Sender that runs at most a fixed number of sends of another
// Sender at once and refuses the others at once with ErrBusy, so that a
// slow gateway makes requests fail fast instead of piling them up, each
// holding a goroutine, a connection and a pending code. Build it with
// NewCapped; it is safe for concurrent use.
type Capped struct {
	next  phoneauth.Sender
	slots chan struct{}
}

// NewCapped returns a Sender that sends through next, at most n messages
// at once. It returns an error if n fails CheckConcurrency.
func NewCapped(next phoneauth.Sender, n int) (*Capped, error) {
	if err := CheckConcurrency(n); err != nil {
		return nil, fmt.Errorf("sms: concurrency %w", err)
	}
	return &Capped{next: next, slots: make(chan struct{}, n)}, nil
}

// Send sends m through the next Sender if a slot is free, and returns its
// error. If every slot is taken it does not wait: it returns an error
// wrapping ErrBusy (and so phoneauth.ErrUnavailable) without sending.
func (c *Capped) Send(ctx context.Context, m phoneauth.Message) error {
	select {
	case c.slots <- struct{}{}:
	default:
		return fmt.Errorf("sms: %d sends already running: %w", cap(c.slots), ErrBusy)
	}
	defer func() { <-c.slots }()
	return c.next.Send(ctx, m)
}
