// Package sqlite is the phoneauth.Store kept in one SQLite file, through the
// pure-Go driver modernc.org/sqlite. It suits a single instance; a fleet
// shares postgres instead.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/internal/migrations"
)

var _ phoneauth.Store = (*Store)(nil)

// Store is a phoneauth.Store in an SQLite file. Build it with Open and call
// Migrate before use; it is safe for concurrent use.
//
// It keeps two pools on the file: one connection for writes, so writers
// queue in Go rather than in SQLite's sleeping busy handler, and several for
// reads, which WAL mode lets run beside the writer.
//
// Each call is bounded by Options.CallTimeout, even when its context has no
// deadline: a call that cannot get the file's lock in time, because another
// process holds it or because calls queued before it do, fails with an
// error wrapping phoneauth.ErrUnavailable.
type Store struct {
	write *sql.DB
	read  *sql.DB
	ws    *stmts // prepared on write
	rs    *stmts // prepared on read
	// committer runs the write transactions, several calls' at once.
	committer *committer
	// callTimeout bounds each call, so that one waiting on a lock held
	// outside this store (another process, a backup) gives up even when its
	// context has no deadline, and the calls queued behind it for the only
	// write connection give up too instead of hanging.
	callTimeout time.Duration
	// pruneBatch caps the rows each of Prune's statements deletes in one
	// transaction.
	pruneBatch int
	// auditRetention is how long Prune keeps audit events.
	auditRetention time.Duration
}

// Options tune the store. Zero fields take the defaults.
type Options struct {
	// CallTimeout bounds each call of the store, even when its context has
	// no deadline: the wait for the write connection, for SQLite's locks
	// and the statements themselves. A call that runs out of it fails with
	// an error wrapping phoneauth.ErrUnavailable. Default 5s.
	CallTimeout time.Duration
	// AuditRetention is how long Prune keeps audit events
	// (phoneauth.Policy.AuditRetention). Default that of
	// phoneauth.DefaultPolicy.
	AuditRetention time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.CallTimeout < 0 || o.AuditRetention < 0 {
		return o, errors.New("sqlite: options must not be negative")
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 5 * time.Second
	}
	if o.AuditRetention == 0 {
		o.AuditRetention = phoneauth.DefaultPolicy().AuditRetention
	}
	return o, nil
}

// errNoAnswer is the cause of a call's context when callTimeout expired.
var errNoAnswer = errors.New("no answer within the call timeout")

// bound limits a call to callTimeout, marking the expiry with errNoAnswer
// so that wrapErr can tell it from the caller giving up.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.callTimeout, errNoAnswer)
}

// pruneBatch is the default Store.pruneBatch: small enough that a batch
// holds the only write connection for milliseconds, not seconds.
const pruneBatch = 1000

// pragmas are set through the DSN so that every pooled connection, not
// only the first, gets them. synchronous=FULL makes a commit durable before
// it returns; _txlock=immediate takes the write lock at BEGIN, so two
// transactions never deadlock upgrading from read to write. The page
// cache of the write connection is 1 MiB (the default is 2), that of
// each read connection 512 KiB (readPragmas): measured with a million
// accounts, the default caches of the five connections cost about 12 MB
// of RSS and saved no CPU, since the operating system's page cache holds
// the file anyway and each call reads a few pages by index.
var pragmas = url.Values{
	"_pragma": {
		"busy_timeout(10000)",
		"cache_size(-1024)",
		"foreign_keys(1)",
		"journal_mode(WAL)",
		"synchronous(FULL)",
	},
	"_txlock": {"immediate"},
}

// readPragmas are added to pragmas for the read connections, overriding
// what they name.
const readPragmas = "&_pragma=query_only(1)&_pragma=cache_size(-512)"

