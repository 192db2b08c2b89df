package storetest

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// RunAdmin runs the conformance suite of phoneauth.Admin against the
// store and admin view that open returns, which must be of the same fresh,
// empty, migrated database, as Run's open; the suite sets up accounts and
// sessions through the Store and checks what Admin does through both.
func RunAdmin(t *testing.T, open func(t *testing.T) (phoneauth.Store, phoneauth.Admin)) {
	t.Helper()
	groups := []struct {
		name string
		run  func(*testing.T, func(*testing.T) *adminFixture)
	}{
		{"Users", testAdminUsers},
		{"Account", testAdminAccount},
		{"DeleteUser", testAdminDeleteUser},
		{"Unlock", testAdminUnlock},
		{"Sessions", testAdminSessions},
		{"RevokeSession", testAdminRevokeSession},
		{"RevokeSessions", testAdminRevokeSessions},
	}
	newAdmin := func(t *testing.T) *adminFixture {
		t.Helper()
		var a phoneauth.Admin
		f := newFixture(t, func(t *testing.T) phoneauth.Store {
			var s phoneauth.Store
			s, a = open(t)
			return s
		})
		if a == nil {
			t.Fatal("open returned a nil admin")
		}
		return &adminFixture{fixture: f, a: a}
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newAdmin)
		})
	}
}

// adminFixture is one fresh store under test with its admin view.
type adminFixture struct {
	*fixture
	a phoneauth.Admin
}

// account returns account userID through Admin, failing the test if
// there is none.
func (f *adminFixture) account(userID string) phoneauth.Account {
	f.t.Helper()
	a, err := f.a.Account(f.t.Context(), userID)
	if err != nil {
		f.t.Fatalf("Account(%s): %v", userID, err)
	}
	return a
}

// lock fails login tries of verified account u at base until it is
// locked, and returns when the lockout ends.
func (f *adminFixture) lock(u phoneauth.User) time.Time {
	f.t.Helper()
	for i := range Policy.LockoutThreshold {
		if i%(Policy.MaxAttempts-1) == 0 {
			f.putLogin(u.ID, "login-"+newID(), base)
		}
		_ = f.wrongTry("", "", u.ID, base) // wrong, or the try that locks
	}
	until := f.user(u.Phone).LockedUntil
	if want := base.Add(Policy.LockoutDuration); !sameMS(until, want) {
		f.t.Fatalf("LockedUntil after %d wrong tries: got %s, want %s", Policy.LockoutThreshold, until, want)
	}
	return until
}

// checkAccount compares accounts field by field; times at millisecond
// precision and in UTC.
func checkAccount(t *testing.T, what string, got, want phoneauth.Account) {
	t.Helper()
	checkUser(t, what, got.User, want.User)
	if g, w := got.LockedUntil.Truncate(time.Millisecond), want.LockedUntil.Truncate(time.Millisecond); !g.Equal(w) {
		t.Errorf("%s: got LockedUntil %s, want %s (at millisecond precision)", what, g, w)
	}
	if !got.LockedUntil.IsZero() && got.LockedUntil.Location() != time.UTC {
		t.Errorf("%s: got LockedUntil in zone %s, want UTC", what, got.LockedUntil.Location())
	}
	if got.FailedChecks != want.FailedChecks || got.Lockouts != want.Lockouts {
		t.Errorf("%s: got FailedChecks %d, Lockouts %d, want %d, %d", what, got.FailedChecks, got.Lockouts, want.FailedChecks, want.Lockouts)
	}
}

