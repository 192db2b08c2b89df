package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/limitertest"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	limitertest.Run(t, func(t *testing.T) phoneauth.Limiter {
		s, _ := newStore(t, Options{})
		return s.Limiter()
	})
}

func TestLimiterOutage(t *testing.T) {
	t.Parallel()
	for _, o := range outages {
		t.Run(o.name+": every call returns ErrUnavailable, and the counters are there after recovery", func(t *testing.T) {
			t.Parallel()
			s, p := newProxiedStore(t)
			l := s.Limiter()
			const key = "ip:127.0.0.1"
			// A window far longer than any outage phase, however slow the
			// machine: the count must survive the outage, not its window.
			const window = time.Hour
			if n, _, err := l.Hit(t.Context(), key, window); err != nil || n != 1 {
				t.Fatalf("Hit before the outage = %d, %v; want 1", n, err)
			}
			fillPool(t, s, 4)

			o.start(p)
			// The group returns once its parallel subtests are done.
			t.Run("during the outage", func(t *testing.T) {
				for _, op := range limiterOps(key) {
					t.Run(op.name, func(t *testing.T) {
						t.Parallel()
						if err := op.call(t.Context(), l); !errors.Is(err, phoneauth.ErrUnavailable) {
							t.Errorf("%s: got error %v, want %v", op.name, err, phoneauth.ErrUnavailable)
						}
					})
				}
			})

			endOutage(p)
			if n, _, err := l.Hit(t.Context(), key, window); err != nil || n != 2 {
				t.Errorf("Hit after the outage = %d, %v; want 2", n, err)
			}
		})
	}
}

// limiterOp is a Limiter call whose error a test checks.
type limiterOp struct {
	name string
	call func(context.Context, *Limiter) error
}

// limiterOps are every call of a Limiter on key, each of which changes
// nothing if it fails.
func limiterOps(key string) []limiterOp {
	return []limiterOp{
		{"Hit", func(ctx context.Context, l *Limiter) error {
			_, _, err := l.Hit(ctx, key, time.Minute)
			return err
		}},
		{"Refund", func(ctx context.Context, l *Limiter) error { return l.Refund(ctx, key) }},
		{"Ping", func(ctx context.Context, l *Limiter) error { return l.Ping(ctx) }},
		{"Prune", func(ctx context.Context, l *Limiter) error {
			_, err := l.Prune(ctx)
			return err
		}},
	}
}

func TestLimiterPrune(t *testing.T) {
	t.Parallel()

	t.Run("batches smaller than the expired rows delete them all and keep the live ones", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t, Options{})
		s.pruneBatch = 2
		l := s.Limiter()
		const expired = 5
		for i := range expired {
			insertLimit(t, s, fmt.Sprintf("ip:10.0.0.%d", i), -time.Minute)
		}
		if n, _, err := l.Hit(t.Context(), "sms:live", time.Hour); err != nil || n != 1 {
			t.Fatalf("Hit = %d, %v; want 1", n, err)
		}
		checkLimiterPrune(t, l, expired)
		checkLimiterPrune(t, l, 0)
		if got := limitRows(t, s); got != 1 {
			t.Errorf("%d rows left in limits, want 1 (the live counter)", got)
		}
		if n, _, err := l.Hit(t.Context(), "sms:live", time.Hour); err != nil || n != 2 {
			t.Errorf("Hit of the live key after Prune = %d, %v; want 2", n, err)
		}
	})

	t.Run("rows a live transaction holds are skipped without waiting, and pruned once released", func(t *testing.T) {
		t.Parallel()
		// Waiting for the lock would fail Prune at the statement timeout.
		s, dsn := newStore(t, Options{StatementTimeout: 500 * time.Millisecond})
		l := s.Limiter()
		insertLimit(t, s, "ip:10.0.0.1", -time.Minute)
		insertLimit(t, s, "ip:10.0.0.2", -time.Minute)

		tx := lockInTx(t, dsn, `SELECT FROM limits WHERE key = 'ip:10.0.0.1' FOR UPDATE`)
		checkLimiterPrune(t, l, 1)
		if err := tx.Rollback(t.Context()); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		checkLimiterPrune(t, l, 1)
	})
}

// insertLimit stores a counter of one under key that expires after d,
// which may be negative.
func insertLimit(t *testing.T, s *Store, key string, d time.Duration) {
	t.Helper()
	if _, err := s.pool.Exec(t.Context(),
		`INSERT INTO limits (key, count, expires_at) VALUES ($1, 1, now() + $2::interval)`, key, d); err != nil {
		t.Fatalf("insert limit %q: %v", key, err)
	}
}

func limitRows(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM limits`).Scan(&n); err != nil {
		t.Fatalf("count limits: %v", err)
	}
	return n
}

// checkLimiterPrune runs Prune and fails t unless it deleted want rows.
func checkLimiterPrune(t *testing.T, l *Limiter, want int64) {
	t.Helper()
	got, err := l.Prune(t.Context())
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if got != want {
		t.Errorf("Prune: got %d rows deleted, want %d", got, want)
	}
}