// Open opens the SQLite database at path with the default Options; see
// OpenWith.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// CheckPath returns an error if OpenWith refuses path, which must be a
// plain file name: not empty, without '?' (the DSN's parameters start
// there) or '#', and not starting with "file:", so the driver never reads
// it as a URI. Its text is a predicate on the path, to follow the name of
// the setting that holds it.
func CheckPath(path string) error {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return errors.New("must not be empty, contain '?' or '#', or be a file: URI")
	}
	return nil
}

// OpenWith opens the SQLite database at path, creating the file if it does
// not exist, and checks, within o.CallTimeout, that it can be used. Errors:
// a path that fails CheckPath, or one wrapping phoneauth.ErrUnavailable
// when the file cannot be opened.
func OpenWith(ctx context.Context, path string, o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.CallTimeout, errNoAnswer)
	defer cancel()
	if err := CheckPath(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: path %w", path, err)
	}
	dsn := path + "?" + pragmas.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer: with the write lock taken at BEGIN, a second write
	// connection could only wait in the busy handler.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, wrapErr(ctx, "open "+path, err)
	}

	read, err := sql.Open("sqlite", dsn+readPragmas)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	// Keep them all: opening a connection re-runs the pragmas.
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, wrapErr(ctx, "open "+path, err)
	}
	s := &Store{
		write: write, read: read,
		ws: newStmts(write, writeQueries), rs: newStmts(read, readQueries),
		callTimeout:    o.CallTimeout,
		pruneBatch:     pruneBatch,
		auditRetention: o.AuditRetention,
	}
	s.committer = newCommitter(s)
	return s, nil
}

// Close closes the database. Transactions still running fail.
func (s *Store) Close() error {
	s.committer.close()
	return errors.Join(s.ws.close(), s.rs.close(), s.write.Close(), s.read.Close())
}

// Ping reports whether the database answers, on both pools, within the call
// timeout. Errors wrap phoneauth.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for _, db := range []*sql.DB{s.write, s.read} {
		if err := db.PingContext(ctx); err != nil {
			return wrapErr(ctx, "ping", err)
		}
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return wrapErr(ctx, "ping", err)
		}
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// loadMigrations reads the embedded migrations in version order.
func loadMigrations() ([]migrations.Migration, error) {
	return migrations.Load(migrationFiles, "migrations")
}

// Migrate brings the schema up to date: it applies, in order, each embedded
// migration not yet recorded in schema_migrations, each in its own
// transaction together with its record. Running it again, or from two
// processes at once, is harmless. Unlike the other calls it is not bounded
// by the call timeout, as a migration may take long: ctx bounds it.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return s.migrate(ctx, ms)
}

// migrate applies those of ms not yet applied, in order.
func (s *Store) migrate(ctx context.Context, ms []migrations.Migration) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return wrapErr(ctx, "migrate", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return wrapErr(ctx, "migrate "+m.Name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migrations.Migration) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Checked inside the transaction, which holds the write lock: a
	// concurrent Migrate waits here and then finds the version recorded.
	var done bool
	if err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.Version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// wrapErr adds context to a failure of call op, whose context is ctx, and
// marks the failures that may pass as phoneauth.ErrUnavailable: a locked or
// unreachable file, and a call that ran out of the store's call timeout
// (waiting for the write connection or for a lock). The caller giving up,
// by cancelling ctx or by a deadline of its own, is not the database's
// fault: the error then wraps ctx.Err() and not ErrUnavailable.
func wrapErr(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if !errors.Is(err, ctxErr) {
			// An interrupted statement can report SQLite's own error.
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		if errors.Is(context.Cause(ctx), errNoAnswer) {
			return fmt.Errorf("sqlite: %s: %w: %w: %w", op, phoneauth.ErrUnavailable, errNoAnswer, err)
		}
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if unavailable(err) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, phoneauth.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

func unavailable(err error) bool {
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM:
		return true
	}
	return false
}

// isConstraint reports whether err is the SQLite extended result code code,
// such as SQLITE_CONSTRAINT_FOREIGNKEY.
func isConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}