// checkRevokedDespiteRotations races revoke, on goroutine 0, against
// rotations of sess's current refresh token on the others, and fails t
// unless every rotation succeeded or was refused as revoked and the
// session ends revoked at now, its tokens refused.
func (f *adminFixture) checkRevokedDespiteRotations(sess phoneauth.Session, now time.Time, revoke func() error) {
	t := f.t
	t.Helper()
	errs := race(func(i int) error {
		if i == 0 {
			return revoke()
		}
		_, err := f.rotate(refreshOf(sess), now)
		return err
	})
	wantErr(t, "revoke", errs[0], nil)
	rotatedBefore := false
	for i, err := range errs[1:] {
		switch {
		case err == nil:
			rotatedBefore = true
		case !errors.Is(err, phoneauth.ErrTokenRevoked):
			t.Errorf("rotation %d: got %v, want success or %v", i+1, err, phoneauth.ErrTokenRevoked)
		}
	}
	if rotatedBefore {
		sess = rotated(sess, now)
	}
	got, err := f.a.Sessions(t.Context(), sess.UserID)
	wantErr(t, "Sessions", err, nil)
	want := sess
	want.RevokedAt = now
	if len(got) != 1 {
		t.Fatalf("Sessions: got %d, want 1", len(got))
	}
	checkSession(t, "session after the race", got[0], want)
	_, err = f.s.AccessUser(t.Context(), sess.UserID, accessRef(sess))
	wantErr(t, "AccessUser after the race", err, phoneauth.ErrTokenRevoked)
	_, err = f.rotate(refreshOf(sess), now.Add(time.Minute))
	wantErr(t, "RotateRefresh after the race", err, phoneauth.ErrTokenRevoked)
}

func testAdminUsers(t *testing.T, newAdmin func(*testing.T) *adminFixture) {
	t.Run("an empty store has no users", func(t *testing.T) {
		f := newAdmin(t)
		got, err := f.a.Users(t.Context())
		wantErr(t, "Users", err, nil)
		if len(got) != 0 {
			t.Fatalf("Users: got %d accounts, want none", len(got))
		}
	})
	t.Run("every account, oldest first, with its verification and guard", func(t *testing.T) {
		f := newAdmin(t)
		// Created out of order, so neither insertion nor phone order is
		// what the list follows.
		later, _ := f.register(phoneN(1), base.Add(time.Hour))
		verified := f.verified(phoneN(2))
		_, c := f.register(phoneN(3), base.Add(time.Minute))
		for range 2 {
			if err := f.wrongTry(c.ID, phoneN(3), "", base.Add(time.Minute)); !errors.Is(err, phoneauth.ErrCodeWrong) {
				t.Fatalf("wrong try: got %v, want %v", err, phoneauth.ErrCodeWrong)
			}
		}
		guessed := f.user(phoneN(3))
		locked := f.verified(phoneN(4))
		until := f.lock(locked)
		locked.LockedUntil = until

		got, err := f.a.Users(t.Context())
		wantErr(t, "Users", err, nil)
		// Accounts created at the same instant are in ID order.
		first, second := phoneauth.Account{User: verified}, phoneauth.Account{User: locked, Lockouts: 1}
		if first.ID > second.ID {
			first, second = second, first
		}
		want := []phoneauth.Account{
			first, second,
			{User: guessed, FailedChecks: 2},
			{User: later},
		}
		if len(got) != len(want) {
			t.Fatalf("Users: got %d accounts, want %d", len(got), len(want))
		}
		for i := range want {
			checkAccount(t, "Users", got[i], want[i])
		}
	})
}

func testAdminAccount(t *testing.T, newAdmin func(*testing.T) *adminFixture) {
	t.Run("by ID and by number; an unknown one is ErrUserNotFound", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		f.register(phoneN(2), base)
		want := phoneauth.Account{User: u}
		checkAccount(t, "Account", f.account(u.ID), want)
		got, err := f.a.AccountByPhone(t.Context(), u.Phone)
		wantErr(t, "AccountByPhone", err, nil)
		checkAccount(t, "AccountByPhone", got, want)

		_, err = f.a.Account(t.Context(), newID())
		wantErr(t, "Account of an unknown ID", err, phoneauth.ErrUserNotFound)
		_, err = f.a.Account(t.Context(), "not a uuid")
		wantErr(t, "Account of an ID that is not a UUID", err, phoneauth.ErrUserNotFound)
		_, err = f.a.AccountByPhone(t.Context(), phoneN(3))
		wantErr(t, "AccountByPhone of an unknown number", err, phoneauth.ErrUserNotFound)
	})
}

