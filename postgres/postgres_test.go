package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/tcpproxy"
	"github.com/phoneauth/phoneauth/internal/testenv"
	"github.com/phoneauth/phoneauth/storetest"
)

// newSchema creates an empty schema with a random name in the test database
// and drops it, with everything in it, when t ends. It skips t (fails it
// under CI) when PostgreSQL is not configured or does not answer.
func newSchema(t *testing.T) (base, schema string) {
	t.Helper()
	base = testenv.PostgresURL(t)
	schema = "phoneauth_test_" + hex.EncodeToString(randomBytes(t, 8))
	if err := adminExec(base, "CREATE SCHEMA "+schema); err != nil {
		testenv.Unreachable(t, "PostgreSQL", err)
	}
	t.Cleanup(func() {
		if err := adminExec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return base, schema
}

// adminExec runs one statement on its own connection, outside any store.
func adminExec(base, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return b
}

// schemaURL returns base with its search_path set to schema and, unless
// host is empty, its host:port replaced by host.
func schemaURL(t *testing.T, base, schema, host string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The URL itself is not printed: it may hold a password.
		t.Fatalf("%s must be a postgres:// URL", testenv.PostgresVar)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	if host != "" {
		u.Host = host
	}
	return u.String()
}

// openStore opens the store at dsn and closes it when t ends.
func openStore(t *testing.T, dsn string, o Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func openMigrated(t *testing.T, dsn string, o Options) *Store {
	t.Helper()
	s := openStore(t, dsn, o)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// newStore opens a migrated store with options o on a fresh schema (see
// newSchema) and returns it with its DSN.
func newStore(t *testing.T, o Options) (*Store, string) {
	t.Helper()
	base, schema := newSchema(t)
	dsn := schemaURL(t, base, schema, "")
	return openMigrated(t, dsn, o), dsn
}

// newProxiedStore opens a migrated store on a fresh schema through a
// tcpproxy, for outage tests: its timeouts are short, so that calls during
// an outage fail quickly.
func newProxiedStore(t *testing.T) (*Store, *tcpproxy.Proxy) {
	t.Helper()
	base, schema := newSchema(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL", testenv.PostgresVar)
	}
	p := tcpproxy.ForTest(t, u.Host)
	s := openMigrated(t, schemaURL(t, base, schema, p.Addr()), Options{
		ConnectTimeout:   300 * time.Millisecond,
		StatementTimeout: 300 * time.Millisecond,
	})
	return s, p
}

// outages are the ways a proxied store can lose its server.
var outages = []struct {
	name  string
	start func(*tcpproxy.Proxy)
}{
	{"connections dropped", (*tcpproxy.Proxy).Cut},
	// The calls' contexts never end: only the store's own bound can stop
	// them.
	{"connections gone silent", (*tcpproxy.Proxy).Stall},
}

// endOutage restores p with the connections of the outage closed and what
// a stall held dropped, so that no call that gave up reaches the server
// late.
func endOutage(p *tcpproxy.Proxy) {
	p.Cut()
	p.Restore()
}

// lockInTx runs sql, which takes locks, in a transaction on a connection of
// its own to dsn: the locks are held until the returned transaction ends
// or t does.
func lockInTx(t *testing.T, dsn, sql string, args ...any) pgx.Tx {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	if _, err := tx.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("lock (%s): %v", sql, err)
	}
	return tx
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	t.Run("four instances migrating one schema at once apply each migration exactly once", func(t *testing.T) {
		t.Parallel()
		base, schema := newSchema(t)
		dsn := schemaURL(t, base, schema, "")
		stores := make([]*Store, 4)
		for i := range stores {
			stores[i] = openStore(t, dsn, Options{})
		}
		errs := make([]error, len(stores))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				<-start
				errs[i] = s.Migrate(t.Context())
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("store %d: Migrate: %v", i, err)
			}
		}
		if err := stores[0].Migrate(t.Context()); err != nil {
			t.Errorf("Migrate once more: %v", err)
		}

		ms, err := loadMigrations()
		if err != nil {
			t.Fatalf("loadMigrations: %v", err)
		}
		var rows, versions int
		if err := stores[0].pool.QueryRow(t.Context(),
			`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
			t.Fatalf("count migrations: %v", err)
		}
		if rows != len(ms) || versions != len(ms) {
			t.Errorf("got %d rows for %d versions in schema_migrations, want %d of each", rows, versions, len(ms))
		}
		var tables []string
		if err := stores[0].pool.QueryRow(t.Context(),
			`SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables WHERE schemaname = $1`,
			schema).Scan(&tables); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		// limits is the table of the postgres limiter (migration 0003).
		want := []string{"audit_events", "challenges", "foreign_tokens", "limits", "schema_migrations", "sessions", "users"}
		if !slices.Equal(tables, want) {
			t.Errorf("got tables %v in the schema, want %v", tables, want)
		}
	})
}

func TestMigrateKeepsSessions(t *testing.T) {
	t.Parallel()
	base, schema := newSchema(t)
	s := openStore(t, schemaURL(t, base, schema, ""), Options{})
	ms, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	// The schema before sessions counted generations, and data in it.
	for _, m := range ms {
		if m.Version >= 5 {
			break
		}
		if err := pgx.BeginFunc(t.Context(), s.pool, func(tx pgx.Tx) error { return apply(t.Context(), tx, m) }); err != nil {
			t.Fatalf("apply %s: %v", m.Name, err)
		}
	}
	l := storetest.NewLegacy()
	null := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO users (id, phone, verified_at, created_at) VALUES ($1, $2, $3, $3)`,
		l.User.ID, l.User.Phone, l.User.CreatedAt)
	for _, x := range l.Sessions {
		b.Queue(`INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)`,
			x.ID, l.User.ID, x.CreatedAt, x.ExpiresAt, null(x.RevokedAt))
	}
	for _, x := range l.Tokens {
		b.Queue(`INSERT INTO tokens (jti, session_id, type, expires_at, spent_at) VALUES ($1, $2, $3, $4, $5)`,
			x.JTI, x.SessionID, string(x.Type), x.ExpiresAt, null(x.SpentAt))
	}
	if err := s.pool.SendBatch(t.Context(), b).Close(); err != nil {
		t.Fatalf("insert the legacy data: %v", err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.CheckLegacy(t, s, l)
}

func TestOpen(t *testing.T) {
	t.Parallel()
	t.Run("malformed URL fails without repeating it", func(t *testing.T) {
		t.Parallel()
		_, err := Open(t.Context(), "postgres://app:hunter2@127.0.0.1:notaport/db", Options{})
		if err == nil {
			t.Fatal("Open: got success, want an error")
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open: error %q repeats the password", err)
		}
	})

	t.Run("options out of range are refused", func(t *testing.T) {
		t.Parallel()
		for _, o := range []Options{
			{MaxConns: -1}, {MaxConns: 1001},
			{StatementTimeout: -time.Second}, {StatementTimeout: time.Millisecond - 1},
			{ConnectTimeout: -time.Second},
		} {
			if _, err := Open(t.Context(), "postgres://127.0.0.1:1/db", o); err == nil || errors.Is(err, phoneauth.ErrUnavailable) {
				t.Errorf("Open with %+v: got error %v, want an options error", o, err)
			}
		}
	})
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{
			name: "nothing listening: Open returns ErrUnavailable",
			addr: closedAddr,
		},
		{
			// The call's context never ends: only ConnectTimeout can stop it.
			name: "server accepting but never answering: Open returns ErrUnavailable after ConnectTimeout",
			addr: func(t *testing.T) string {
				p := tcpproxy.ForTest(t, closedAddr(t))
				p.Stall()
				return p.Addr()
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := "postgres://postgres@" + tc.addr(t) + "/test?sslmode=disable"
			s, err := Open(t.Context(), dsn, Options{ConnectTimeout: 200 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatal("Open: got success, want an error")
			}
			if !errors.Is(err, phoneauth.ErrUnavailable) {
				t.Errorf("Open: got error %v, want %v", err, phoneauth.ErrUnavailable)
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOutage(t *testing.T) {
	t.Parallel()
	for _, o := range outages {
		t.Run(o.name+": a call returns ErrUnavailable and the next one after recovery succeeds", func(t *testing.T) {
			t.Parallel()
			s, p := newProxiedStore(t)
			now := time.Now()
			user := phoneauth.User{ID: "u1", Phone: "+15555550100", CreatedAt: now}
			c := phoneauth.Challenge{ID: "c1", CodeHash: []byte("h"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			if _, err := s.Register(t.Context(), user, c, now); err != nil {
				t.Fatalf("Register: %v", err)
			}

			// Several idle connections: the outage must not leave stale
			// ones behind to fail the calls after it.
			fillPool(t, s, 4)

			o.start(p)
			_, err := s.UserByPhone(t.Context(), user.Phone)
			if !errors.Is(err, phoneauth.ErrUnavailable) {
				t.Fatalf("UserByPhone during the outage: got error %v, want %v", err, phoneauth.ErrUnavailable)
			}

			endOutage(p)
			got, err := s.UserByPhone(t.Context(), user.Phone)
			if err != nil {
				t.Fatalf("UserByPhone after the outage: %v", err)
			}
			if got.ID != user.ID {
				t.Errorf("UserByPhone after the outage: got user %s, want %s", got.ID, user.ID)
			}
		})
	}
}

// fillPool opens n connections in s's pool at once and returns them idle.
func fillPool(t *testing.T, s *Store, n int) {
	t.Helper()
	for range n {
		c, err := s.pool.Acquire(t.Context())
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		defer c.Release()
	}
}

func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	t.Run("a call stuck behind a lock gives up at the statement timeout with ErrUnavailable", func(t *testing.T) {
		t.Parallel()
		s, dsn := newStore(t, Options{StatementTimeout: 200 * time.Millisecond})
		// Another client holds the table lock for the rest of the test.
		lockInTx(t, dsn, `LOCK TABLE users IN ACCESS EXCLUSIVE MODE`)

		_, err := s.UserByPhone(t.Context(), "+15555550100")
		if !errors.Is(err, phoneauth.ErrUnavailable) || !hasCode(err, codeQueryCanceled) {
			t.Errorf("UserByPhone: got error %v, want %v from the statement timeout (SQLSTATE %s)",
				err, phoneauth.ErrUnavailable, codeQueryCanceled)
		}
	})
}
