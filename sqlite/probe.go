package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// CommitProbe measures how many durable commits a second the file system
// of a database can take as the store would commit without gathering
// calls into one transaction: a scratch database in a directory of its
// own beside the store's file, with the store's pragmas (WAL,
// synchronous=FULL) and one write connection, each Insert one row in a
// transaction of its own. It is the durable-write limit that phoneauth
// bench's figures are compared against (four commits a full flow). With
// one connection, the number of clients changes little.
type CommitProbe struct {
	db  *sql.DB
	dir string
}

// NewCommitProbe creates the scratch database in a new directory inside
// dir; Close removes it.
func NewCommitProbe(ctx context.Context, dir string) (*CommitProbe, error) {
	scratch, err := os.MkdirTemp(dir, "phoneauth-probe-")
	if err != nil {
		return nil, fmt.Errorf("sqlite: commit probe: %w", err)
	}
	p := &CommitProbe{dir: scratch}
	p.db, err = sql.Open("sqlite", filepath.Join(scratch, "probe.db")+"?"+pragmas.Encode())
	if err == nil {
		p.db.SetMaxOpenConns(1)
		_, err = p.db.ExecContext(ctx, `CREATE TABLE probe (id INTEGER PRIMARY KEY, phone TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT`)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: commit probe: %w", errors.Join(err, p.Close()))
	}
	return p, nil
}

// Insert commits one row.
func (p *CommitProbe) Insert(ctx context.Context) error {
	_, err := p.db.ExecContext(ctx, `INSERT INTO probe (phone, created_at) VALUES ('+14155550100', ?)`, time.Now().UnixMilli())
	return err
}

// Close closes the scratch database and removes its directory.
func (p *CommitProbe) Close() error {
	var err error
	if p.db != nil {
		err = p.db.Close()
	}
	return errors.Join(err, os.RemoveAll(p.dir))
}
