package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/migrations"
	"github.com/phoneauth/phoneauth/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) phoneauth.Store {
		return openTest(t, filepath.Join(t.TempDir(), "phoneauth.db"))
	})
}

// openTest opens and migrates the store at path and closes it when t ends.
func openTest(t *testing.T, path string) *Store {
	t.Helper()
	return openTestWith(t, path, Options{})
}

// openTestWith is openTest with options.
func openTestWith(t *testing.T, path string, o Options) *Store {
	t.Helper()
	s, err := OpenWith(t.Context(), path, o)
	if err != nil {
		t.Fatalf("OpenWith: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

var now = time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}

	t.Run("running it again keeps the data and records each version once", func(t *testing.T) {
		t.Parallel()
		s := openTest(t, filepath.Join(t.TempDir(), "phoneauth.db"))
		u := phoneauth.User{ID: "u1", Phone: "+15555550100", CreatedAt: now}
		c := phoneauth.Challenge{ID: "c1", CodeHash: []byte("h"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if _, err := s.Register(t.Context(), u, c, now); err != nil {
			t.Fatalf("Register: %v", err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if _, err := s.UserByPhone(t.Context(), u.Phone); err != nil {
			t.Errorf("UserByPhone after the second Migrate: %v", err)
		}
		checkVersions(t, s, ms)
	})

	t.Run("two stores migrating one new file at once both succeed", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "phoneauth.db")
		stores := make([]*Store, 2)
		for i := range stores {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate %d: %v", i, err)
			}
		}
		checkVersions(t, stores[0], ms)
	})
}

func TestMigrateKeepsSessions(t *testing.T) {
	t.Parallel()
	all, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	// The schema before sessions counted generations, and data in it.
	before := slices.DeleteFunc(slices.Clone(all), func(m migrations.Migration) bool { return m.Version >= 3 })
	if err := s.migrate(t.Context(), before); err != nil {
		t.Fatalf("migrate to version %d: %v", before[len(before)-1].Version, err)
	}
	l := storetest.NewLegacy()
	null := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return ms(t)
	}
	stmts := [][]any{{`INSERT INTO users (id, phone, verified_at, created_at) VALUES (?, ?, ?, ?)`,
		l.User.ID, l.User.Phone, ms(l.User.CreatedAt), ms(l.User.CreatedAt)}}
	for _, x := range l.Sessions {
		stmts = append(stmts, []any{`INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?)`,
			x.ID, l.User.ID, ms(x.CreatedAt), ms(x.ExpiresAt), null(x.RevokedAt)})
	}
	for _, x := range l.Tokens {
		stmts = append(stmts, []any{`INSERT INTO tokens (jti, session_id, type, expires_at, spent_at) VALUES (?, ?, ?, ?, ?)`,
			x.JTI, x.SessionID, string(x.Type), ms(x.ExpiresAt), null(x.SpentAt)})
	}
	for _, st := range stmts {
		if _, err := s.write.ExecContext(t.Context(), st[0].(string), st[1:]...); err != nil {
			t.Fatalf("%s: %v", st[0], err)
		}
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	checkVersions(t, s, all)
	storetest.CheckLegacy(t, s, l)
}

// TestMigrateKeepsChallenges upgrades a store holding codes across the
// rebuild of the challenges table (0005): each code keeps its hash, times
// and count of tries, and the table takes the new purposes and only them.
func TestMigrateKeepsChallenges(t *testing.T) {
	t.Parallel()
	all, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "phoneauth.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	before := slices.DeleteFunc(slices.Clone(all), func(m migrations.Migration) bool { return m.Version >= 5 })
	if err := s.migrate(t.Context(), before); err != nil {
		t.Fatalf("migrate to version %d: %v", before[len(before)-1].Version, err)
	}
	u := phoneauth.User{ID: "u1", Phone: "+15555550100", CreatedAt: now}
	c := phoneauth.Challenge{ID: "c1", CodeHash: []byte("right"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.Register(t.Context(), u, c, now); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if _, err := s.VerifyRegistration(t.Context(), c.ID, u.Phone, storetest.Try([]byte("wrong"), now)); !errors.Is(err, phoneauth.ErrCodeWrong) {
		t.Fatalf("wrong VerifyRegistration: %v", err)
	}

	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	checkVersions(t, s, all)
	var attempts int
	if err := s.read.QueryRowContext(t.Context(), `SELECT attempts FROM challenges WHERE id = ?`, c.ID).Scan(&attempts); err != nil {
		t.Fatalf("read the challenge: %v", err)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d after the migration, want 1", attempts)
	}
	if _, err := s.VerifyRegistration(t.Context(), c.ID, u.Phone, storetest.Try(c.CodeHash, now)); err != nil {
		t.Errorf("VerifyRegistration with the right code after the migration: %v", err)
	}
	insert := `INSERT INTO challenges (id, user_id, purpose, code_hash, created_at, expires_at, new_phone) VALUES (?, 'u1', ?, x'00', 0, 0, ?)`
	for _, tc := range []struct {
		purpose string
		phone   any
		ok      bool
	}{
		{"delete", nil, true},
		{"phone", "+15555550101", true},
		{"phone", nil, false},
		{"login", "+15555550101", false},
		{"other", nil, false},
	} {
		_, err := s.write.ExecContext(t.Context(), insert, "x-"+tc.purpose+fmt.Sprint(tc.phone), tc.purpose, tc.phone)
		if (err == nil) != tc.ok {
			t.Errorf("insert a %s challenge with new_phone %v: %v, want ok %t", tc.purpose, tc.phone, err, tc.ok)
		}
	}
}

// checkVersions fails t unless schema_migrations holds exactly the
// versions of ms, each once. Versions may have gaps.
func checkVersions(t *testing.T, s *Store, ms []migrations.Migration) {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var got, want []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	for _, m := range ms {
		want = append(want, m.Version)
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations holds versions %v, want %v", got, want)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	ctx := t.Context()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	u := phoneauth.User{ID: "u1", Phone: "+15555550100", CreatedAt: now}
	c := phoneauth.Challenge{ID: "c1", CodeHash: []byte("h"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.Register(ctx, u, c, now); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if _, err := s.VerifyRegistration(ctx, c.ID, u.Phone, storetest.Try(c.CodeHash, now)); err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
	revoked := phoneauth.Claims{Subject: u.ID, Type: phoneauth.TokenAccess, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		Ref: phoneauth.TokenRef{JTI: "t1"}}
	err = s.RevokeToken(ctx, phoneauth.Revocation{
		Token:  revoked,
		Record: phoneauth.Session{ID: 1, UserID: u.ID, CreatedAt: now, ExpiresAt: revoked.ExpiresAt, RotatedAt: now, RevokedAt: now},
		Now:    now,
	})
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTest(t, path)
	got, err := s.UserByPhone(ctx, u.Phone)
	if err != nil {
		t.Fatalf("UserByPhone after reopening: %v", err)
	}
	if got.ID != u.ID || !got.Verified || !got.CreatedAt.Equal(now) {
		t.Errorf("UserByPhone after reopening: got %+v, want ID %s, verified, created %s", got, u.ID, now)
	}
	if _, err := s.AccessUser(ctx, u.ID, revoked.Ref); !errors.Is(err, phoneauth.ErrTokenRevoked) {
		t.Errorf("AccessUser with the revoked token after reopening: got %v, want %v", err, phoneauth.ErrTokenRevoked)
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s := openTest(t, filepath.Join(t.TempDir(), "phoneauth.db"))

	// Hold several connections at once so each is a distinct one.
	const readers = 4
	var conns []*sql.Conn
	for _, p := range []struct {
		db *sql.DB
		n  int
	}{{s.write, 1}, {s.read, readers}} {
		for range p.n {
			c, err := p.db.Conn(t.Context())
			if err != nil {
				t.Fatalf("Conn: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			conns = append(conns, c)
		}
	}
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "10000"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
	} {
		t.Run(tc.pragma+" is "+tc.want+" on every connection", func(t *testing.T) {
			for i, c := range conns {
				var got string
				if err := c.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
					t.Fatalf("connection %d: PRAGMA %s: %v", i, tc.pragma, err)
				}
				if got != tc.want {
					t.Errorf("connection %d: got %s = %s, want %s", i, tc.pragma, got, tc.want)
				}
			}
		})
	}

	t.Run("page caches are 1 MiB for the writer and 512 KiB for each reader", func(t *testing.T) {
		for i, c := range conns {
			want := -512
			if i == 0 {
				want = -1024
			}
			var got int
			if err := c.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA cache_size: %v", i, err)
			}
			if got != want {
				t.Errorf("connection %d: cache_size = %d, want %d", i, got, want)
			}
		}
	})

	t.Run("read connections refuse writes", func(t *testing.T) {
		_, err := conns[1].ExecContext(t.Context(), `DELETE FROM users`)
		if err == nil {
			t.Fatal("DELETE on a read connection succeeded, want an error")
		}
	})
}

func TestWriteLockAtBegin(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	a := openTest(t, path)
	b := openTest(t, path)

	// A transaction that has run nothing yet must already hold the lock.
	tx, err := a.write.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatalf("BeginTx: %v", err)
	}
	defer tx.Rollback()
	c, err := b.write.Conn(t.Context())
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(t.Context(), "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatalf("PRAGMA busy_timeout: %v", err)
	}
	_, err = c.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	if err == nil {
		c.ExecContext(context.WithoutCancel(t.Context()), "ROLLBACK")
		t.Fatal("BEGIN IMMEDIATE beside an open transaction succeeded, want SQLITE_BUSY")
	}
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
		t.Fatalf("BEGIN IMMEDIATE: got %v, want SQLITE_BUSY", err)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		path    string
		wantErr error // nil: any error
	}{
		{"path with a query is refused", filepath.Join(t.TempDir(), "x.db?mode=ro"), nil},
		{"missing directory is unavailable", filepath.Join(t.TempDir(), "missing", "x.db"), phoneauth.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded, want an error", tc.path)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Open(%s): got %v, want %v", tc.path, err, tc.wantErr)
			}
		})
	}
}

// BenchmarkFlow measures full sign-up-and-login flows (every store call
// the service makes, from Register to an authenticated request) from
// parallel clients.
func BenchmarkFlow(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "phoneauth.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := flow(ctx, s, seq.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

func flow(ctx context.Context, s *Store, n int64) error {
	id := func(kind string) string { return fmt.Sprintf("%s-%d", kind, n) }
	phone := fmt.Sprintf("+1555%07d", n)
	hash := []byte(id("code"))
	c := phoneauth.Challenge{ID: id("reg"), CodeHash: hash, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	u := phoneauth.User{ID: id("user"), Phone: phone, CreatedAt: now}
	if _, err := s.Register(ctx, u, c, now); err != nil {
		return err
	}
	if _, err := s.VerifyRegistration(ctx, c.ID, phone, storetest.Try(hash, now)); err != nil {
		return err
	}
	if _, err := s.UserByPhone(ctx, phone); err != nil {
		return err
	}
	lc := phoneauth.Challenge{ID: id("login"), Purpose: phoneauth.PurposeLogin, CodeHash: hash, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if _, _, err := s.PutLoginChallenge(ctx, phone, lc, lc.CreatedAt); err != nil {
		return err
	}
	sess := phoneauth.Session{ID: uint64(n), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: now}
	if _, err := s.VerifyLogin(ctx, u.ID, storetest.Try(hash, now), sess); err != nil {
		return err
	}
	_, err := s.AccessUser(ctx, u.ID, phoneauth.TokenRef{Own: true, Session: sess.ID})
	return err
}
