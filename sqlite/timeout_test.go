package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/storetest"
)

// holdWriteLock takes the database's write lock at path from a store of its
// own, as another process would, until release or the end of t.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	other := openTest(t, path)
	tx, err := other.write.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatalf("BeginTx on the other store: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
				t.Errorf("Rollback on the other store: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()

	// Each write reaches the write lock its own way: through inTx or as a
	// single statement on the write pool.
	type writes struct {
		s    *Store
		user phoneauth.User
		n    int
	}
	calls := []struct {
		name string
		call func(ctx context.Context, w *writes) error
	}{
		{"Register", func(ctx context.Context, w *writes) error {
			w.n++
			u := phoneauth.User{ID: newTestID("user", w.n), Phone: testPhone(w.n), CreatedAt: now}
			_, err := w.s.Register(ctx, u, testChallenge(newTestID("reg", w.n), ""), now)
			return err
		}},
		{"PutLoginChallenge", func(ctx context.Context, w *writes) error {
			w.n++
			c := testChallenge(newTestID("login", w.n), w.user.ID)
			_, _, err := w.s.PutLoginChallenge(ctx, w.user.Phone, c, c.CreatedAt)
			return err
		}},
		{"DeleteChallenge", func(ctx context.Context, w *writes) error {
			return w.s.DeleteChallenge(ctx, "unknown")
		}},
		{"RevokeToken", func(ctx context.Context, w *writes) error {
			w.n++
			tok := phoneauth.Claims{Subject: w.user.ID, Type: phoneauth.TokenAccess, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
				Ref: phoneauth.TokenRef{JTI: newTestID("token", w.n)}}
			return w.s.RevokeToken(ctx, phoneauth.Revocation{
				Token:  tok,
				Record: phoneauth.Session{ID: uint64(w.n), UserID: w.user.ID, CreatedAt: now, ExpiresAt: tok.ExpiresAt, RotatedAt: now, RevokedAt: now},
				Now:    now,
			})
		}},
		{"Prune", func(ctx context.Context, w *writes) error {
			_, err := w.s.Prune(ctx, now)
			return err
		}},
	}

	// setup opens a store with callTimeout on a new file, with a verified
	// user to write for.
	setup := func(t *testing.T, callTimeout time.Duration) (path string, w *writes) {
		t.Helper()
		path = filepath.Join(t.TempDir(), "phoneauth.db")
		s := openTestWith(t, path, Options{CallTimeout: callTimeout})
		u := phoneauth.User{ID: "u0", Phone: testPhone(0), CreatedAt: now}
		c := testChallenge("c0", "")
		if _, err := s.Register(t.Context(), u, c, now); err != nil {
			t.Fatalf("Register: %v", err)
		}
		if _, err := s.VerifyRegistration(t.Context(), c.ID, u.Phone, storetest.Try(c.CodeHash, now)); err != nil {
			t.Fatalf("VerifyRegistration: %v", err)
		}
		return path, &writes{s: s, user: u}
	}

	t.Run("writes queued behind a lock held elsewhere each give up with ErrUnavailable, and work once it is released", func(t *testing.T) {
		t.Parallel()
		path, w := setup(t, 500*time.Millisecond)
		release := holdWriteLock(t, path)

		// All at once: one waits on the lock, the others for the only
		// write connection.
		errs := make([]error, len(calls))
		var wg sync.WaitGroup
		for i, c := range calls {
			wi := &writes{s: w.s, user: w.user, n: 100 * (i + 1)}
			wg.Go(func() { errs[i] = c.call(t.Context(), wi) })
		}
		wg.Wait()
		for i, c := range calls {
			// errNoAnswer: the call timeout ended the wait, not
			// busy_timeout, which would also give ErrUnavailable.
			if !errors.Is(errs[i], phoneauth.ErrUnavailable) || !errors.Is(errs[i], errNoAnswer) {
				t.Errorf("%s while the lock is held: got error %v, want %v from the call timeout",
					c.name, errs[i], phoneauth.ErrUnavailable)
			}
		}

		release()
		for _, c := range calls {
			if err := c.call(t.Context(), w); err != nil {
				t.Errorf("%s after the lock is released: %v", c.name, err)
			}
		}
	})

	for _, tc := range []struct {
		name string
		// ctx returns the caller's context, which ends while the call
		// waits.
		ctx  func(t *testing.T) context.Context
		want error
	}{
		{
			name: "caller cancelling a write waiting on the lock gets context.Canceled, not ErrUnavailable",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(50*time.Millisecond, cancel)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.Canceled,
		},
		{
			name: "caller's own deadline ending a write waiting on the lock gives context.DeadlineExceeded, not ErrUnavailable",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The store's own bound is far away: only the caller can end
			// the wait (or busy_timeout, with SQLITE_BUSY).
			path, w := setup(t, time.Minute)
			holdWriteLock(t, path)
			for _, c := range calls {
				err := c.call(tc.ctx(t), w)
				if !errors.Is(err, tc.want) || errors.Is(err, phoneauth.ErrUnavailable) {
					t.Errorf("%s: got error %v, want %v and not %v", c.name, err, tc.want, phoneauth.ErrUnavailable)
				}
			}
		})
	}
}

func newTestID(kind string, n int) string { return kind + "-" + strconv.Itoa(n) }

func testPhone(n int) string { return fmt.Sprintf("+1555555%04d", n) }

func testChallenge(id, userID string) phoneauth.Challenge {
	return phoneauth.Challenge{ID: id, UserID: userID, CodeHash: []byte("h"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
}
