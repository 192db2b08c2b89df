package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// putDeletion stores a deletion challenge for userID with code, with no
// throttle.
func (f *fixture) putDeletion(userID, code string, now time.Time) phoneauth.Challenge {
	f.t.Helper()
	c := newChallenge(phoneauth.PurposeDelete, userID, code, now)
	if _, _, err := f.s.PutChallenge(f.t.Context(), c, now); err != nil {
		f.t.Fatalf("PutChallenge(%s): %v", userID, err)
	}
	return c
}

// deleteAccount tries code hash h for the deletion of userID with an
// access token of sess at now.
func (f *fixture) deleteAccount(userID string, sess phoneauth.Session, h []byte, now time.Time) error {
	_, err := f.s.DeleteAccount(f.t.Context(), userID, accessRef(sess), Try(h, now))
	return err
}

func testPutChallenge(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("an unconsumed deletion challenge newer than notBefore is the throttle: ErrCodePending with its age, nothing changes", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		first := f.putDeletion(u.ID, "first", base)
		later := base.Add(time.Minute)
		second := newChallenge(phoneauth.PurposeDelete, u.ID, "second", later)
		_, since, err := f.s.PutChallenge(t.Context(), second, later.Add(-codeTTL))
		wantErr(t, "PutChallenge within the throttle", err, phoneauth.ErrCodePending)
		if !since.Equal(base.Truncate(time.Millisecond)) && !since.Equal(base.Truncate(time.Microsecond)) {
			t.Errorf("pending since %s, want %s", since, base)
		}
		wantErr(t, "DeleteAccount with the refused code", f.deleteAccount(u.ID, sess, second.CodeHash, later), phoneauth.ErrCodeWrong)
		wantErr(t, "DeleteAccount with the first code", f.deleteAccount(u.ID, sess, first.CodeHash, later), nil)
	})

	t.Run("a deletion challenge as old as notBefore is replaced with a fresh count of tries", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		f.putDeletion(u.ID, "first", base)
		for range Policy.MaxAttempts - 1 {
			_ = f.deleteAccount(u.ID, sess, hash("wrong"), base)
		}
		next := base.Add(codeTTL)
		c := newChallenge(phoneauth.PurposeDelete, u.ID, "next", next)
		_, _, err := f.s.PutChallenge(t.Context(), c, next.Add(-codeTTL))
		wantErr(t, "PutChallenge once the throttle has passed", err, nil)
		for i := range Policy.MaxAttempts - 1 {
			err := f.deleteAccount(u.ID, sess, hash("wrong"), next)
			wantErr(t, fmt.Sprintf("wrong try %d of the new code", i+1), err, phoneauth.ErrCodeWrong)
		}
		wantErr(t, "the right code on the last try", f.deleteAccount(u.ID, sess, c.CodeHash, next), nil)
	})

	t.Run("a deletion challenge and a login challenge neither replace nor throttle each other", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		del := f.putDeletion(u.ID, "delete", base)
		login := newChallenge(phoneauth.PurposeLogin, "", "login", base)
		_, _, err := f.s.PutLoginChallenge(t.Context(), u.Phone, login, base.Add(-codeTTL))
		wantErr(t, "PutLoginChallenge beside a pending deletion", err, nil)
		wantErr(t, "DeleteAccount with the login code", f.deleteAccount(u.ID, sess, login.CodeHash, base), phoneauth.ErrCodeWrong)
		err = verifyLogin(t.Context(), f.s, u.ID, login.CodeHash, base, newSession(u.ID, base))
		wantErr(t, "VerifyLogin", err, nil)
		wantErr(t, "DeleteAccount with the deletion code", f.deleteAccount(u.ID, sess, del.CodeHash, base), nil)
	})

	t.Run("concurrent puts within the throttle: one wins, the rest get ErrCodePending", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		errs := race(func(i int) error {
			c := newChallenge(phoneauth.PurposeDelete, u.ID, fmt.Sprint(i), base)
			_, _, err := f.s.PutChallenge(t.Context(), c, base.Add(-codeTTL))
			return err
		})
		checkOneWinner(t, errs, phoneauth.ErrCodePending)
	})

	t.Run("unknown user returns ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		_, _, err := f.s.PutChallenge(t.Context(), newChallenge(phoneauth.PurposeDelete, newID(), "1", base), base)
		wantErr(t, "PutChallenge", err, phoneauth.ErrUserNotFound)
	})

	t.Run("refusals in order: no account, locked, a code pending; nothing changes, nothing is recorded", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		refused := func(userID string, at time.Time) phoneauth.Challenge {
			c := newChallenge(phoneauth.PurposeDelete, userID, "refused", at)
			c.Audit = phoneauth.Event{Kind: phoneauth.EventDeleteRequest, ClientIP: "192.0.2.1"}
			return c
		}
		_, _, err := f.s.PutChallenge(ctx, refused(newID(), base), base.Add(-codeTTL))
		wantErr(t, "PutChallenge for no account", err, phoneauth.ErrUserNotFound)

		// Locked (by a wrong code), with a deletion code pending too: the
		// lock is what is said, with its end.
		u := f.verified(phoneN(1))
		sess := f.login(u)
		pending := f.putDeletion(u.ID, "pending", base)
		lockTry := Try(hash("wrong"), base)
		lockTry.Policy.LockoutThreshold = 1
		_, err = f.s.DeleteAccount(ctx, u.ID, accessRef(sess), lockTry)
		wantErr(t, "the wrong code that locks the account", err, phoneauth.ErrAccountLocked)
		lockedUntil := f.user(u.Phone).LockedUntil
		at := base.Add(time.Second)
		until, _, err := f.s.PutChallenge(ctx, refused(u.ID, at), at.Add(-codeTTL))
		wantErr(t, "PutChallenge while locked", err, phoneauth.ErrAccountLocked)
		if !until.Equal(lockedUntil) || !until.After(at) {
			t.Errorf("locked: returned locked until %s, want %s, after %s", until, lockedUntil, at)
		}

		// Once the lock has ended, the pending code is what is said (a
		// throttle longer than the lockout).
		free := base.Add(Policy.LockoutDuration)
		_, since, err := f.s.PutChallenge(ctx, refused(u.ID, free), base.Add(-time.Second))
		wantErr(t, "PutChallenge once the lock has ended, within the throttle", err, phoneauth.ErrCodePending)
		if !since.Equal(pending.CreatedAt.Truncate(time.Millisecond)) && !since.Equal(pending.CreatedAt.Truncate(time.Microsecond)) {
			t.Errorf("pending since %s, want %s", since, pending.CreatedAt)
		}
		if evs, err := f.s.Events(ctx, "", phoneauth.EventDeleteRequest, time.Time{}, 100); err != nil || len(evs) != 0 {
			t.Errorf("refusals recorded %d delete_request events (%v), want none", len(evs), err)
		}
	})

	t.Run("a lockout committed by a concurrent try is seen: no code is put for a locked account", func(t *testing.T) {
		f := newFixture(t, open)
		ctx := t.Context()
		for round := range 10 {
			u := f.verified(phoneN(100 + round))
			sess := f.login(u)
			f.putDeletion(u.ID, "pending", base)
			c := newChallenge(phoneauth.PurposeDelete, u.ID, "new", base)
			var putErr error
			errs := race(func(i int) error {
				switch i {
				case 0:
					_, err := f.s.DeleteAccount(ctx, u.ID, accessRef(sess), strictTry(hash("wrong"), base))
					return err
				case 1:
					// notBefore is the pending code's time: it is
					// replaced unless the account is locked.
					_, _, putErr = f.s.PutChallenge(ctx, c, base)
				}
				return nil
			})
			wantErr(t, "the wrong try that locks the account", errs[0], phoneauth.ErrAccountLocked)
			if putErr != nil {
				wantErr(t, "PutChallenge beside the locking try", putErr, phoneauth.ErrAccountLocked)
			}
			// Put before the try, c took the try and is dead; refused,
			// the pending code did. Put after the lock, c would still
			// have its try, and its right code would be judged expired.
			_, err := f.s.DeleteAccount(ctx, u.ID, accessRef(sess), strictTry(c.CodeHash, base.Add(Policy.LockoutDuration)))
			wantErr(t, "the new code once the lock has ended", err, phoneauth.ErrTooManyAttempts)
		}
	})
}

