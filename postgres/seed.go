package postgres

import (
	"context"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Seeder = (*Store)(nil)

// SeedUsers implements phoneauth.Seeder with COPY, in one transaction
// whose statement timeout is lifted, since a million rows outlast the
// configured one. Errors: phoneauth.ErrUserExists (a unique violation,
// which aborts the whole COPY).
func (s *Store) SeedUsers(ctx context.Context, users iter.Seq[phoneauth.User]) (int64, error) {
	next, stop := iter.Pull(users)
	defer stop()
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return err
		}
		row := make([]any, 5)
		var err error
		n, err = tx.CopyFrom(ctx, pgx.Identifier{"users"},
			[]string{"id", "phone", "verified_at", "created_at", "locked_until"},
			pgx.CopyFromFunc(func() ([]any, error) {
				u, ok := next()
				if !ok {
					return nil, nil
				}
				var verifiedAt *time.Time
				if u.Verified {
					verifiedAt = &u.CreatedAt
				}
				row[0], row[1], row[2], row[3], row[4] = u.ID, u.Phone, verifiedAt, u.CreatedAt, nullTime(u.LockedUntil)
				return row, nil
			}))
		return err
	})
	if hasCode(err, codeUnique) {
		return 0, phoneauth.ErrUserExists
	}
	if err != nil {
		return 0, s.fail(ctx, "seed users", err)
	}
	return n, nil
}
