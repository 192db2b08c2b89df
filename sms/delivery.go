package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"time"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Delivery)(nil)

// The defaults and bounds of a Delivery's settings.
const (
	DefaultRetries = 2
	MaxRetries     = 10
	DefaultTimeout = 10 * time.Second
	// MaxTimeout stays below the API server's write timeout (30 s), so a
	// client is answered even when every provider hangs.
	MaxTimeout = 25 * time.Second
)

// DefaultMinTry is the least time a try is given, when the send has that
// much left: a provider that answers slowly is not cut off, and so sent
// the same message again, before it could answer.
const DefaultMinTry = 3 * time.Second

// firstBackoff is the wait before the first retry; each later one doubles
// it. Each wait is drawn at random between half and all of it (jitter),
// so that many sends refused at once do not all come back at once.
const firstBackoff = 200 * time.Millisecond

// Provider is one SMS provider of a Delivery, with the name its log lines
// give it.
type Provider struct {
	Name   string
	Sender phoneauth.Sender
}

// DeliveryConfig configures a Delivery. Providers is required.
type DeliveryConfig struct {
	// Providers are tried in order: the next one only when the one before
	// failed after its retries.
	Providers []Provider
	// Retries is how many times a provider is tried again after a
	// temporary failure (see Retryable). 0: once only.
	Retries int
	// Timeout bounds a whole send, every provider and retry included.
	Timeout time.Duration
	// Log gets a line for each message sent, naming its provider, and one
	// for each failed try. Nil: slog.Default.
	Log *slog.Logger
	// Sleep waits for d or until ctx is done. Nil: a timer. Tests set it.
	Sleep func(ctx context.Context, d time.Duration) error
	// MinTry is the least time a try is given, when the send has that
	// much left. Zero: DefaultMinTry. Tests shorten it.
	MinTry time.Duration
}

// CheckRetries returns an error unless n is a number of retries a
// Delivery accepts, 0 to MaxRetries. Its text is a predicate on n.
func CheckRetries(n int) error {
	if n < 0 || n > MaxRetries {
		return fmt.Errorf("must be between 0 and %d", MaxRetries)
	}
	return nil
}

// CheckTimeout returns an error unless d is a send timeout a Delivery
// accepts: more than 0, at most MaxTimeout. Its text is a predicate on d.
func CheckTimeout(d time.Duration) error {
	if d <= 0 || d > MaxTimeout {
		return fmt.Errorf("must be more than 0 and at most %s", MaxTimeout)
	}
	return nil
}

// Delivery sends each message through its providers, retrying each after
// a temporary failure with exponential back-off and jitter, and failing
// over to the next provider when one has failed after its retries. Every
// try carries the same message, code and text included: at worst a user
// whose first try timed out after the provider took it gets the same code
// twice, never two different codes. Build it with NewDelivery; it is
// safe for concurrent use.
type Delivery struct {
	providers []Provider
	retries   int
	timeout   time.Duration
	log       *slog.Logger
	sleep     func(context.Context, time.Duration) error
	minTry    time.Duration
}

