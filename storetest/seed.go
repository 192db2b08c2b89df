package storetest

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
)

// RunSeed runs the conformance suite of phoneauth.Seeder against the
// store and seeder that open returns, which must be of the same fresh,
// empty, migrated database, as Run's open; the suite seeds accounts and
// checks through the Store that the flows see them as registered ones.
func RunSeed(t *testing.T, open func(t *testing.T) (phoneauth.Store, phoneauth.Seeder)) {
	t.Helper()
	newSeed := func(t *testing.T) (*fixture, phoneauth.Seeder) {
		t.Helper()
		var sd phoneauth.Seeder
		f := newFixture(t, func(t *testing.T) phoneauth.Store {
			var s phoneauth.Store
			s, sd = open(t)
			return s
		})
		if sd == nil {
			t.Fatal("open returned a nil seeder")
		}
		return f, sd
	}

	t.Run("seeded accounts are verified accounts the flows sign in", func(t *testing.T) {
		f, sd := newSeed(t)
		users := seedUsers(1000, base)
		n, err := sd.SeedUsers(t.Context(), seq(users))
		wantErr(t, "SeedUsers", err, nil)
		if n != int64(len(users)) {
			t.Fatalf("SeedUsers wrote %d users, want %d", n, len(users))
		}
		for _, i := range []int{0, 1, 499, 999} {
			checkUser(t, "UserByPhone of a seeded user", f.user(users[i].Phone), users[i])
		}
		u := users[499]
		sess := f.login(u)
		if _, err := f.s.AccessUser(t.Context(), u.ID, accessRef(sess)); err != nil {
			t.Fatalf("AccessUser after signing a seeded user in: %v", err)
		}
		later := base.Add(time.Hour)
		_, err = f.s.Register(t.Context(), newUser(u.Phone, later), newChallenge(phoneauth.PurposeRegister, "", "1", later), later)
		wantErr(t, "Register of a seeded number", err, phoneauth.ErrUserExists)
		if _, err := f.s.Prune(t.Context(), base.Add(phoneauth.UnverifiedRetention+24*time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		checkUser(t, "UserByPhone of a seeded user after Prune", f.user(users[999].Phone), users[999])
	})

	t.Run("an unverified seeded account is unverified", func(t *testing.T) {
		f, sd := newSeed(t)
		users := seedUsers(2, base)
		users[1].Verified = false
		_, err := sd.SeedUsers(t.Context(), seq(users))
		wantErr(t, "SeedUsers", err, nil)
		checkUser(t, "UserByPhone", f.user(users[1].Phone), users[1])
	})

	t.Run("a number taken writes nothing and returns ErrUserExists", func(t *testing.T) {
		f, sd := newSeed(t)
		taken := f.verified(phoneN(500))
		users := seedUsers(1000, base) // phoneN(500) among them
		_, err := sd.SeedUsers(t.Context(), seq(users))
		wantErr(t, "SeedUsers", err, phoneauth.ErrUserExists)
		checkUser(t, "UserByPhone of the account that was there", f.user(taken.Phone), taken)
		f.wantNoUser(users[0].Phone)
	})

	t.Run("a number twice in the batch writes nothing and returns ErrUserExists", func(t *testing.T) {
		f, sd := newSeed(t)
		users := seedUsers(3, base)
		users[2].Phone = users[0].Phone
		_, err := sd.SeedUsers(t.Context(), seq(users))
		wantErr(t, "SeedUsers", err, phoneauth.ErrUserExists)
		f.wantNoUser(users[1].Phone)
	})

	t.Run("no users is no error", func(t *testing.T) {
		_, sd := newSeed(t)
		n, err := sd.SeedUsers(t.Context(), seq(nil))
		wantErr(t, "SeedUsers", err, nil)
		if n != 0 {
			t.Errorf("SeedUsers of none wrote %d", n)
		}
	})

	t.Run("a context ended midway writes nothing", func(t *testing.T) {
		f, sd := newSeed(t)
		users := seedUsers(100, base)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, err := sd.SeedUsers(ctx, func(yield func(phoneauth.User) bool) {
			for i, u := range users {
				if i == 50 {
					cancel()
				}
				if !yield(u) {
					return
				}
			}
		})
		if err == nil {
			t.Fatal("SeedUsers with its context cancelled midway succeeded")
		}
		f.wantNoUser(users[0].Phone)
	})
}

// seedUsers returns n verified users with distinct IDs and the numbers
// phoneN(0) to phoneN(n-1), created at now.
func seedUsers(n int, now time.Time) []phoneauth.User {
	users := make([]phoneauth.User, n)
	for i := range users {
		users[i] = phoneauth.User{ID: newID(), Phone: phoneN(i), Verified: true, CreatedAt: now}
	}
	return users
}

func seq(users []phoneauth.User) iter.Seq[phoneauth.User] {
	return func(yield func(phoneauth.User) bool) {
		for _, u := range users {
			if !yield(u) {
				return
			}
		}
	}
}

// wantNoUser fails the test unless phone has no account.
func (f *fixture) wantNoUser(phone string) {
	f.t.Helper()
	_, err := f.s.UserByPhone(f.t.Context(), phone)
	wantErr(f.t, "UserByPhone("+phone+")", err, phoneauth.ErrUserNotFound)
}
