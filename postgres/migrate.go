package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/phoneauth/phoneauth/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// loadMigrations reads the embedded migrations in version order.
func loadMigrations() ([]migrations.Migration, error) {
	return migrations.Load(migrationFiles, "migrations")
}

// migrateLockKey is the advisory lock that serializes Migrate across every
// process using the database: "phoneaut" in ASCII.
const migrateLockKey int64 = 0x70686f6e65617574

// Migrate brings the schema (the first schema on the search_path) up to
// date: it applies, in order, each embedded migration not yet recorded in
// schema_migrations, each in its own transaction together with its record.
// Every transaction first takes an advisory lock, so instances starting
// together apply each migration exactly once; running Migrate again is
// harmless. The statement timeout is lifted inside these transactions, as
// waiting for another instance's migration may take long: ctx bounds them.
// Errors wrap phoneauth.ErrUnavailable when the database cannot be reached.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range ms {
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return apply(ctx, tx, m) }); err != nil {
			return s.fail(ctx, "migrate "+m.Name, err)
		}
	}
	return nil
}

// lockMigrations takes the migration lock for the rest of the transaction
// and makes sure the table of applied versions exists. The table is created
// under the lock: two concurrent CREATE TABLE IF NOT EXISTS can both try to
// create it, and one then fails.
var lockMigrations = fmt.Sprintf(`
SET LOCAL statement_timeout = 0;
SELECT pg_advisory_xact_lock(%d);
CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);`, migrateLockKey)

func apply(ctx context.Context, tx pgx.Tx, m migrations.Migration) error {
	// Without arguments Exec uses the simple protocol, which runs several
	// statements in one string.
	if _, err := tx.Exec(ctx, lockMigrations); err != nil {
		return err
	}
	var done bool
	if err := tx.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	return err
}
