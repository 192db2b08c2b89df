package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/url"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/tcpproxy"
	"github.com/phoneauth/phoneauth/internal/testenv"
	"github.com/phoneauth/phoneauth/limitertest"
)

// testTimeout is the Options.Timeout of the limiters that must fail.
const testTimeout = 200 * time.Millisecond

// hangBound is how long a call may take before a test calls it hung: far
// beyond testTimeout, a bound against hanging rather than a timing
// assertion.
const hangBound = 5 * time.Second

func TestLimiter(t *testing.T) {
	t.Parallel()
	u := redisURL(t)
	limitertest.Run(t, func(t *testing.T) phoneauth.Limiter {
		return open(t, u, Options{})
	})
}

func TestKeysLiveUnderThePrefix(t *testing.T) {
	t.Parallel()
	u := redisURL(t)
	a := open(t, u, Options{})
	b := open(t, u, Options{})
	direct := client(t, u)

	if _, _, err := a.Hit(t.Context(), "ip:127.0.0.1", time.Minute); err != nil {
		t.Fatalf("Hit: %v", err)
	}
	t.Run("a counter is stored under the prefix with an expiry", func(t *testing.T) {
		const key = "ip:127.0.0.1"
		ttl, err := direct.PTTL(t.Context(), a.prefix+key).Result()
		if err != nil {
			t.Fatalf("PTTL: %v", err)
		}
		if ttl <= 0 || ttl > time.Minute {
			t.Errorf("PTTL(%q) = %s, want in (0, 1m]", a.prefix+key, ttl)
		}
	})
	t.Run("another prefix does not see it", func(t *testing.T) {
		if n, _, err := b.Hit(t.Context(), "ip:127.0.0.1", time.Minute); err != nil || n != 1 {
			t.Errorf("Hit under another prefix = %d, %v; want 1", n, err)
		}
	})
}

func TestCancelledContextIsNotUnavailable(t *testing.T) {
	t.Parallel()
	l := open(t, redisURL(t), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := l.Ping(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, phoneauth.ErrUnavailable) {
		t.Errorf("Ping with a cancelled context = %v, want context.Canceled and not ErrUnavailable", err)
	}
}

func TestUnreachableRedisIsUnavailable(t *testing.T) {
	t.Parallel()
	u := "redis://" + deadAddr(t) + "/0"
	o := Options{Prefix: testPrefix(), Timeout: testTimeout}

	t.Run("Open fails with ErrUnavailable", func(t *testing.T) {
		t.Parallel()
		err := prompt(t, func() error {
			l, err := Open(t.Context(), u, o)
			if err == nil {
				l.Close()
			}
			return err
		})
		if !errors.Is(err, phoneauth.ErrUnavailable) {
			t.Errorf("Open = %v, want ErrUnavailable", err)
		}
	})

	// Open refuses to return a limiter it cannot reach, so build the one
	// Open would have.
	opts, err := clientOptions(u, o.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	l := New(c, o)
	for _, op := range ops() {
		t.Run(op.name+" fails promptly with ErrUnavailable", func(t *testing.T) {
			t.Parallel()
			if err := prompt(t, func() error { return op.call(t.Context(), l) }); !errors.Is(err, phoneauth.ErrUnavailable) {
				t.Errorf("%s = %v, want ErrUnavailable", op.name, err)
			}
		})
	}
}

func TestRecoversWhenRedisIsBack(t *testing.T) {
	t.Parallel()
	u := redisURL(t)
	target, err := goredis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cut  func(*tcpproxy.Proxy)
	}{
		{"connections refused", (*tcpproxy.Proxy).Refuse},
		{"connections reset as soon as accepted", (*tcpproxy.Proxy).Cut},
		{"connections accepted but never answered", (*tcpproxy.Proxy).Stall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tcpproxy.ForTest(t, target.Addr)
			pu, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			pu.Host = p.Addr()
			l := open(t, pu.String(), Options{Timeout: testTimeout})
			const key = "ip:127.0.0.1"
			// A window far longer than any outage phase, however slow the
			// machine: the count must survive the outage, not its window.
			const window = time.Hour
			if n, _, err := l.Hit(t.Context(), key, window); err != nil || n != 1 {
				t.Fatalf("Hit before the cut = %d, %v; want 1", n, err)
			}

			tt.cut(p)
			for _, op := range ops() {
				if err := prompt(t, func() error { return op.call(t.Context(), l) }); !errors.Is(err, phoneauth.ErrUnavailable) {
					t.Errorf("%s while cut = %v, want ErrUnavailable", op.name, err)
				}
			}

			// Drop the connections and what a stall holds before restoring,
			// so that no call that gave up reaches Redis late.
			p.Cut()
			p.Restore()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for {
				err := l.Ping(ctx)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("Ping still fails after restoring: %v", err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
			// The counter lives in Redis, so the same limiter counts on.
			if n, _, err := l.Hit(t.Context(), key, window); err != nil || n != 2 {
				t.Errorf("Hit after restoring = %d, %v; want 2", n, err)
			}
		})
	}
}

// op is a Limiter call whose error a test checks.
type op struct {
	name string
	call func(context.Context, *Limiter) error
}

func ops() []op {
	return []op{
		{"Hit", func(ctx context.Context, l *Limiter) error {
			_, _, err := l.Hit(ctx, "ip:127.0.0.1", time.Minute)
			return err
		}},
		{"Refund", func(ctx context.Context, l *Limiter) error { return l.Refund(ctx, "ip:127.0.0.1") }},
		{"Ping", func(ctx context.Context, l *Limiter) error { return l.Ping(ctx) }},
	}
}

// prompt returns what f returns, failing t if f has not returned within
// hangBound.
func prompt(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangBound):
		t.Fatalf("call still running after %s: the timeout does not bound it", hangBound)
		return nil
	}
}

// redisURL returns the test Redis URL, skipping t (failing it under CI)
// when none is set or Redis does not answer.
func redisURL(t *testing.T) string {
	t.Helper()
	u := testenv.RedisURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := client(t, u).Ping(ctx).Err(); err != nil {
		testenv.Unreachable(t, "Redis at "+testenv.RedisVar, err)
	}
	return u
}

// client returns a plain client for u, closed when t ends.
func client(t *testing.T, u string) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.RedisVar, err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func testPrefix() string { return "phoneauth-test:" + rand.Text() + ":" }

// open opens a Limiter on u under a fresh prefix (unless o names one). When
// t ends it is closed and its keys are deleted through a direct client to
// the test Redis, as u may lead through a proxy.
func open(t *testing.T, u string, o Options) *Limiter {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = testPrefix()
	}
	direct := testenv.RedisURL(t)
	l, err := Open(t.Context(), u, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Cleanup(func() { deleteKeys(t, direct, o.Prefix) })
	return l
}

// deleteKeys deletes every key under prefix. It runs in t.Cleanup, after
// t.Context is cancelled.
func deleteKeys(t *testing.T, u, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := client(t, u)
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("delete test key %q: %v", iter.Val(), err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan test keys: %v", err)
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