func testAdminDeleteUser(t *testing.T, newAdmin func(*testing.T) *adminFixture) {
	t.Run("deletes the account with its challenges and sessions, and no other", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		pending := f.putLogin(u.ID, "pending", base.Add(time.Minute))
		foreign := foreignToken(u.ID, phoneauth.TokenRefresh, base)
		if _, err := f.rotate(foreign, base); err != nil {
			t.Fatalf("RotateRefresh of a foreign token: %v", err)
		}
		other := f.verified(phoneN(2))
		otherSess := f.login(other)

		got, err := f.a.DeleteUser(t.Context(), u.ID)
		wantErr(t, "DeleteUser", err, nil)
		checkAccount(t, "DeleteUser", got, phoneauth.Account{User: u})

		_, err = f.s.UserByPhone(t.Context(), u.Phone)
		wantErr(t, "UserByPhone after DeleteUser", err, phoneauth.ErrUserNotFound)
		_, err = f.a.Account(t.Context(), u.ID)
		wantErr(t, "Account after DeleteUser", err, phoneauth.ErrUserNotFound)
		_, err = f.a.Sessions(t.Context(), u.ID)
		wantErr(t, "Sessions after DeleteUser", err, phoneauth.ErrUserNotFound)
		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
		wantErr(t, "AccessUser after DeleteUser", err, phoneauth.ErrUserNotFound)
		_, err = f.rotate(refreshOf(sess), base.Add(time.Minute))
		wantErr(t, "RotateRefresh after DeleteUser", err, phoneauth.ErrTokenRevoked)
		_, err = f.a.RevokeSession(t.Context(), sess.ID, base)
		wantErr(t, "RevokeSession of a deleted user's session", err, phoneauth.ErrSessionNotFound)
		_, err = f.s.VerifyLogin(t.Context(), u.ID, Try(pending.CodeHash, base.Add(time.Minute)), newSession(u.ID, base))
		wantErr(t, "VerifyLogin of a deleted user's code", err, phoneauth.ErrNoPendingLogin)
		// The foreign token's record went with its session: presented
		// again, it would start a session for a user who is gone.
		_, err = f.s.RotateRefresh(t.Context(), rotation(foreign, base.Add(time.Minute), grace))
		wantErr(t, "RotateRefresh of the deleted user's foreign token", err, phoneauth.ErrUserNotFound)

		if _, err := f.s.AccessUser(t.Context(), other.ID, accessRef(otherSess)); err != nil {
			t.Errorf("AccessUser of another user after DeleteUser: %v", err)
		}
		checkAccount(t, "Account of another user", f.account(other.ID), phoneauth.Account{User: other})
		// Prune finds nothing left behind but the other user's rows.
		f.prune(base.Add(refreshTTL+time.Hour), 3) // its session and two consumed codes
	})
	t.Run("the number can be registered again", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		if _, err := f.a.DeleteUser(t.Context(), u.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		again, _ := f.register(phoneN(1), base.Add(time.Minute))
		if again.ID == u.ID || again.Verified {
			t.Fatalf("Register after DeleteUser: got {ID:%s Verified:%t}, want a new unverified account", again.ID, again.Verified)
		}
	})
	t.Run("an unknown user is ErrUserNotFound", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		_, err := f.a.DeleteUser(t.Context(), newID())
		wantErr(t, "DeleteUser of an unknown ID", err, phoneauth.ErrUserNotFound)
		if _, err := f.a.DeleteUser(t.Context(), u.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		_, err = f.a.DeleteUser(t.Context(), u.ID)
		wantErr(t, "DeleteUser twice", err, phoneauth.ErrUserNotFound)
	})
}

func testAdminUnlock(t *testing.T, newAdmin func(*testing.T) *adminFixture) {
	t.Run("a locked account signs in again at once", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		until := f.lock(u)
		locked := u
		locked.LockedUntil = until
		checkAccount(t, "Account when locked", f.account(u.ID), phoneauth.Account{User: locked, Lockouts: 1})

		got, err := f.a.Unlock(t.Context(), u.ID)
		wantErr(t, "Unlock", err, nil)
		checkAccount(t, "Unlock", got, phoneauth.Account{User: u})
		checkAccount(t, "Account after Unlock", f.account(u.ID), phoneauth.Account{User: u})

		now := base.Add(time.Second) // well before the lockout would have ended
		c := f.putLogin(u.ID, "right", now)
		if err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, now, newSession(u.ID, now)); err != nil {
			t.Fatalf("VerifyLogin after Unlock: %v", err)
		}
	})
	t.Run("the next lockout is a first one again", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		f.lock(u)
		if _, err := f.a.Unlock(t.Context(), u.ID); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		f.lock(u) // fails unless it lasts LockoutDuration, not twice that
	})
	t.Run("failed checks are cleared", func(t *testing.T) {
		f := newAdmin(t)
		u, c := f.register(phoneN(1), base)
		_ = f.wrongTry(c.ID, u.Phone, "", base)
		checkAccount(t, "Account after a wrong try", f.account(u.ID), phoneauth.Account{User: u, FailedChecks: 1})
		got, err := f.a.Unlock(t.Context(), u.ID)
		wantErr(t, "Unlock", err, nil)
		checkAccount(t, "Unlock", got, phoneauth.Account{User: u})
	})
	t.Run("an unknown user is ErrUserNotFound", func(t *testing.T) {
		f := newAdmin(t)
		_, err := f.a.Unlock(t.Context(), newID())
		wantErr(t, "Unlock of an unknown ID", err, phoneauth.ErrUserNotFound)
	})
}

