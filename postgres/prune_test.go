package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/storetest"
)

func TestPrune(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	later := now.Add(time.Hour) // when everything signIn leaves is dead

	t.Run("batches smaller than the dead rows delete them all, each counted once", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t, Options{})
		s.pruneBatch = 2
		const users = 5
		for n := range users {
			signIn(t, s, n, now)
		}
		checkPrune(t, s, later, users*3)
		checkPrune(t, s, later, 0)
	})

	t.Run("rows a live transaction holds are skipped without waiting, and pruned once released", func(t *testing.T) {
		t.Parallel()
		// Waiting for the lock would fail Prune at the statement timeout.
		s, dsn := newStore(t, Options{StatementTimeout: 500 * time.Millisecond})
		sess := signIn(t, s, 1, now)

		tx := lockInTx(t, dsn, `SELECT FROM sessions WHERE id = $1 FOR UPDATE`, int64(sess.ID))
		// The two challenges, not the locked session.
		checkPrune(t, s, later, 2)
		if err := tx.Rollback(t.Context()); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		checkPrune(t, s, later, 1)
	})
}

// signIn registers, verifies and signs in user n at now, leaving two
// consumed challenges and a session, all dead an hour later. It returns the
// session.
func signIn(t *testing.T, s *Store, n int, now time.Time) phoneauth.Session {
	t.Helper()
	ctx := t.Context()
	id := func(kind string) string { return fmt.Sprintf("%s-%d", kind, n) }
	u := phoneauth.User{ID: id("user"), Phone: fmt.Sprintf("+1555555%04d", n), CreatedAt: now}
	code := []byte(id("code"))
	reg := phoneauth.Challenge{ID: id("reg"), CodeHash: code, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.Register(ctx, u, reg, now); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if _, err := s.VerifyRegistration(ctx, reg.ID, u.Phone, storetest.Try(code, now)); err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
	login := phoneauth.Challenge{ID: id("login"), Purpose: phoneauth.PurposeLogin, CodeHash: code, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, _, err := s.PutLoginChallenge(ctx, u.Phone, login, login.CreatedAt); err != nil {
		t.Fatalf("PutLoginChallenge: %v", err)
	}
	sess := phoneauth.Session{ID: uint64(n), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: now}
	if _, err := s.VerifyLogin(ctx, u.ID, storetest.Try(code, now), sess); err != nil {
		t.Fatalf("VerifyLogin: %v", err)
	}
	return sess
}

// checkPrune runs Prune at now and fails t unless it deleted want rows.
func checkPrune(t *testing.T, s *Store, now time.Time, want int64) {
	t.Helper()
	got, err := s.Prune(t.Context(), now)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if got != want {
		t.Errorf("Prune: got %d rows deleted, want %d", got, want)
	}
}
