package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/testenv"
	"github.com/phoneauth/phoneauth/postgres"
)

// BenchmarkSignUpAndLogin measures whole flows through HTTP: register,
// verify, login, login verify, on a real SQLite file and, when
// PHONEAUTH_TEST_POSTGRES_URL is set, on PostgreSQL (counters in memory, as
// for one instance). One op is one flow.
func BenchmarkSignUpAndLogin(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchFlows(b, openSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchFlows(b, openPostgres(b)) })
}

// openPostgres opens a store in a fresh schema, dropped at the end. It
// skips b (fails it under CI) when PHONEAUTH_TEST_POSTGRES_URL is not set.
func openPostgres(b testing.TB) phoneauth.Store {
	b.Helper()
	base := testenv.PostgresURL(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.Unreachable(b, "PostgreSQL", err)
	}
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String(), postgres.Options{MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return st
}

func benchFlows(b *testing.B, st phoneauth.Store) {
	h := newHarness(b, harnessOptions{store: st})
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			// Valid mobile numbers, spread over exchanges 200-999.
			phone := fmt.Sprintf("+1415%03d%04d", 200+(n/10000)%800, n%10000)
			h.signIn(phone)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