func testAdminSessions(t *testing.T, newAdmin func(*testing.T) *adminFixture) {
	t.Run("every session of the user, oldest first, and no other", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		other := f.verified(phoneN(2))
		got, err := f.a.Sessions(t.Context(), u.ID)
		wantErr(t, "Sessions of a user without any", err, nil)
		if got == nil || len(got) != 0 {
			t.Fatalf("Sessions of a user without any: got %v, want an empty list", got)
		}

		first := f.login(u)
		f.login(other)
		// A session that rotated and was revoked, opened later.
		now := base.Add(time.Hour)
		c := f.putLogin(u.ID, "second", now)
		second := newSession(u.ID, now)
		second.ID = math.MaxUint64 // the top bit set: stored as a negative integer
		if err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, now, second); err != nil {
			t.Fatalf("VerifyLogin: %v", err)
		}
		second, err = f.rotate(refreshOf(second), now.Add(time.Minute))
		wantErr(t, "RotateRefresh", err, nil)
		revokedAt := now.Add(2 * time.Minute)
		if err := f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(second), revokedAt)); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		second.RevokedAt = revokedAt

		got, err = f.a.Sessions(t.Context(), u.ID)
		wantErr(t, "Sessions", err, nil)
		if len(got) != 2 {
			t.Fatalf("Sessions: got %d sessions, want 2", len(got))
		}
		checkSession(t, "Sessions[0]", got[0], first)
		checkSession(t, "Sessions[1]", got[1], second)
	})
	t.Run("an unknown user is ErrUserNotFound", func(t *testing.T) {
		f := newAdmin(t)
		_, err := f.a.Sessions(t.Context(), newID())
		wantErr(t, "Sessions of an unknown ID", err, phoneauth.ErrUserNotFound)
	})
}

func testAdminRevokeSession(t *testing.T, newAdmin func(*testing.T) *adminFixture) {
	t.Run("its tokens are refused, the user's other sessions live on", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		kept := f.login(u)
		now := base.Add(time.Minute)

		got, err := f.a.RevokeSession(t.Context(), sess.ID, now)
		wantErr(t, "RevokeSession", err, nil)
		want := sess
		want.RevokedAt = now
		checkSession(t, "RevokeSession", got, want)

		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
		wantErr(t, "AccessUser of the revoked session", err, phoneauth.ErrTokenRevoked)
		_, err = f.rotate(refreshOf(sess), now)
		wantErr(t, "RotateRefresh of the revoked session", err, phoneauth.ErrTokenRevoked)
		if _, err := f.s.AccessUser(t.Context(), u.ID, accessRef(kept)); err != nil {
			t.Errorf("AccessUser of the other session: %v", err)
		}
		if _, err := f.rotate(refreshOf(kept), now); err != nil {
			t.Errorf("RotateRefresh of the other session: %v", err)
		}

		again, err := f.a.RevokeSession(t.Context(), sess.ID, now.Add(time.Minute))
		wantErr(t, "RevokeSession twice", err, nil)
		checkSession(t, "RevokeSession twice keeps the first RevokedAt", again, want)
	})
	t.Run("a session with the top bit of its ID set", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		c := f.putLogin(u.ID, "code", base)
		sess := newSession(u.ID, base)
		sess.ID = 1<<63 | 12345
		if err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base, sess); err != nil {
			t.Fatalf("VerifyLogin: %v", err)
		}
		got, err := f.a.RevokeSession(t.Context(), sess.ID, base)
		wantErr(t, "RevokeSession", err, nil)
		sess.RevokedAt = base
		checkSession(t, "RevokeSession", got, sess)
		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
		wantErr(t, "AccessUser of the revoked session", err, phoneauth.ErrTokenRevoked)
	})
	t.Run("a concurrent rotation does not undo the revocation", func(t *testing.T) {
		f := newAdmin(t)
		sess := f.login(f.verified(phoneN(1)))
		now := base.Add(time.Minute)
		f.checkRevokedDespiteRotations(sess, now, func() error {
			_, err := f.a.RevokeSession(t.Context(), sess.ID, now)
			return err
		})
	})
	t.Run("an unknown session is ErrSessionNotFound", func(t *testing.T) {
		f := newAdmin(t)
		f.login(f.verified(phoneN(1)))
		_, err := f.a.RevokeSession(t.Context(), 42, base)
		wantErr(t, "RevokeSession of an unknown ID", err, phoneauth.ErrSessionNotFound)
	})
}

