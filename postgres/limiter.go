package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Limiter = (*Limiter)(nil)

// Limiter is a phoneauth.Limiter kept in the limits table of a Store's
// database, so that a fleet on PostgreSQL without Redis still shares its
// rate limits and SMS budgets. Get it from Store.Limiter; it is safe for
// concurrent use.
//
// Every operation is one round trip and one transaction, and it reads the
// time from the database's clock, never the instance's, so instances whose
// clocks disagree still share one window. Expired rows count as absent and
// are started over in place by Hit; Prune deletes the ones nobody came
// back for. The table's owner column is unused since holds were removed
// from the Limiter; it stays, as no migration drops it. Errors wrap
// phoneauth.ErrUnavailable exactly as the Store's do.
type Limiter struct {
	s *Store
}

// Limiter returns the phoneauth.Limiter kept in s's database. It shares s's
// pool, timeouts and error handling, needs the schema Migrate creates, and
// works until s is closed.
func (s *Store) Limiter() *Limiter { return &Limiter{s: s} }

// hitQuery adds one to counter $1, starting it over with a window of $2
// from now if it is absent or expired. It returns the count and the time
// left, which the clamp keeps within $2 even when a concurrent Hit whose
// transaction began a moment later created the row.
const hitQuery = `
INSERT INTO limits AS l (key, count, expires_at) VALUES ($1, 1, now() + $2::interval)
ON CONFLICT (key) DO UPDATE SET
	count = CASE WHEN l.expires_at <= now() THEN 1 ELSE l.count + 1 END,
	expires_at = CASE WHEN l.expires_at <= now() THEN excluded.expires_at ELSE l.expires_at END
RETURNING count, least(expires_at - now(), $2::interval)`

// refundQuery takes one off counter $1 unless it is at zero, absent or
// expired. It leaves expires_at alone, so the window stays.
const refundQuery = `
UPDATE limits SET count = count - 1
WHERE key = $1 AND count > 0 AND expires_at > now()`

// pruneLimitsQuery deletes up to $1 expired rows. SKIP LOCKED passes over
// rows a Hit is starting over, so Prune never waits on one.
const pruneLimitsQuery = `
DELETE FROM limits WHERE key IN (
	SELECT key FROM limits WHERE expires_at <= now()
	LIMIT $1 FOR UPDATE SKIP LOCKED
)`

// Hit adds one to the counter key and returns the new count and the time
// until the counter resets, window after its first hit, in one upsert.
// Errors: a window that is not positive; phoneauth.ErrUnavailable when the
// database cannot be reached in time.
func (l *Limiter) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("postgres: limiter hit: window %s is not positive", window)
	}
	ctx, cancel := l.s.bound(ctx)
	defer cancel()
	var n int64
	var reset time.Duration
	if err := l.s.pool.QueryRow(ctx, hitQuery, key, micros(window)).Scan(&n, &reset); err != nil {
		return 0, 0, l.s.fail(ctx, "limiter hit", err)
	}
	return n, reset, nil
}

// Refund takes back one Hit of the counter key in one conditional update,
// keeping its window. A counter at zero, and one that does not exist or has
// expired, is left as it is. Errors: phoneauth.ErrUnavailable when the
// database cannot be reached in time.
func (l *Limiter) Refund(ctx context.Context, key string) error {
	ctx, cancel := l.s.bound(ctx)
	defer cancel()
	if _, err := l.s.pool.Exec(ctx, refundQuery, key); err != nil {
		return l.s.fail(ctx, "limiter refund", err)
	}
	return nil
}

// Ping reports whether the database answers, as Store.Ping does.
func (l *Limiter) Ping(ctx context.Context) error { return l.s.Ping(ctx) }

// Prune deletes the counters that have expired by the database's clock and
// returns how many it deleted. It works in batches, one statement each,
// bounded like any other call, and passes over rows a concurrent Hit is
// starting over. Nothing else deletes expired rows: call Prune
// now and then, as with Store.Prune, or the rows of keys that never come
// back pile up. Errors wrap phoneauth.ErrUnavailable when the
// database cannot be reached in time; the count then says what earlier
// batches deleted.
func (l *Limiter) Prune(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := l.pruneOnce(ctx)
		total += n
		if err != nil || n < int64(l.s.pruneBatch) {
			return total, err
		}
	}
}

func (l *Limiter) pruneOnce(ctx context.Context) (int64, error) {
	ctx, cancel := l.s.bound(ctx)
	defer cancel()
	ct, err := l.s.pool.Exec(ctx, pruneLimitsQuery, l.s.pruneBatch)
	if err != nil {
		return 0, l.s.fail(ctx, "limiter prune", err)
	}
	return ct.RowsAffected(), nil
}

// micros is d rounded up to whole microseconds, PostgreSQL's resolution, so
// that a positive duration stays positive.
func micros(d time.Duration) time.Duration {
	return (d + time.Microsecond - 1).Truncate(time.Microsecond)
}
