package phoneauth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// A session rotated MaxGeneration times cannot be rotated again, as no jti
// holds the next generation; no store test can rotate that often.
func TestRotationEndsAtMaxGeneration(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	cur := phoneauth.Session{ID: 1, UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		Generation: phoneauth.MaxGeneration, RotatedAt: now}
	r := phoneauth.Rotation{
		Token: phoneauth.Claims{Subject: "u", Type: phoneauth.TokenRefresh, IssuedAt: now, ExpiresAt: cur.ExpiresAt,
			Ref: phoneauth.TokenRef{Own: true, Session: 1, Generation: phoneauth.MaxGeneration}},
		Now:   now.Add(time.Second),
		Grace: 10 * time.Second,
	}
	next, write, err := r.Decide(&cur, false)
	if !errors.Is(err, phoneauth.ErrTokenRevoked) || !write || !next.RevokedAt.Equal(r.Now) || next.Generation != phoneauth.MaxGeneration {
		t.Errorf("Decide at MaxGeneration = %+v, write %t, %v; want the session revoked at %s, written, and %v",
			next, write, err, r.Now, phoneauth.ErrTokenRevoked)
	}
}

// TestPolicyDurationBounds checks the bounds Validate puts on the
// durations that have an upper one.
func TestPolicyDurationBounds(t *testing.T) {
	t.Parallel()
	grace := func(p *phoneauth.Policy) *time.Duration { return &p.RefreshReuseGrace }
	throttle := func(p *phoneauth.Policy) *time.Duration { return &p.LoginThrottle }
	for _, tt := range []struct {
		field string
		of    func(*phoneauth.Policy) *time.Duration
		d     time.Duration
		ok    bool
	}{
		{"RefreshReuseGrace", grace, 0, true},
		{"RefreshReuseGrace", grace, phoneauth.DefaultPolicy().RefreshReuseGrace, true},
		{"RefreshReuseGrace", grace, time.Minute, true},
		{"RefreshReuseGrace", grace, time.Minute + time.Nanosecond, false},
		{"RefreshReuseGrace", grace, -time.Nanosecond, false},
		{"LoginThrottle", throttle, 0, true},
		{"LoginThrottle", throttle, phoneauth.DefaultPolicy().LoginThrottle, true},
		{"LoginThrottle", throttle, phoneauth.MaxLoginThrottle, true},
		{"LoginThrottle", throttle, phoneauth.MaxLoginThrottle + time.Nanosecond, false},
		{"LoginThrottle", throttle, -time.Nanosecond, false},
	} {
		p := phoneauth.DefaultPolicy()
		*tt.of(&p) = tt.d
		err := p.Validate()
		var pe *phoneauth.PolicyError
		switch {
		case tt.ok && err != nil:
			t.Errorf("Validate with %s %s: %v, want nil", tt.field, tt.d, err)
		case !tt.ok && (!errors.As(err, &pe) || pe.Field != tt.field):
			t.Errorf("Validate with %s %s: %v, want a *PolicyError naming %s", tt.field, tt.d, err, tt.field)
		}
	}
}
