package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CommitProbe measures how many durable commits a second the server can
// take: a scratch table in the database, like the four-insert
// pgbench script's, and a pool of one connection per client, each Insert
// one row in an autocommit statement. It is the durable-write limit that
// phoneauth bench's figures are compared against (four commits a full
// flow).
type CommitProbe struct {
	pool  *pgxpool.Pool
	table string
}

// NewCommitProbe connects to the database at url with up to clients
// connections and creates the scratch table; Close drops it.
func NewCommitProbe(ctx context.Context, url string, clients int32) (*CommitProbe, error) {
	cfg, err := parseURL(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: database URL %w", err)
	}
	cfg.MaxConns, cfg.MinConns = clients, clients
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: commit probe: %w", err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	p := &CommitProbe{pool: pool, table: "phoneauth_probe_" + hex.EncodeToString(suffix[:])}
	_, err = pool.Exec(ctx, `CREATE TABLE `+p.table+` (id bigserial PRIMARY KEY, phone text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: commit probe: %w", err)
	}
	return p, nil
}

// Insert commits one row.
func (p *CommitProbe) Insert(ctx context.Context) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO `+p.table+` (phone) VALUES ('+14155550100')`)
	return err
}

// Close drops the scratch table, within 10 s, and closes the pool.
func (p *CommitProbe) Close() error {
	defer p.pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.pool.Exec(ctx, `DROP TABLE `+pgx.Identifier{p.table}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: commit probe: drop %s: %w", p.table, err)
	}
	return nil
}
