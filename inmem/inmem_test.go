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

func TestHoldExpiryFollowsTheClock(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Minute
	tests := []struct {
		name     string
		advance  time.Duration // before the hold
		ttl      time.Duration
		wantOK   bool
		wantLeft time.Duration
	}{
		{"a free key is taken", 0, ttl, true, 0},
		{"a held key reports the time left", time.Minute, ttl, false, 4 * time.Minute},
		{"a refused hold with a longer ttl does not extend it", time.Minute, 10 * ttl, false, 3 * time.Minute},
		{"the last instant of the hold still refuses", 3*time.Minute - time.Nanosecond, ttl, false, time.Nanosecond},
		{"at the hold's end the key is taken again", time.Nanosecond, time.Second, true, 0},
		{"the new hold runs for its own ttl", 0, ttl, false, time.Second},
	}
	c := newClock()
	l := New(WithClock(c.Now))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Advance(tt.advance)
			gotOK, gotLeft, err := l.Hold(t.Context(), "login:u1", "owner", tt.ttl)
			if err != nil {
				t.Fatalf("Hold: %v", err)
			}
			if gotOK != tt.wantOK || gotLeft != tt.wantLeft {
				t.Errorf("Hold = %t, %s; want %t, %s", gotOK, gotLeft, tt.wantOK, tt.wantLeft)
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
			if !held(t, l, "login:live", time.Hour) {
				t.Fatal("Hold of a free key = false, want true")
			}
			if got, want := size(l), tt.keys+1; got != want {
				t.Fatalf("before expiry: %d entries, want %d (nothing has expired yet)", got, want)
			}
			c.Advance(time.Minute)
			// A sweep is due within max(sweepMin, entries) operations; these
			// touch no stored key.
			for range max(sweepMin, tt.keys+1) {
				if err := l.Release(t.Context(), "login:other"); err != nil {
					t.Fatalf("Release: %v", err)
				}
			}
			if got, want := size(l), 1; got != want {
				t.Errorf("after expiry: %d entries, want %d (only the live hold)", got, want)
			}
			if held(t, l, "login:live", time.Hour) {
				t.Error("Hold of the live key after the sweep = true, want false: the sweep must keep live entries")
			}
		})
	}
}

func held(t *testing.T, l *Limiter, key string, ttl time.Duration) bool {
	t.Helper()
	ok, _, err := l.Hold(t.Context(), key, "owner", ttl)
	if err != nil {
		t.Fatalf("Hold(%q): %v", key, err)
	}
	return ok
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
