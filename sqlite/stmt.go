package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmts caches the prepared statements of one pool by their text: parsing
// SQL was a third of the CPU time of a sign-in flow. database/sql prepares
// a statement on each connection of the pool once and reuses it, inside
// transactions too.
//
// Statements are prepared by prepare, before a connection is taken, and no
// lock is held while preparing: the write pool has a single connection, so
// whatever waits for it must not block a transaction that holds it.
type stmts struct {
	db      *sql.DB
	queries []string
	prep    sync.Mutex // one preparer at a time
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	ready   bool
}

func newStmts(db *sql.DB, queries []string) *stmts {
	return &stmts{db: db, queries: queries, m: map[string]*sql.Stmt{}}
}

// prepare prepares every query not yet prepared. It fails while the schema
// is missing (before Migrate); the queries then run unprepared, and a later
// call tries again. While another goroutine prepares it returns at once.
func (c *stmts) prepare(ctx context.Context) {
	c.mu.RLock()
	ready := c.ready
	c.mu.RUnlock()
	if ready || !c.prep.TryLock() {
		return
	}
	defer c.prep.Unlock()
	ok := true
	for _, q := range c.queries {
		if c.get(q) != nil {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			ok = false
			continue
		}
		c.mu.Lock()
		c.m[q] = st
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.ready = ok
	c.mu.Unlock()
}

// get returns the prepared statement for query, or nil.
func (c *stmts) get(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[query]
}

func (c *stmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	c.ready = false
	return errors.Join(errs...)
}

func (c *stmts) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	c.prepare(ctx)
	if st := c.get(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

func (c *stmts) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.prepare(ctx)
	if st := c.get(query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmts) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.prepare(ctx)
	if st := c.get(query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

// tx is a transaction that runs its pool's prepared statements.
type tx struct {
	*sql.Tx
	c *stmts
}

func (t tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.c.get(query); st != nil {
		return t.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.QueryRowContext(ctx, query, args...)
}

func (t tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.c.get(query); st != nil {
		return t.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.ExecContext(ctx, query, args...)
}
