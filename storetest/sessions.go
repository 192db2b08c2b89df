package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// grace is the refresh reuse grace the tests rotate with, unless they say.
const grace = 10 * time.Second

// newSession is a session the service opens for userID at now.
func newSession(userID string, now time.Time) phoneauth.Session {
	return phoneauth.Session{
		ID:        rand.Uint64(),
		UserID:    userID,
		CreatedAt: now,
		ExpiresAt: now.Add(refreshTTL),
		RotatedAt: now,
	}
}

// refreshOf returns the claims of the current refresh token of sess, as
// the service signs them.
func refreshOf(sess phoneauth.Session) phoneauth.Claims {
	return phoneauth.Claims{
		Subject:   sess.UserID,
		Type:      phoneauth.TokenRefresh,
		IssuedAt:  sess.RotatedAt.Truncate(time.Second),
		ExpiresAt: sess.ExpiresAt,
		Ref:       accessRef(sess),
	}
}

// accessRef is the reference of an access token of sess's current
// generation.
func accessRef(sess phoneauth.Session) phoneauth.TokenRef {
	return phoneauth.TokenRef{Own: true, Session: sess.ID, Generation: sess.Generation}
}

// foreignToken returns the claims of a token minted at now for userID by
// another backend with the same secret: a random jti, no session.
func foreignToken(userID string, typ phoneauth.TokenType, now time.Time) phoneauth.Claims {
	ttl := accessTTL
	if typ == phoneauth.TokenRefresh {
		ttl = refreshTTL
	}
	return phoneauth.Claims{
		Subject:   userID,
		Type:      typ,
		IssuedAt:  now.Truncate(time.Second),
		ExpiresAt: now.Truncate(time.Second).Add(ttl),
		Ref:       phoneauth.TokenRef{JTI: newID()},
	}
}

// rotation is what the service passes to RotateRefresh when refresh token
// t is presented at now: for a token not its own, the session it adopts.
func rotation(t phoneauth.Claims, now time.Time, grace time.Duration) phoneauth.Rotation {
	r := phoneauth.Rotation{Token: t, Now: now, Grace: grace}
	if !t.Ref.Own {
		r.Adopt = newSession(t.Subject, now)
		r.Adopt.Generation, r.Adopt.PreviousRotatedAt = 1, t.IssuedAt
		if t.ExpiresAt.Before(r.Adopt.ExpiresAt) {
			r.Adopt.ExpiresAt = t.ExpiresAt
		}
	}
	return r
}

// revocation is what the service passes to RevokeToken when token t is
// presented at now: for a token not its own, a revoked session to record it
// in.
func revocation(userID string, t phoneauth.Claims, now time.Time) phoneauth.Revocation {
	r := phoneauth.Revocation{Token: t, Now: now}
	if !t.Ref.Own {
		r.Record = phoneauth.Session{ID: rand.Uint64(), UserID: userID, CreatedAt: now,
			ExpiresAt: t.ExpiresAt, RotatedAt: now, RevokedAt: now}
	}
	return r
}

// rotated is sess after a rotation at now.
func rotated(sess phoneauth.Session, now time.Time) phoneauth.Session {
	sess.Generation++
	sess.PreviousRotatedAt, sess.RotatedAt = sess.RotatedAt, now
	return sess
}

// login signs u in at base and returns the session.
func (f *fixture) login(u phoneauth.User) phoneauth.Session {
	f.t.Helper()
	c := f.putLogin(u.ID, "login-"+newID(), base)
	sess := newSession(u.ID, base)
	if err := verifyLogin(f.t.Context(), f.s, u.ID, c.CodeHash, base, sess); err != nil {
		f.t.Fatalf("VerifyLogin(%s): %v", u.ID, err)
	}
	return sess
}

// rotate presents refresh token t at now with the default grace.
func (f *fixture) rotate(t phoneauth.Claims, now time.Time) (phoneauth.Session, error) {
	f.t.Helper()
	return f.s.RotateRefresh(f.t.Context(), rotation(t, now, grace))
}

