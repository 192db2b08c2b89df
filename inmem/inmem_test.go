package inmem

import (
	"fmt"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/limitertest"
	"github.com/phoneauth/phoneauth/phoneauthtest"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	limitertest.Run(t, func(*testing.T) phoneauth.Limiter { return New() })
}

// newClock returns a manual clock for WithClock.
func newClock() *phoneauthtest.Clock {
	return phoneauthtest.NewClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
}

func TestHitExpiryFollowsTheClock(t *testing.T) {
	t.Parallel()
	const window = time.Minute
	tests := []struct {
		name      string
		advance   time.Duration // before the hit
		wantCount int64
		wantReset time.Duration
	}{
		{"the first hit opens the window", 0, 1, window},
		{"a hit inside the window counts on and does not move it", 30 * time.Second, 2, 30 * time.Second},
		{"the last instant of the window still counts", 30*time.Second - time.Nanosecond, 3, time.Nanosecond},
		{"at the window's end the count starts over", time.Nanosecond, 1, window},
		{"the new window counts on", window - time.Second, 2, time.Second},
	}
	c := newClock()
	l := New(WithClock(c.Now))
	// The steps build on each other, so they run in order.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Advance(tt.advance)
			gotCount, gotReset, err := l.Hit(t.Context(), "ip:127.0.0.1", window)
			if err != nil {
				t.Fatalf("Hit: %v", err)
			}
			if gotCount != tt.wantCount || gotReset != tt.wantReset {
				t.Errorf("Hit = %d, %s; want %d, %s", gotCount, gotReset, tt.wantCount, tt.wantReset)
			}
		})
	}
}

func TestSweepDropsExpiredEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys int
	}{
		{"fewer keys than the sweep minimum", sweepMin / 2},
		{"many more keys than the sweep minimum", 10 * sweepMin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			l := New(WithClock(c.Now))
			for i := range tt.keys {
				if _, _, err := l.Hit(t.Context(), fmt.Sprintf("ip:10.0.%d.%d", i/256, i%256), time.Minute); err != nil {
					t.Fatalf("Hit: %v", err)
				}
			}
			if n, _, err := l.Hit(t.Context(), "sms:live", time.Hour); err != nil || n != 1 {
				t.Fatalf("Hit of the live key = %d, %v; want 1", n, err)
			}
			if got, want := size(l), tt.keys+1; got != want {
				t.Fatalf("before expiry: %d entries, want %d (nothing has expired yet)", got, want)
			}
			c.Advance(time.Minute)
			// A sweep is due within max(sweepMin, entries) operations; these
			// touch no stored key.
			for range max(sweepMin, tt.keys+1) {
				if err := l.Refund(t.Context(), "sms:other"); err != nil {
					t.Fatalf("Refund: %v", err)
				}
			}
			if got, want := size(l), 1; got != want {
				t.Errorf("after expiry: %d entries, want %d (only the live counter)", got, want)
			}
			if n, _, err := l.Hit(t.Context(), "sms:live", time.Hour); err != nil || n != 2 {
				t.Errorf("Hit of the live key after the sweep = %d, %v; want 2: the sweep must keep live entries", n, err)
			}
		})
	}
}

func size(l *Limiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func TestRefundFollowsTheClock(t *testing.T) {
	t.Parallel()
	const window = time.Minute
	tests := []struct {
		name      string
		advance   time.Duration // before the calls
		refunds   int           // before the hit
		wantCount int64
		wantReset time.Duration
	}{
		{"a Refund of a missing counter creates nothing", 0, 1, 1, window},
		{"a Refund takes back the hit and keeps the window", 20 * time.Second, 1, 1, 40 * time.Second},
		{"Refunds stop at zero and keep the window", 20 * time.Second, 3, 1, 20 * time.Second},
		{"the window still ends where the first hit put it", 20*time.Second - time.Nanosecond, 0, 2, time.Nanosecond},
	}
	c := newClock()
	l := New(WithClock(c.Now))
	// The steps build on each other, so they run in order.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Advance(tt.advance)
			for range tt.refunds {
				if err := l.Refund(t.Context(), "sms:budget"); err != nil {
					t.Fatalf("Refund: %v", err)
				}
			}
			gotCount, gotReset, err := l.Hit(t.Context(), "sms:budget", window)
			if err != nil {
				t.Fatalf("Hit: %v", err)
			}
			if gotCount != tt.wantCount || gotReset != tt.wantReset {
				t.Errorf("Hit = %d, %s; want %d, %s", gotCount, gotReset, tt.wantCount, tt.wantReset)
			}
		})
	}
}
