package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Seeder = (*Store)(nil)

// seedRows is how many users one INSERT of SeedUsers writes: one call
// into SQLite per hundred rows instead of per row, well under the
// driver's limit of bound parameters.
const seedRows = 100

// seedColumns are the columns SeedUsers writes; the others take their
// defaults, as at a registration.
const seedColumns = 5 // id, phone, verified_at, created_at, locked_until

// insertUsers returns the INSERT of rows users.
func insertUsers(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO users (id, phone, verified_at, created_at, locked_until) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?)")
	}
	return b.String()
}

// seedCache is SQLite's page cache while SeedUsers runs, in KiB (the
// pragma's negative form): the index on the random IDs is written all
// over, and with the default 2 MiB a million rows take twice as long.
const seedCache = 256 << 10

// SeedUsers implements phoneauth.Seeder in one transaction on the write
// connection, by a prepared INSERT of seedRows rows at a time, with a page
// cache of seedCache KiB for its duration. It holds the write lock until
// it commits: the flows' writes wait for it, and give up after the call
// timeout. Errors: phoneauth.ErrUserExists.
func (s *Store) SeedUsers(ctx context.Context, users iter.Seq[phoneauth.User]) (int64, error) {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return 0, wrapErr(ctx, "seed users", err)
	}
	defer conn.Close()
	var cache int64
	if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
		return 0, wrapErr(ctx, "seed users", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = %d", -seedCache)); err != nil {
		return 0, wrapErr(ctx, "seed users", err)
	}
	// Restored even if ctx has ended: the connection stays in the pool.
	defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA cache_size = %d", cache))
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrapErr(ctx, "seed users", err)
	}
	defer tx.Rollback()
	n, err := seed(ctx, tx, users)
	if err != nil {
		return 0, err
	}
	// The iterator may have run past a cancellation without a statement
	// to notice it.
	if err := ctx.Err(); err != nil {
		return 0, wrapErr(ctx, "seed users", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, wrapErr(ctx, "seed users: commit", err)
	}
	return n, nil
}

// seed inserts users in tx and returns how many.
func seed(ctx context.Context, tx *sql.Tx, users iter.Seq[phoneauth.User]) (int64, error) {
	full, err := tx.PrepareContext(ctx, insertUsers(seedRows))
	if err != nil {
		return 0, wrapErr(ctx, "seed users", err)
	}
	defer full.Close()
	var n int64
	args := make([]any, 0, seedRows*seedColumns)
	insert := func(st *sql.Stmt) error {
		if _, err := st.ExecContext(ctx, args...); err != nil {
			if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) || isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
				return phoneauth.ErrUserExists
			}
			return wrapErr(ctx, "seed users", err)
		}
		n += int64(len(args) / seedColumns)
		args = args[:0]
		return nil
	}
	for u := range users {
		var verifiedAt any
		if u.Verified {
			verifiedAt = ms(u.CreatedAt)
		}
		args = append(args, u.ID, u.Phone, verifiedAt, ms(u.CreatedAt), nullMS(u.LockedUntil))
		if len(args) == cap(args) {
			if err := insert(full); err != nil {
				return 0, err
			}
		}
	}
	if len(args) == 0 {
		return n, nil
	}
	rest, err := tx.PrepareContext(ctx, insertUsers(len(args)/seedColumns))
	if err != nil {
		return 0, wrapErr(ctx, "seed users", err)
	}
	defer rest.Close()
	if err := insert(rest); err != nil {
		return 0, err
	}
	return n, nil
}
