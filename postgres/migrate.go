package postgres

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations, ordered by the version
// number each file name starts with (0001_init.sql is version 1).
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version and '_'", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(migrations, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return ms, nil
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
			return s.fail(ctx, "migrate "+m.name, err)
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

func apply(ctx context.Context, tx pgx.Tx, m migration) error {
	// Without arguments Exec uses the simple protocol, which runs several
	// statements in one string.
	if _, err := tx.Exec(ctx, lockMigrations); err != nil {
		return err
	}
	var done bool
	if err := tx.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
	return err
}
