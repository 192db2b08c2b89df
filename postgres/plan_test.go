package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/testenv"
	"github.com/phoneauth/phoneauth/storetest"
)

// statements records every data statement a pool sends, with the
// arguments of its first use.
type statements struct {
	mu   sync.Mutex
	args map[string][]any
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	sql := strings.TrimSpace(d.SQL)
	verb := strings.ToUpper(strings.Fields(sql + " x")[0])
	if !slices.Contains([]string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}, verb) {
		return ctx
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.args[sql]; !ok {
		s.args[sql] = slices.Clone(d.Args)
	}
	return ctx
}

func (*statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (s *statements) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (s *statements) TraceBatchQuery(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchQueryData) {
	s.TraceQueryStart(ctx, c, pgx.TraceQueryStartData{SQL: d.SQL, Args: d.Args})
}

func (*statements) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestStore runs the store's conformance suite, collects every statement
// the store sends on the way (the flows, sessions, accounts, the audit
// trail, pruning), then asks PostgreSQL for the plan of each with
// sequential scans disabled: a plan that still reads a whole table has no
// usable index or predicate, and would slow down as the table grows.
func TestStore(t *testing.T) {
	t.Parallel()
	testenv.PostgresURL(t) // skips (fails under CI) without PostgreSQL
	seen := &statements{args: map[string][]any{}}
	t.Run("conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) phoneauth.Store {
			s, _ := newStore(t, Options{tracer: seen})
			return s
		})
	})
	if t.Failed() {
		return
	}
	if len(seen.args) < 30 {
		t.Fatalf("collected %d statements, want the store's", len(seen.args))
	}
	t.Run("plans", func(t *testing.T) { explainAll(t, seen.args) })
}

// explainAll fails t for each of statements whose plan reads a whole
// table.
func explainAll(t *testing.T, statements map[string][]any) {
	// The statements run on a schema of their own, with its tables.
	s, _ := newStore(t, Options{})
	ctx := t.Context()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	for sql, args := range statements {
		var plan []map[string]any
		if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
			t.Errorf("EXPLAIN %s: %v", sql, err)
			continue
		}
		if scans := seqScans(plan[0]["Plan"]); len(scans) > 0 {
			out, _ := json.MarshalIndent(plan[0]["Plan"], "  ", "  ")
			t.Errorf("%s reads whole tables %v:\n%s\n  %s", firstLine(sql), scans, sql, out)
		}
	}
	t.Logf("%d statements explained", len(statements))
}

// seqScans returns the relations a plan node and its children read with
// a sequential scan.
func seqScans(node any) []string {
	m, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	if m["Node Type"] == "Seq Scan" {
		out = append(out, m["Relation Name"].(string))
	}
	if plans, ok := m["Plans"].([]any); ok {
		for _, p := range plans {
			out = append(out, seqScans(p)...)
		}
	}
	return out
}

func firstLine(sql string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
	return line
}