func testAdminRevokeSessions(t *testing.T, newAdmin func(*testing.T) *adminFixture) {
	t.Run("revokes the user's live sessions and counts them", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		live := []phoneauth.Session{f.login(u), f.login(u)}
		revoked := f.login(u)
		if err := f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(revoked), base)); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		// A session that ended before now.
		now := base.Add(2 * time.Hour)
		ended := newSession(u.ID, base)
		ended.ExpiresAt = base.Add(time.Hour)
		c := f.putLogin(u.ID, "ended", base)
		if err := verifyLogin(t.Context(), f.s, u.ID, c.CodeHash, base, ended); err != nil {
			t.Fatalf("VerifyLogin: %v", err)
		}
		other := f.verified(phoneN(2))
		otherSess := f.login(other)

		n, err := f.a.RevokeSessions(t.Context(), u.ID, now)
		wantErr(t, "RevokeSessions", err, nil)
		if n != int64(len(live)) {
			t.Errorf("RevokeSessions: got %d revoked, want %d", n, len(live))
		}
		for _, sess := range live {
			_, err := f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
			wantErr(t, "AccessUser of a revoked session", err, phoneauth.ErrTokenRevoked)
			_, err = f.rotate(refreshOf(sess), now)
			wantErr(t, "RotateRefresh of a revoked session", err, phoneauth.ErrTokenRevoked)
		}
		got, err := f.a.Sessions(t.Context(), u.ID)
		wantErr(t, "Sessions", err, nil)
		for _, sess := range got {
			switch sess.ID {
			case revoked.ID:
				if !sameMS(sess.RevokedAt, base) {
					t.Errorf("session revoked before: got RevokedAt %s, want %s kept", sess.RevokedAt, base)
				}
			case ended.ID:
				if sess.Revoked() {
					t.Errorf("ended session: got RevokedAt %s, want it left as it was", sess.RevokedAt)
				}
			default:
				if !sameMS(sess.RevokedAt, now) {
					t.Errorf("live session: got RevokedAt %s, want %s", sess.RevokedAt, now)
				}
			}
		}
		if _, err := f.s.AccessUser(t.Context(), other.ID, accessRef(otherSess)); err != nil {
			t.Errorf("AccessUser of another user's session: %v", err)
		}

		n, err = f.a.RevokeSessions(t.Context(), u.ID, now.Add(time.Minute))
		wantErr(t, "RevokeSessions twice", err, nil)
		if n != 0 {
			t.Errorf("RevokeSessions twice: got %d revoked, want 0", n)
		}
	})
	t.Run("a concurrent rotation does not undo the revocation", func(t *testing.T) {
		f := newAdmin(t)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		now := base.Add(time.Minute)
		f.checkRevokedDespiteRotations(sess, now, func() error {
			n, err := f.a.RevokeSessions(t.Context(), u.ID, now)
			if err == nil && n != 1 {
				t.Errorf("RevokeSessions: got %d revoked, want 1", n)
			}
			return err
		})
	})
	t.Run("an unknown user is ErrUserNotFound", func(t *testing.T) {
		f := newAdmin(t)
		_, err := f.a.RevokeSessions(t.Context(), newID(), base)
		wantErr(t, "RevokeSessions of an unknown ID", err, phoneauth.ErrUserNotFound)
	})
}

// sameMS reports whether a and b are the same instant at millisecond
// precision, the coarsest a store keeps.
func sameMS(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}