// NewDelivery returns a Delivery for c, or an error if c has no provider
// or fails CheckRetries or CheckTimeout.
func NewDelivery(c DeliveryConfig) (*Delivery, error) {
	var errs []error
	if len(c.Providers) == 0 {
		errs = append(errs, errors.New("sms: no provider"))
	}
	for _, p := range c.Providers {
		if p.Sender == nil || p.Name == "" {
			errs = append(errs, errors.New("sms: a provider needs a name and a sender"))
		}
	}
	if err := CheckRetries(c.Retries); err != nil {
		errs = append(errs, fmt.Errorf("sms: retries %w", err))
	}
	if err := CheckTimeout(c.Timeout); err != nil {
		errs = append(errs, fmt.Errorf("sms: timeout %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d := &Delivery{providers: c.Providers, retries: c.Retries, timeout: c.Timeout, log: c.Log, sleep: c.Sleep, minTry: c.MinTry}
	if d.minTry <= 0 {
		d.minTry = DefaultMinTry
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.sleep == nil {
		d.sleep = sleep
	}
	return d, nil
}

// Send sends m through the first provider that takes it and logs which
// one did. A provider that reports the number undeliverable ends the
// send at once with its error (another provider would not reach the
// number either); so does ctx's end. Otherwise, when every provider has
// failed, Send returns the last provider's error joined with the others'.
func (d *Delivery) Send(ctx context.Context, m phoneauth.Message) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var errs []error
	maybeSent := false // some try got no answer after its request went out
	for i, p := range d.providers {
		// Each provider left gets an equal share of the time left, so a
		// hanging one cannot leave the next none.
		budget := time.Until(deadline(ctx)) / time.Duration(len(d.providers)-i)
		tries, maybe, err := d.try(ctx, p, m, budget)
		maybeSent = maybeSent || maybe
		if err == nil {
			d.log.InfoContext(ctx, "sms sent", "provider", p.Name, "purpose", string(m.Purpose),
				"to", phoneauth.MaskPhone(m.To), "tries", tries)
			return nil
		}
		errs = append(errs, err)
		if errors.Is(err, phoneauth.ErrCannotReceiveSMS) {
			d.log.InfoContext(ctx, "sms refused: the provider cannot deliver to this number", "provider", p.Name,
				"purpose", string(m.Purpose), "to", phoneauth.MaskPhone(m.To), "err", err)
			break
		}
		if ctx.Err() != nil {
			break
		}
		if i+1 < len(d.providers) {
			d.log.WarnContext(ctx, "sms provider failed, trying the next", "provider", p.Name,
				"next", d.providers[i+1].Name, "tries", tries, "err", err)
		}
	}
	// The last error first: it is what the caller most likely acts on.
	slices.Reverse(errs)
	if maybeSent {
		errs = append(errs, phoneauth.ErrMaybeSent)
	}
	return errors.Join(errs...)
}

// try sends m through p, retrying temporary failures, within budget. It
// returns how many tries it made, whether one may have sent m without
// saying so (see mayHaveSent), and the last one's error.
func (d *Delivery) try(ctx context.Context, p Provider, m phoneauth.Message, budget time.Duration) (tries int, maybeSent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	wait := firstBackoff
	for try := 1; ; try++ {
		// Each try left gets an equal share of the provider's time left,
		// so a try that hangs leaves time for the next.
		left := d.retries + 2 - try
		remaining := time.Until(deadline(ctx))
		share := max(remaining/time.Duration(left), min(remaining, d.minTry))
		tctx, tcancel := context.WithTimeout(ctx, share)
		err = p.Sender.Send(tctx, m)
		tcancel()
		if err == nil {
			return try, maybeSent, nil
		}
		maybeSent = maybeSent || mayHaveSent(err)
		if try > d.retries || !Retryable(err) || ctx.Err() != nil {
			return try, maybeSent, err
		}
		jittered := wait/2 + rand.N(wait/2+1)
		if time.Until(deadline(ctx)) <= jittered {
			return try, maybeSent, err
		}
		d.log.WarnContext(ctx, "sms try failed, retrying", "provider", p.Name, "try", try,
			"retry_in", jittered.Round(time.Millisecond).String(), "err", err)
		if serr := d.sleep(ctx, jittered); serr != nil {
			return try, maybeSent, err
		}
		wait *= 2
	}
}

// mayHaveSent reports whether a try that failed with err got no answer
// after its request may have reached the provider: a timeout or a
// connection cut, but not a refused or unresolvable connection (nothing
// went out) nor an answer of any status (the provider said what it did).
func mayHaveSent(err error) bool {
	if pe, ok := errors.AsType[*ProviderError](err); ok && pe.Status != 0 {
		return false
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return false
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return false
	}
	_, isNet := errors.AsType[net.Error](err)
	return isNet || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// deadline is ctx's deadline, which every context of a Delivery has.
func deadline(ctx context.Context) time.Time {
	t, _ := ctx.Deadline()
	return t
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
