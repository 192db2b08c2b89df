package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestCommitProbe(t *testing.T) {
	t.Parallel()
	base, schema := newSchema(t)
	dsn := schemaURL(t, base, schema, "")
	p, err := NewCommitProbe(t.Context(), dsn, Options{}, 4)
	if err != nil {
		t.Fatalf("NewCommitProbe: %v", err)
	}
	for range 10 {
		if err := p.Insert(t.Context()); err != nil {
			t.Fatalf("Insert: %v", err)
		}
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := p.pool.QueryRow(context.Background(), q, schema).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	// One row from each of the 4 connections warmed up, and the 10.
	if n := count(`SELECT count(*) FROM ` + p.table + ` WHERE $1 <> ''`); n != 14 {
		t.Errorf("%d rows after 10 inserts, want 14", n)
	}

	// A logged table, as the store's: its commits wait for the WAL.
	if n := count(`SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relkind = 'r' AND c.relpersistence = 'p' AND c.relname LIKE 'phoneauth_probe_%'`); n != 1 {
		t.Errorf("%d permanent scratch tables, want 1", n)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&left); err != nil || left != 0 {
		t.Errorf("Close left %d tables (%v) in the schema, want none", left, err)
	}
}
