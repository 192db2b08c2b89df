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

func TestPolicyRefreshReuseGrace(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		grace time.Duration
		ok    bool
	}{
		{0, true},
		{phoneauth.DefaultPolicy().RefreshReuseGrace, true},
		{time.Minute, true},
		{time.Minute + time.Nanosecond, false},
		{-time.Nanosecond, false},
	} {
		p := phoneauth.DefaultPolicy()
		p.RefreshReuseGrace = tt.grace
		err := p.Validate()
		var pe *phoneauth.PolicyError
		switch {
		case tt.ok && err != nil:
			t.Errorf("Validate with RefreshReuseGrace %s: %v, want nil", tt.grace, err)
		case !tt.ok && (!errors.As(err, &pe) || pe.Field != "RefreshReuseGrace"):
			t.Errorf("Validate with RefreshReuseGrace %s: %v, want a *PolicyError naming RefreshReuseGrace", tt.grace, err)
		}
	}
}

func TestPolicyLoginThrottle(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		throttle time.Duration
		ok       bool
	}{
		{0, true},
		{phoneauth.DefaultPolicy().LoginThrottle, true},
		{phoneauth.MaxLoginThrottle, true},
		{phoneauth.MaxLoginThrottle + time.Nanosecond, false},
		{-time.Nanosecond, false},
	} {
		p := phoneauth.DefaultPolicy()
		p.LoginThrottle = tt.throttle
		err := p.Validate()
		var pe *phoneauth.PolicyError
		switch {
		case tt.ok && err != nil:
			t.Errorf("Validate with LoginThrottle %s: %v, want nil", tt.throttle, err)
		case !tt.ok && (!errors.As(err, &pe) || pe.Field != "LoginThrottle"):
			t.Errorf("Validate with LoginThrottle %s: %v, want a *PolicyError naming LoginThrottle", tt.throttle, err)
		}
	}
}
