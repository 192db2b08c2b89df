// Package redis is a phoneauth.Limiter kept in Redis, shared by every
// instance of the service. Each operation is one atomic command or script,
// bounded by a timeout; when Redis cannot be reached the error wraps
// phoneauth.ErrUnavailable, and the client reconnects by itself once Redis
// answers again.
package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/phoneauth/phoneauth"
)

// Defaults of Options.
const (
	DefaultPrefix  = "phoneauth:"
	DefaultTimeout = 500 * time.Millisecond
)

var _ phoneauth.Limiter = (*Limiter)(nil)

// Options configure a Limiter. The zero value uses the defaults.
type Options struct {
	// Prefix is put before every key, so several services or tests can
	// share one database. Default DefaultPrefix.
	Prefix string
	// Timeout bounds each operation, waiting for a connection included.
	// Default DefaultTimeout.
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Limiter is a phoneauth.Limiter in Redis, safe for concurrent use. Build it
// with Open or New, and Close it when done.
type Limiter struct {
	client  goredis.UniversalClient
	prefix  string
	timeout time.Duration
	owned   bool // Close closes client
}

// Open connects to the Redis at url (redis://[user:password@]host:port/db,
// rediss:// for TLS; see go-redis ParseURL for the query options) with
// dial, read, write and pool timeouts of o.Timeout unless url sets them,
// and checks that it answers within ctx and o.Timeout. Errors: a url that
// fails CheckURL, or one wrapping phoneauth.ErrUnavailable when Redis does
// not answer.
func Open(ctx context.Context, url string, o Options) (*Limiter, error) {
	o = o.withDefaults()
	opts, err := clientOptions(url, o)
	if err != nil {
		return nil, err
	}
	l := New(goredis.NewClient(opts), o)
	l.owned = true
	if err := l.Ping(ctx); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("redis: open %s: %w", opts.Addr, err)
	}
	return l, nil
}

// CheckURL returns an error if Open cannot use url: one go-redis's
// ParseURL refuses. Its text is a predicate on the URL, to follow the name
// of the setting that holds it, as in "PHONEAUTH_REDIS_URL is not a valid
// redis:// or rediss:// URL"; it never quotes the URL, which may hold a
// password.
func CheckURL(url string) error {
	_, err := parseURL(url)
	return err
}

// parseURL is goredis.ParseURL with the error CheckURL documents.
func parseURL(url string) (*goredis.Options, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		// Not wrapped: the parser's message can quote the URL.
		return nil, errors.New("is not a valid redis:// or rediss:// URL")
	}
	return opts, nil
}

// clientOptions are the client options Open uses for url.
func clientOptions(url string, o Options) (*goredis.Options, error) {
	opts, err := parseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: url %w", err)
	}
	for _, d := range []*time.Duration{&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.PoolTimeout} {
		if *d == 0 {
			*d = o.Timeout
		}
	}
	// Without it the client ignores the deadline of the context for reads
	// and writes, and only its own timeouts bound a call.
	opts.ContextTimeoutEnabled = true
	return opts, nil
}

// New returns a Limiter that uses client, which stays the caller's: Close
// does not close it. Every call is bounded by o.Timeout through its
// context, which bounds socket reads and writes only if the client was
// built with ContextTimeoutEnabled (or short timeouts of its own).
func New(client goredis.UniversalClient, o Options) *Limiter {
	o = o.withDefaults()
	return &Limiter{client: client, prefix: o.Prefix, timeout: o.Timeout}
}

// Close closes the client if Open created it, and returns its error.
func (l *Limiter) Close() error {
	if !l.owned {
		return nil
	}
	if err := l.client.Close(); err != nil {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}

// hitScript increments the counter and, when the counter is new (or has
// somehow lost its expiry, which would throttle forever), starts its
// window. It returns the count and the milliseconds left of the window.
var hitScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// refundScript takes one off the counter if it exists and is above zero.
// DECR keeps the key's expiry, so the window stays where the first hit put
// it; a missing key is not created. It returns 1 if it took one off.
var refundScript = goredis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '')
if n and n > 0 then
	redis.call('DECR', KEYS[1])
	return 1
end
return 0
`)

// Hit adds one to the counter key and returns the new count and the time
// until the counter resets, window after its first hit. Errors: a window
// that is not positive; phoneauth.ErrUnavailable when Redis cannot be
// reached in time.
func (l *Limiter) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("redis: hit: window %s is not positive", window)
	}
	v, err := l.run(ctx, "hit", hitScript, key, window)
	if err != nil {
		return 0, 0, err
	}
	return v[0], left(v[1]), nil
}

// Refund takes back one Hit of the counter key, keeping its window. A
// counter at zero, or one that does not exist, is left as it is. Errors:
// phoneauth.ErrUnavailable when Redis cannot be reached in time.
func (l *Limiter) Refund(ctx context.Context, key string) error {
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := refundScript.Run(cctx, l.client, []string{l.prefix + key}).Err(); err != nil {
		return l.fail(ctx, "refund", err)
	}
	return nil
}

// Ping reports whether Redis answers within the timeout. Errors:
// phoneauth.ErrUnavailable when it does not.
func (l *Limiter) Ping(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := l.client.Ping(cctx).Err(); err != nil {
		return l.fail(ctx, "ping", err)
	}
	return nil
}

// run runs script on the prefixed key with the argument d in milliseconds
// (rounded up, as Redis knows no less), and returns its two integers.
func (l *Limiter) run(ctx context.Context, op string, script *goredis.Script, key string, d time.Duration) ([]int64, error) {
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	ms := (d + time.Millisecond - 1) / time.Millisecond
	v, err := script.Run(cctx, l.client, []string{l.prefix + key}, int64(ms)).Int64Slice()
	if err != nil {
		return nil, l.fail(ctx, op, err)
	}
	if len(v) != 2 {
		return nil, fmt.Errorf("redis: %s: script returned %d values, want 2", op, len(v))
	}
	return v, nil
}

// left turns milliseconds from PTTL into a duration. PTTL says 0 in the
// last millisecond of a key; the contract promises a positive time left.
func left(ms int64) time.Duration {
	return max(time.Duration(ms)*time.Millisecond, time.Millisecond)
}

// fail wraps err of operation op. A failure to reach Redis, or Redis
// saying it cannot serve now, wraps phoneauth.ErrUnavailable; the caller
// cancelling ctx does not: Redis was not at fault.
func (l *Limiter) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	if unavailable(err) {
		return fmt.Errorf("redis: %s: %w: %w", op, phoneauth.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

// unavailable reports whether err means Redis cannot serve now and may
// later: any error that is not a reply from Redis (network, timeout, closed
// pool), or a reply that says so.
func unavailable(err error) bool {
	var reply goredis.Error
	if !errors.As(err, &reply) {
		return true
	}
	return goredis.IsLoadingError(err) || goredis.IsReadOnlyError(err) ||
		goredis.IsClusterDownError(err) || goredis.IsTryAgainError(err) ||
		goredis.IsMasterDownError(err) || goredis.IsMaxClientsError(err) ||
		goredis.IsOOMError(err) || goredis.HasErrorPrefix(err, "BUSY ")
}