// checkSession compares sessions field by field; times at millisecond
// precision and in UTC.
func checkSession(t *testing.T, what string, got, want phoneauth.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Generation != want.Generation {
		t.Errorf("%s: got session {ID:%x UserID:%s Generation:%d}, want {ID:%x UserID:%s Generation:%d}",
			what, got.ID, got.UserID, got.Generation, want.ID, want.UserID, want.Generation)
	}
	for _, tc := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"RotatedAt", got.RotatedAt, want.RotatedAt},
		{"PreviousRotatedAt", got.PreviousRotatedAt, want.PreviousRotatedAt},
		{"RevokedAt", got.RevokedAt, want.RevokedAt},
	} {
		if g, w := tc.got.Truncate(time.Millisecond), tc.want.Truncate(time.Millisecond); !g.Equal(w) {
			t.Errorf("%s: got %s %s, want %s (at millisecond precision)", what, tc.name, g, w)
		}
		if !tc.got.IsZero() && tc.got.Location() != time.UTC {
			t.Errorf("%s: got %s in zone %s, want UTC", what, tc.name, tc.got.Location())
		}
	}
}

// checkNoFork fails t unless, of the rotations in errs, exactly one
// succeeded and every other was refused as a reuse or, once that reuse had
// revoked the session, as revoked. It returns the winner's index.
func checkNoFork(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("goroutines %d and %d both rotated, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, phoneauth.ErrTokenReused) && !errors.Is(err, phoneauth.ErrTokenRevoked):
			t.Errorf("goroutine %d: got error %v, want %v or %v", i, err, phoneauth.ErrTokenReused, phoneauth.ErrTokenRevoked)
		}
	}
	if winner < 0 {
		t.Fatalf("no goroutine rotated, want exactly one")
	}
	return winner
}