func testDeleteAccount(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("the right code deletes the account, its codes and sessions; its number registers again at once", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u := f.verified(phone)
		other := f.verified(phoneN(2))
		otherSess := f.login(other)
		sess, laptop := f.login(u), f.login(u)
		foreign := foreignToken(u.ID, phoneauth.TokenRefresh, base)
		_, err := f.rotate(foreign, base)
		wantErr(t, "RotateRefresh of a foreign token", err, nil)
		f.putLogin(u.ID, "login", base)
		c := f.putDeletion(u.ID, "delete", base)

		got, err := f.s.DeleteAccount(t.Context(), u.ID, accessRef(sess), Try(c.CodeHash, base))
		wantErr(t, "DeleteAccount", err, nil)
		checkUser(t, "DeleteAccount", got, u)

		_, err = f.s.UserByPhone(t.Context(), phone)
		wantErr(t, "UserByPhone", err, phoneauth.ErrUserNotFound)
		for _, s := range []phoneauth.Session{sess, laptop} {
			_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(s))
			wantErr(t, "AccessUser", err, phoneauth.ErrUserNotFound)
			_, err = f.rotate(refreshOf(s), base)
			wantErr(t, "RotateRefresh", err, phoneauth.ErrTokenRevoked)
		}
		_, err = f.rotate(foreign, base)
		wantErr(t, "RotateRefresh of the foreign token", err, phoneauth.ErrUserNotFound)
		err = f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(sess), base))
		wantErr(t, "RevokeToken", err, phoneauth.ErrUserNotFound)
		_, err = f.s.VerifyLogin(t.Context(), u.ID, Try(hash("login"), base), newSession(u.ID, base))
		wantErr(t, "VerifyLogin of its login code", err, phoneauth.ErrNoPendingLogin)
		wantErr(t, "DeleteAccount again", f.deleteAccount(u.ID, sess, c.CodeHash, base), phoneauth.ErrUserNotFound)

		_, err = f.s.AccessUser(t.Context(), other.ID, accessRef(otherSess))
		wantErr(t, "AccessUser of another account", err, nil)
		again, _ := f.register(phone, base)
		if again.ID == u.ID || again.Verified {
			t.Errorf("registered again: got %+v, want a new unverified account", again)
		}
		// Nothing of the deleted account is left to prune: only the other
		// account's consumed registration and login challenges.
		f.prune(base, 2)
	})

	t.Run("a wrong code counts against the code and the account, and deletes nothing", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		c := f.putDeletion(u.ID, "delete", base)
		for i := range Policy.MaxAttempts {
			err := f.deleteAccount(u.ID, sess, hash("wrong"), base)
			wantErr(t, fmt.Sprintf("wrong try %d", i+1), err, phoneauth.ErrCodeWrong)
		}
		err := f.deleteAccount(u.ID, sess, c.CodeHash, base)
		wantErr(t, "the right code after MaxAttempts tries", err, phoneauth.ErrTooManyAttempts)
		if got := limitOf(err); got != phoneauth.LimitAttempts {
			t.Errorf("limit %q, want %q", got, phoneauth.LimitAttempts)
		}
		f.user(phoneN(1))
	})

	t.Run("failed deletion checks lock the account with the other flows' failures; a locked account refuses the right code", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u := f.verified(phone)
		sess := f.login(u)
		now := base
		var right phoneauth.Challenge
		for i := 0; i < Policy.LockoutThreshold; i++ {
			if i%(Policy.MaxAttempts-1) == 0 {
				now = now.Add(codeTTL)
				f.putDeletion(u.ID, "delete", now)
				f.putLogin(u.ID, "login", now)
			}
			if i == Policy.LockoutThreshold-1 {
				// Put before the failure that locks the account: once
				// locked, it is sent no code.
				right = f.putDeletion(u.ID, "right", now)
			}
			if i%2 == 0 {
				_ = f.deleteAccount(u.ID, sess, hash("wrong"), now)
			} else {
				_ = f.wrongTry("", "", u.ID, now)
			}
		}
		lockedUntil := f.user(phone).LockedUntil
		if !lockedUntil.After(now) {
			t.Fatalf("LockedUntil %s, want after %s", lockedUntil, now)
		}
		err := f.deleteAccount(u.ID, sess, right.CodeHash, now)
		wantErr(t, "the right code while locked", err, phoneauth.ErrAccountLocked)
		c := f.putDeletion(u.ID, "after", lockedUntil)
		wantErr(t, "the right code once the lockout ended", f.deleteAccount(u.ID, sess, c.CodeHash, lockedUntil), nil)
	})

	t.Run("no deletion code, or an expired one, is refused and counts nothing", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		login := f.putLogin(u.ID, "login", base)
		wantErr(t, "DeleteAccount with no deletion code", f.deleteAccount(u.ID, sess, login.CodeHash, base), phoneauth.ErrNoPendingCode)
		c := f.putDeletion(u.ID, "delete", base)
		wantErr(t, "DeleteAccount once the code expired", f.deleteAccount(u.ID, sess, c.CodeHash, c.ExpiresAt), phoneauth.ErrCodeExpired)
		if g := f.user(phoneN(1)); !g.LockedUntil.IsZero() {
			t.Errorf("LockedUntil %s, want zero", g.LockedUntil)
		}
	})

	t.Run("a token of a revoked session, or of a session the store does not hold, deletes nothing and counts nothing", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		c := f.putDeletion(u.ID, "delete", base)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), revocation(u.ID, refreshOf(sess), base)), nil)
		wantErr(t, "DeleteAccount with a revoked token", f.deleteAccount(u.ID, sess, hash("wrong"), base), phoneauth.ErrTokenRevoked)
		wantErr(t, "DeleteAccount with an unknown session", f.deleteAccount(u.ID, newSession(u.ID, base), c.CodeHash, base), phoneauth.ErrTokenRevoked)
		// No try was counted: the code still has all its tries.
		live := f.login(u)
		for range Policy.MaxAttempts - 1 {
			_ = f.deleteAccount(u.ID, live, hash("wrong"), base)
		}
		wantErr(t, "DeleteAccount on the last try", f.deleteAccount(u.ID, live, c.CodeHash, base), nil)
	})

	t.Run("a foreign access token of the account is admitted unless revoked", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		c := f.putDeletion(u.ID, "delete", base)
		tok := foreignToken(u.ID, phoneauth.TokenAccess, base)
		_, err := f.s.DeleteAccount(t.Context(), u.ID, tok.Ref, Try(c.CodeHash, base))
		wantErr(t, "DeleteAccount", err, nil)
	})

	t.Run("unknown user returns ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		c := f.putDeletion(u.ID, "delete", base)
		wantErr(t, "DeleteAccount", f.deleteAccount(newID(), sess, c.CodeHash, base), phoneauth.ErrUserNotFound)
		f.user(phoneN(1))
	})

	t.Run("concurrent deletions with the right code: one deletes, the rest get ErrUserNotFound", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		c := f.putDeletion(u.ID, "delete", base)
		errs := race(func(int) error { return f.deleteAccount(u.ID, sess, c.CodeHash, base) })
		checkOneWinner(t, errs, phoneauth.ErrUserNotFound)
	})

	t.Run("a deletion racing registrations of its number: the number has at most one new, unverified account", func(t *testing.T) {
		f := newFixture(t, open)
		phone := phoneN(1)
		u := f.verified(phone)
		sess := f.login(u)
		c := f.putDeletion(u.ID, "delete", base)
		errs := make([]error, Concurrency)
		var deleted error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			deleted = f.deleteAccount(u.ID, sess, c.CodeHash, base)
		})
		for i := range Concurrency {
			wg.Go(func() {
				<-start
				reg := newChallenge(phoneauth.PurposeRegister, "", fmt.Sprint(i), base)
				_, errs[i] = f.s.Register(t.Context(), newUser(phone, base), reg, base)
			})
		}
		close(start)
		wg.Wait()
		wantErr(t, "DeleteAccount", deleted, nil)
		registered := 0
		for i, err := range errs {
			switch {
			case err == nil:
				registered++
			case !errors.Is(err, phoneauth.ErrUserExists):
				t.Errorf("Register %d: %v, want success or ErrUserExists", i, err)
			}
		}
		got, err := f.s.UserByPhone(t.Context(), phone)
		switch {
		case registered > 1:
			t.Errorf("%d registrations succeeded, want at most one", registered)
		case registered == 1 && (err != nil || got.ID == u.ID || got.Verified):
			t.Errorf("after the registration: UserByPhone = %+v, %v; want a new unverified account", got, err)
		case registered == 0:
			wantErr(t, "UserByPhone with no registration after the deletion", err, phoneauth.ErrUserNotFound)
		}
	})

	t.Run("an expired deletion code is pruned", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		f.prune(base, 2) // the consumed registration and login challenges
		c := f.putDeletion(u.ID, "delete", base)
		f.prune(c.ExpiresAt.Add(-time.Millisecond), 0)
		f.prune(c.ExpiresAt, 1)
		wantErr(t, "DeleteAccount", f.deleteAccount(u.ID, sess, c.CodeHash, c.ExpiresAt), phoneauth.ErrNoPendingCode)
	})
}

