package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/phoneauth/phoneauth"
)

// newGroupStore opens a store with the tables of these tests: acct, and
// parent and child, whose deferred foreign key makes a COMMIT fail.
func newGroupStore(t *testing.T) *Store {
	t.Helper()
	s := openTest(t, filepath.Join(t.TempDir(), "group.db"))
	for _, q := range []string{
		"CREATE TABLE acct (phone TEXT PRIMARY KEY)",
		"CREATE TABLE parent (id INTEGER PRIMARY KEY)",
		"CREATE TABLE child (pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
	} {
		if _, err := s.write.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func call(f func(context.Context, tx) error) *write {
	return &write{ctx: context.Background(), op: "call", done: make(chan struct{}), f: f}
}

func insertAcct(phone string) *write {
	return call(func(ctx context.Context, tx tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO acct VALUES (?)", phone)
		return err
	})
}

// registerAcct refuses with ErrUserExists when the number has a row.
func registerAcct(phone string) *write {
	return call(func(ctx context.Context, tx tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM acct WHERE phone = ?", phone).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return phoneauth.ErrUserExists
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO acct VALUES (?)", phone)
		return err
	})
}

func accts(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "SELECT phone FROM acct ORDER BY phone")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestGroupCommitTakesBackOnlyTheFailingCall(t *testing.T) {
	t.Parallel()
	s := newGroupStore(t)
	boom := errors.New("boom")
	failing := call(func(ctx context.Context, tx tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO acct VALUES ('+2')"); err != nil {
			return err
		}
		return boom
	})
	group := []*write{insertAcct("+1"), failing, insertAcct("+3")}
	s.committer.commit(group)
	if group[0].err != nil || group[2].err != nil || !errors.Is(failing.err, boom) {
		t.Fatalf("errors = %v, %v, %v; want nil, boom, nil", group[0].err, failing.err, group[2].err)
	}
	if got := accts(t, s); len(got) != 2 || got[0] != "+1" || got[1] != "+3" {
		t.Errorf("committed %v, want [+1 +3]", got)
	}
}

// A refusal decided on another call's write is an answer about a state
// that only exists if the group commits: when the commit fails, it fails
// too.
func TestGroupCommitFailureFailsTheRefusalsToo(t *testing.T) {
	t.Parallel()
	s := newGroupStore(t)
	a, b := registerAcct("+1"), registerAcct("+1")
	breaksCommit := call(func(ctx context.Context, tx tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO child VALUES (42)")
		return err
	})
	s.committer.commit([]*write{a, b, breaksCommit})
	for name, w := range map[string]*write{"first": a, "refused": b, "breaking": breaksCommit} {
		if w.err == nil || errors.Is(w.err, phoneauth.ErrUserExists) {
			t.Errorf("%s call: %v, want the commit's failure", name, w.err)
		}
	}
	if got := accts(t, s); len(got) != 0 {
		t.Errorf("committed %v after a failed commit", got)
	}
	// The store goes on.
	if err := s.inTx(t.Context(), "after", insertAcct("+4").f); err != nil {
		t.Fatalf("a write after the failed commit: %v", err)
	}
}

func TestGroupCommitPanicIsTheCallersAlone(t *testing.T) {
	t.Parallel()
	s := newGroupStore(t)
	func() {
		defer func() {
			if p := recover(); p != "body panic" {
				t.Errorf("recovered %v, want the body's panic on the caller's goroutine", p)
			}
		}()
		_ = s.inTx(t.Context(), "panics", func(ctx context.Context, tx tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO acct VALUES ('+9')"); err != nil {
				return err
			}
			panic("body panic")
		})
	}()
	// The committer survived, and the panicking call wrote nothing.
	if err := s.inTx(t.Context(), "after", insertAcct("+1").f); err != nil {
		t.Fatalf("a write after a panic: %v", err)
	}
	if got := accts(t, s); len(got) != 1 || got[0] != "+1" {
		t.Errorf("committed %v, want [+1]", got)
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "twice.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // must not panic
}