func testRotateRefresh(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("the current refresh token moves the session to the next generation", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		s0 := f.login(u)
		now := base.Add(time.Minute)
		s1, err := f.rotate(refreshOf(s0), now)
		wantErr(t, "RotateRefresh", err, nil)
		checkSession(t, "RotateRefresh", s1, rotated(s0, now))
		later := now.Add(time.Minute)
		s2, err := f.rotate(refreshOf(s1), later)
		wantErr(t, "RotateRefresh of the successor", err, nil)
		checkSession(t, "RotateRefresh of the successor", s2, rotated(s1, later))
	})

	t.Run("the token just rotated, presented again within the grace, gets the same session; after it, the session is revoked", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		s0 := f.login(u)
		now := base.Add(time.Minute)
		s1, err := f.rotate(refreshOf(s0), now)
		wantErr(t, "RotateRefresh", err, nil)
		again, err := f.rotate(refreshOf(s0), now.Add(grace-time.Millisecond))
		wantErr(t, "RotateRefresh of the spent token within the grace", err, nil)
		checkSession(t, "RotateRefresh of the spent token within the grace", again, s1)
		_, err = f.rotate(refreshOf(s0), now.Add(grace))
		wantErr(t, "RotateRefresh of the spent token at the grace's end", err, phoneauth.ErrTokenReused)
		_, err = f.rotate(refreshOf(s1), now.Add(grace))
		wantErr(t, "RotateRefresh of the newest token", err, phoneauth.ErrTokenRevoked)
		for _, sess := range []phoneauth.Session{s0, s1} {
			_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
			wantErr(t, fmt.Sprintf("AccessUser of generation %d", sess.Generation), err, phoneauth.ErrTokenRevoked)
		}
		_, err = f.rotate(refreshOf(s0), now.Add(grace))
		wantErr(t, "RotateRefresh of the spent token a third time", err, phoneauth.ErrTokenRevoked)
	})

	t.Run("with no grace the token just rotated is reuse at once", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		s0 := f.login(u)
		s1, err := f.s.RotateRefresh(t.Context(), rotation(refreshOf(s0), base, 0))
		wantErr(t, "RotateRefresh", err, nil)
		_, err = f.s.RotateRefresh(t.Context(), rotation(refreshOf(s0), base, 0))
		wantErr(t, "RotateRefresh of the spent token", err, phoneauth.ErrTokenReused)
		_, err = f.s.RotateRefresh(t.Context(), rotation(refreshOf(s1), base, 0))
		wantErr(t, "RotateRefresh of the newest token", err, phoneauth.ErrTokenRevoked)
	})

	for _, tc := range []struct {
		name string
		// presented returns the token presented, given the session's
		// generations 0, 1 and 2, the last one current.
		presented func(s0, s1, s2 phoneauth.Session) phoneauth.Claims
	}{
		{
			name:      "an older generation is reuse, even within the grace",
			presented: func(s0, _, _ phoneauth.Session) phoneauth.Claims { return refreshOf(s0) },
		},
		{
			name: "a generation the store never issued (rotations lost to a restore) is reuse",
			presented: func(_, _, s2 phoneauth.Session) phoneauth.Claims {
				return refreshOf(rotated(s2, s2.RotatedAt.Add(time.Second)))
			},
		},
		{
			name: "the current generation issued at another second (a fork after a restore) is reuse",
			presented: func(_, _, s2 phoneauth.Session) phoneauth.Claims {
				c := refreshOf(s2)
				c.IssuedAt = c.IssuedAt.Add(-time.Second)
				return c
			},
		},
		{
			name: "the previous generation issued at another second is reuse, even within the grace",
			presented: func(_, s1, _ phoneauth.Session) phoneauth.Claims {
				c := refreshOf(s1)
				c.IssuedAt = c.IssuedAt.Add(time.Second)
				return c
			},
		},
	} {
		t.Run(tc.name+", and revokes the session", func(t *testing.T) {
			f := newFixture(t, open)
			u := f.verified(phoneN(1))
			s0 := f.login(u)
			s1, err := f.rotate(refreshOf(s0), base.Add(time.Minute))
			wantErr(t, "first RotateRefresh", err, nil)
			now := base.Add(2 * time.Minute)
			s2, err := f.rotate(refreshOf(s1), now)
			wantErr(t, "second RotateRefresh", err, nil)
			_, err = f.rotate(tc.presented(s0, s1, s2), now)
			wantErr(t, "RotateRefresh", err, phoneauth.ErrTokenReused)
			_, err = f.rotate(refreshOf(s2), now)
			wantErr(t, "RotateRefresh of the current token", err, phoneauth.ErrTokenRevoked)
		})
	}

	t.Run("a token of a session the store does not hold (pruned, or lost to a restore) is refused and creates nothing", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		gone := newSession(u.ID, base)
		for _, gen := range []uint32{0, 7} {
			gone.Generation = gen
			_, err := f.rotate(refreshOf(gone), base)
			wantErr(t, fmt.Sprintf("RotateRefresh of generation %d", gen), err, phoneauth.ErrTokenRevoked)
		}
		f.prune(base.Add(10*refreshTTL), 1) // the registration challenge, no session
	})

	t.Run("reuse revokes only its own session", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		phone, laptop := f.login(u), f.login(u)
		_, err := f.rotate(refreshOf(phone), base)
		wantErr(t, "RotateRefresh", err, nil)
		_, err = f.rotate(refreshOf(phone), base.Add(grace))
		wantErr(t, "RotateRefresh of the spent token", err, phoneauth.ErrTokenReused)
		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(laptop))
		wantErr(t, "AccessUser in the other session", err, nil)
		_, err = f.rotate(refreshOf(laptop), base.Add(grace))
		wantErr(t, "RotateRefresh in the other session", err, nil)
	})

	t.Run("an unknown foreign refresh token of a known user starts the adopted session, and is then its spent generation 0", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		tok := foreignToken(u.ID, phoneauth.TokenRefresh, base)
		r := rotation(tok, base, grace)
		s1, err := f.s.RotateRefresh(t.Context(), r)
		wantErr(t, "RotateRefresh of the foreign token", err, nil)
		checkSession(t, "RotateRefresh of the foreign token", s1, r.Adopt)
		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(s1))
		wantErr(t, "AccessUser", err, nil)
		again, err := f.rotate(tok, base.Add(grace-time.Millisecond))
		wantErr(t, "RotateRefresh of the foreign token within the grace", err, nil)
		checkSession(t, "RotateRefresh of the foreign token within the grace", again, s1)
		now := base.Add(time.Minute)
		s2, err := f.rotate(refreshOf(s1), now)
		wantErr(t, "RotateRefresh of the successor", err, nil)
		checkSession(t, "RotateRefresh of the successor", s2, rotated(s1, now))
		_, err = f.rotate(tok, now)
		wantErr(t, "RotateRefresh of the foreign token again", err, phoneauth.ErrTokenReused)
		_, err = f.rotate(refreshOf(s2), now)
		wantErr(t, "RotateRefresh of the newest token", err, phoneauth.ErrTokenRevoked)
	})

	t.Run("unknown user returns ErrUserNotFound and creates nothing", func(t *testing.T) {
		f := newFixture(t, open)
		f.verified(phoneN(1))
		_, err := f.rotate(foreignToken(newID(), phoneauth.TokenRefresh, base), base)
		wantErr(t, "RotateRefresh", err, phoneauth.ErrUserNotFound)
		f.prune(base.Add(10*refreshTTL), 1) // the registration challenge
	})

	for _, tc := range []struct {
		name  string
		token func(f *fixture, u phoneauth.User) phoneauth.Claims
	}{
		{"the service's token", func(f *fixture, u phoneauth.User) phoneauth.Claims { return refreshOf(f.login(u)) }},
		{"a foreign token", func(_ *fixture, u phoneauth.User) phoneauth.Claims {
			return foreignToken(u.ID, phoneauth.TokenRefresh, base)
		}},
	} {
		t.Run("concurrent rotations of "+tc.name+" within the grace all get one successor, which is then the session's only live token", func(t *testing.T) {
			f := newFixture(t, open)
			u := f.verified(phoneN(1))
			tok := tc.token(f, u)
			rotations := make([]phoneauth.Rotation, Concurrency)
			for i := range rotations {
				rotations[i] = rotation(tok, base, grace)
			}
			got := make([]phoneauth.Session, Concurrency)
			errs := race(func(i int) error {
				var err error
				got[i], err = f.s.RotateRefresh(t.Context(), rotations[i])
				return err
			})
			for i, err := range errs {
				wantErr(t, fmt.Sprintf("RotateRefresh in goroutine %d", i), err, nil)
				checkSession(t, fmt.Sprintf("RotateRefresh in goroutine %d", i), got[i], got[0])
			}
			if got[0].Generation != 1 {
				t.Fatalf("RotateRefresh: got generation %d, want 1", got[0].Generation)
			}
			now := base.Add(grace)
			_, err := f.rotate(refreshOf(got[0]), now)
			wantErr(t, "RotateRefresh of the successor", err, nil)
			_, err = f.rotate(tok, now)
			wantErr(t, "RotateRefresh of the original token after the grace", err, phoneauth.ErrTokenReused)
		})

		t.Run("concurrent rotations of "+tc.name+" without grace: one rotates, the others end the session", func(t *testing.T) {
			f := newFixture(t, open)
			u := f.verified(phoneN(1))
			tok := tc.token(f, u)
			rotations := make([]phoneauth.Rotation, Concurrency)
			for i := range rotations {
				rotations[i] = rotation(tok, base, 0)
			}
			got := make([]phoneauth.Session, Concurrency)
			errs := race(func(i int) error {
				var err error
				got[i], err = f.s.RotateRefresh(t.Context(), rotations[i])
				return err
			})
			w := checkNoFork(t, errs)
			_, err := f.rotate(refreshOf(got[w]), base)
			wantErr(t, "RotateRefresh of the winner's successor", err, phoneauth.ErrTokenRevoked)
		})
	}

	for _, tc := range []struct {
		name  string
		start func(f *fixture, u phoneauth.User) phoneauth.Session
		rows  int64 // the session's rows
	}{
		{"a login's session", func(f *fixture, u phoneauth.User) phoneauth.Session { return f.login(u) }, 1},
		{"a foreign token's session", func(f *fixture, u phoneauth.User) phoneauth.Session {
			sess, err := f.rotate(foreignToken(u.ID, phoneauth.TokenRefresh, base), base)
			wantErr(f.t, "RotateRefresh of the foreign token", err, nil)
			return sess
		}, 2},
	} {
		t.Run(tc.name+" keeps a bounded number of rows however often it rotates", func(t *testing.T) {
			f := newFixture(t, open)
			u := f.verified(phoneN(1))
			sess := tc.start(f, u)
			for i := range 100 {
				now := base.Add(time.Duration(i+1) * time.Minute)
				prev := sess
				var err error
				sess, err = f.rotate(refreshOf(prev), now)
				wantErr(t, "RotateRefresh", err, nil)
				_, err = f.rotate(refreshOf(prev), now)
				wantErr(t, "RotateRefresh of the spent token within the grace", err, nil)
				_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
				wantErr(t, "AccessUser", err, nil)
			}
			challenges := int64(1)
			if tc.rows == 1 {
				challenges = 2 // and the login's
			}
			f.prune(sess.ExpiresAt.Add(-time.Millisecond), challenges)
			f.prune(sess.ExpiresAt, tc.rows)
		})
	}
}