// putPhone stores a phone-change challenge of userID for newPhone with
// code, with no throttle.
func (f *fixture) putPhone(userID, newPhone, code string, now time.Time) phoneauth.Challenge {
	f.t.Helper()
	c := newChallenge(phoneauth.PurposePhone, userID, code, now)
	c.NewPhone = newPhone
	if _, _, err := f.s.PutChallenge(f.t.Context(), c, now); err != nil {
		f.t.Fatalf("PutChallenge(%s): %v", userID, err)
	}
	return c
}

func testChangePhone(t *testing.T, open func(*testing.T) phoneauth.Store) {
	t.Run("the right code moves the account, kills the old number's codes and revokes every other session", func(t *testing.T) {
		f := newFixture(t, open)
		old, next := phoneN(1), phoneN(2)
		u := f.verified(old)
		sess, laptop := f.login(u), f.login(u)
		f.putLogin(u.ID, "login", base)
		del := f.putDeletion(u.ID, "delete", base)
		c := f.putPhone(u.ID, next, "phone", base)

		got, err := f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(c.CodeHash, base))
		wantErr(t, "ChangePhone", err, nil)
		want := u
		want.Phone = next
		checkUser(t, "ChangePhone", got, want)
		checkUser(t, "UserByPhone of the new number", f.user(next), want)
		_, err = f.s.UserByPhone(t.Context(), old)
		wantErr(t, "UserByPhone of the old number", err, phoneauth.ErrUserNotFound)

		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
		wantErr(t, "AccessUser in the session that changed the number", err, nil)
		_, err = f.rotate(refreshOf(sess), base)
		wantErr(t, "RotateRefresh in the session that changed the number", err, nil)
		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(laptop))
		wantErr(t, "AccessUser in another session", err, phoneauth.ErrTokenRevoked)
		_, err = f.rotate(refreshOf(laptop), base)
		wantErr(t, "RotateRefresh in another session", err, phoneauth.ErrTokenRevoked)

		err = verifyLogin(t.Context(), f.s, u.ID, hash("login"), base, newSession(u.ID, base))
		wantErr(t, "VerifyLogin of the code sent to the old number", err, phoneauth.ErrNoPendingLogin)
		wantErr(t, "DeleteAccount with the code sent to the old number", f.deleteAccount(u.ID, sess, del.CodeHash, base), phoneauth.ErrNoPendingCode)
		_, err = f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(c.CodeHash, base))
		wantErr(t, "ChangePhone with the spent code", err, phoneauth.ErrNoPendingCode)
		f.register(old, base)
	})

	t.Run("a new code for another number replaces the earlier one; the account moves to the latest", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		first := f.putPhone(u.ID, phoneN(2), "first", base)
		later := base.Add(codeTTL)
		second := f.putPhone(u.ID, phoneN(3), "second", later)
		_, err := f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(first.CodeHash, later))
		wantErr(t, "ChangePhone with the replaced code", err, phoneauth.ErrCodeWrong)
		got, err := f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(second.CodeHash, later))
		wantErr(t, "ChangePhone", err, nil)
		if got.Phone != phoneN(3) {
			t.Errorf("moved to %s, want %s", got.Phone, phoneN(3))
		}
		f.user(phoneN(3))
	})

	t.Run("a number taken since the code was sent is ErrUserExists and nothing changes", func(t *testing.T) {
		f := newFixture(t, open)
		old, next := phoneN(1), phoneN(2)
		u := f.verified(old)
		sess, laptop := f.login(u), f.login(u)
		c := f.putPhone(u.ID, next, "phone", base)
		f.register(next, base)
		_, err := f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(c.CodeHash, base))
		wantErr(t, "ChangePhone", err, phoneauth.ErrUserExists)
		checkUser(t, "UserByPhone of the old number", f.user(old), u)
		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(laptop))
		wantErr(t, "AccessUser in another session", err, nil)
		// The try was not counted: the code still has all its tries.
		for range Policy.MaxAttempts - 1 {
			_, _ = f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(hash("wrong"), base))
		}
		_, err = f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(c.CodeHash, base))
		wantErr(t, "ChangePhone on the last try", err, phoneauth.ErrUserExists)
	})

	t.Run("wrong codes count; no code, or a revoked token, is refused and counts nothing", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		_, err := f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(hash("x"), base))
		wantErr(t, "ChangePhone with no code", err, phoneauth.ErrNoPendingCode)
		c := f.putPhone(u.ID, phoneN(2), "phone", base)
		_, err = f.s.ChangePhone(t.Context(), u.ID, accessRef(newSession(u.ID, base)), Try(c.CodeHash, base))
		wantErr(t, "ChangePhone with a token of an unknown session", err, phoneauth.ErrTokenRevoked)
		_, err = f.s.ChangePhone(t.Context(), newID(), accessRef(sess), Try(c.CodeHash, base))
		wantErr(t, "ChangePhone of an unknown user", err, phoneauth.ErrUserNotFound)
		for i := range Policy.MaxAttempts {
			_, err := f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(hash("wrong"), base))
			wantErr(t, fmt.Sprintf("wrong try %d", i+1), err, phoneauth.ErrCodeWrong)
		}
		_, err = f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(c.CodeHash, base))
		wantErr(t, "the right code after MaxAttempts tries", err, phoneauth.ErrTooManyAttempts)
		f.user(phoneN(1))
	})

	t.Run("with a foreign access token every session of the account is revoked", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		c := f.putPhone(u.ID, phoneN(2), "phone", base)
		_, err := f.s.ChangePhone(t.Context(), u.ID, foreignToken(u.ID, phoneauth.TokenAccess, base).Ref, Try(c.CodeHash, base))
		wantErr(t, "ChangePhone", err, nil)
		_, err = f.s.AccessUser(t.Context(), u.ID, accessRef(sess))
		wantErr(t, "AccessUser", err, phoneauth.ErrTokenRevoked)
	})

	t.Run("a phone change racing registrations of the new number: exactly one of them gets it", func(t *testing.T) {
		f := newFixture(t, open)
		next := phoneN(2)
		u := f.verified(phoneN(1))
		sess := f.login(u)
		c := f.putPhone(u.ID, next, "phone", base)
		errs := race(func(i int) error {
			if i == 0 {
				_, err := f.s.ChangePhone(t.Context(), u.ID, accessRef(sess), Try(c.CodeHash, base))
				return err
			}
			reg := newChallenge(phoneauth.PurposeRegister, "", fmt.Sprint(i), base)
			_, err := f.s.Register(t.Context(), newUser(next, base), reg, base)
			return err
		})
		winner := checkOneWinner(t, errs, phoneauth.ErrUserExists)
		got := f.user(next)
		if (winner == 0) != (got.ID == u.ID) {
			t.Errorf("goroutine %d won, but the number belongs to %s (the account that changed is %s)", winner, got.ID, u.ID)
		}
	})

	t.Run("concurrent phone changes of two accounts to one number: one moves, the other gets ErrUserExists", func(t *testing.T) {
		f := newFixture(t, open)
		next := phoneN(3)
		var users []phoneauth.User
		var sessions []phoneauth.Session
		var codes []phoneauth.Challenge
		for i := range 2 {
			u := f.verified(phoneN(i + 1))
			users, sessions = append(users, u), append(sessions, f.login(u))
			codes = append(codes, f.putPhone(u.ID, next, fmt.Sprint(i), base))
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				_, errs[i] = f.s.ChangePhone(t.Context(), users[i].ID, accessRef(sessions[i]), Try(codes[i].CodeHash, base))
			})
		}
		wg.Wait()
		checkOneWinner(t, errs, phoneauth.ErrUserExists)
	})
}
