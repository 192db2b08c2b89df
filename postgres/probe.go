package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CommitProbe measures how many durable commits a second the server can
// take: a scratch table in the database, like the four-insert pgbench
// script of README.md (Performance, Measured), and a pool of one
// connection per client, each Insert one row in an autocommit statement.
// It is the durable-write limit that phoneauth bench's figures are
// compared against (four commits a full flow).
type CommitProbe struct {
	pool   *pgxpool.Pool
	table  string // sanitized
	insert string // the statement of Insert
}

// NewCommitProbe connects to the database at url, with o's timeouts and
// clients connections, all opened before it returns, and creates the
// scratch table; Close drops it.
func NewCommitProbe(ctx context.Context, url string, o Options, clients int32) (*CommitProbe, error) {
	cfg, _, err := poolConfig(url, o)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = clients
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: commit probe: %w", err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	p := &CommitProbe{pool: pool, table: pgx.Identifier{"phoneauth_probe_" + hex.EncodeToString(suffix[:])}.Sanitize()}
	p.insert = `INSERT INTO ` + p.table + ` (phone) VALUES ('+14155550100')`
	_, err = pool.Exec(ctx, `CREATE TABLE `+p.table+` (id bigserial PRIMARY KEY, phone text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`)
	if err == nil {
		// Every connection now, so that none is opened, nor its
		// statement prepared, while the clock runs.
		err = warm(ctx, pool, int(clients), p.insert)
	}
	if err != nil {
		// The CREATE may have committed with only its answer lost.
		return nil, errors.Join(fmt.Errorf("postgres: commit probe: %w", err), p.Close())
	}
	return p, nil
}

// warm runs sql on n connections of pool at once.
func warm(ctx context.Context, pool *pgxpool.Pool, n int, sql string) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := c.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

// Insert commits one row.
func (p *CommitProbe) Insert(ctx context.Context) error {
	_, err := p.pool.Exec(ctx, p.insert)
	return err
}

// Close drops the scratch table if it exists, within 10 s, and closes
// the pool.
func (p *CommitProbe) Close() error {
	defer p.pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.pool.Exec(ctx, `DROP TABLE IF EXISTS `+p.table); err != nil {
		return fmt.Errorf("postgres: commit probe: drop %s: %w", p.table, err)
	}
	return nil
}