func testRevokeToken(t *testing.T, open func(*testing.T) phoneauth.Store) {
	for _, tc := range []struct {
		name string
		pick func(sess phoneauth.Session) phoneauth.Claims
	}{
		{"access token revokes its session", func(sess phoneauth.Session) phoneauth.Claims {
			c := refreshOf(sess)
			c.Type = phoneauth.TokenAccess
			return c
		}},
		{"refresh token revokes its session", refreshOf},
		{"spent refresh token revokes its session", func(sess phoneauth.Session) phoneauth.Claims {
			c := refreshOf(sess)
			c.Ref.Generation = 0
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, open)
			u := f.verified(phoneN(1))
			sess, err := f.rotate(refreshOf(f.login(u)), base)
			wantErr(t, "RotateRefresh", err, nil)
			wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, tc.pick(sess), base)), nil)
			_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
			wantErr(t, "AccessUser", err, phoneauth.ErrTokenRevoked)
			_, err = f.rotate(refreshOf(sess), base)
			wantErr(t, "RotateRefresh", err, phoneauth.ErrTokenRevoked)
			wantErr(t, "RevokeToken again", f.s.RevokeToken(t.Context(), revocation(u.ID, tc.pick(sess), base)), nil)
		})
	}

	t.Run("revoking one session leaves the others", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		phone, laptop := f.login(u), f.login(u)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(phone), base)), nil)
		_, err := f.s.AccessUser(t.Context(), u.ID, accessRef(laptop))
		wantErr(t, "AccessUser in the other session", err, nil)
		_, err = f.rotate(refreshOf(laptop), base)
		wantErr(t, "RotateRefresh in the other session", err, nil)
	})

	t.Run("a token of a session the store does not hold is no error and records nothing", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(newSession(u.ID, base)), base)), nil)
		f.prune(base.Add(10*refreshTTL), 1) // the registration challenge
	})

	t.Run("a token of a session the store does not hold whose user does not exist either returns ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		userID := newID()
		err := f.s.RevokeToken(t.Context(), revocation(userID, refreshOf(newSession(userID, base)), base))
		wantErr(t, "RevokeToken", err, phoneauth.ErrUserNotFound)
	})

	t.Run("revoking a revoked session again is no error", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		for i := range 2 {
			err := f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(sess), base))
			wantErr(t, fmt.Sprintf("RevokeToken %d", i+1), err, nil)
		}
	})

	t.Run("a recorded foreign token revokes the session it started", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		tok := foreignToken(u.ID, phoneauth.TokenRefresh, base)
		sess, err := f.rotate(tok, base)
		wantErr(t, "RotateRefresh of the foreign token", err, nil)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, tok, base)), nil)
		_, err = f.rotate(refreshOf(sess), base)
		wantErr(t, "RotateRefresh of the successor", err, phoneauth.ErrTokenRevoked)
	})

	t.Run("unknown foreign access token is recorded as revoked", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		tok, other := foreignToken(u.ID, phoneauth.TokenAccess, base), foreignToken(u.ID, phoneauth.TokenAccess, base)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, tok, base)), nil)
		_, err := f.s.AccessUser(t.Context(), u.ID, tok.Ref)
		wantErr(t, "AccessUser with the revoked token", err, phoneauth.ErrTokenRevoked)
		_, err = f.s.AccessUser(t.Context(), u.ID, other.Ref)
		wantErr(t, "AccessUser with another unknown token", err, nil)
		wantErr(t, "RevokeToken again", f.s.RevokeToken(t.Context(), revocation(u.ID, tok, base)), nil)
	})

	t.Run("unknown foreign refresh token is recorded as revoked", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		tok := foreignToken(u.ID, phoneauth.TokenRefresh, base)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, tok, base)), nil)
		wantErr(t, "RevokeToken again", f.s.RevokeToken(t.Context(), revocation(u.ID, tok, base)), nil)
		_, err := f.rotate(tok, base)
		wantErr(t, "RotateRefresh", err, phoneauth.ErrTokenRevoked)
	})

	t.Run("unknown user of an unknown foreign token returns ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		f.verified(phoneN(1))
		userID := newID()
		err := f.s.RevokeToken(t.Context(), revocation(userID, foreignToken(userID, phoneauth.TokenAccess, base), base))
		wantErr(t, "RevokeToken", err, phoneauth.ErrUserNotFound)
	})
}

func testAccessUser(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("access tokens of the current and earlier generations return the user", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		s0 := f.login(u)
		s1, err := f.rotate(refreshOf(s0), base)
		wantErr(t, "RotateRefresh", err, nil)
		for _, sess := range []phoneauth.Session{s0, s1} {
			got, err := f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
			wantErr(t, fmt.Sprintf("AccessUser of generation %d", sess.Generation), err, nil)
			checkUser(t, "AccessUser", got, u)
		}
	})

	t.Run("a generation ahead of the store (rotations lost to a restore) is refused", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		_, err := f.s.AccessUser(t.Context(), u.ID, accessRef(rotated(sess, base)))
		wantErr(t, "AccessUser", err, phoneauth.ErrTokenRevoked)
	})

	t.Run("a token of a session the store does not hold (pruned, or lost to a restore) is refused", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		f.login(u)
		_, err := f.s.AccessUser(t.Context(), u.ID, accessRef(newSession(u.ID, base)))
		wantErr(t, "AccessUser", err, phoneauth.ErrTokenRevoked)
	})

	t.Run("unknown foreign token of a known user returns the user", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		got, err := f.s.AccessUser(t.Context(), u.ID, foreignToken(u.ID, phoneauth.TokenAccess, base).Ref)
		wantErr(t, "AccessUser", err, nil)
		checkUser(t, "AccessUser", got, u)
	})

	t.Run("unknown user returns ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		_, err := f.s.AccessUser(t.Context(), newID(), foreignToken(u.ID, phoneauth.TokenAccess, base).Ref)
		wantErr(t, "AccessUser with an unknown token", err, phoneauth.ErrUserNotFound)
		_, err = f.s.AccessUser(t.Context(), newID(), accessRef(sess))
		wantErr(t, "AccessUser with another user's token", err, phoneauth.ErrUserNotFound)
	})
}
