// Package postgres is the phoneauth.Store kept in PostgreSQL, through pgx and
// its pool. Unlike sqlite it can be shared by a fleet of instances: every
// method is one short transaction whose decisions PostgreSQL makes atomic
// (conditional upserts, row locks, unique constraints). Store.Limiter keeps
// the service's counters in the same database, for a fleet without Redis.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Store = (*Store)(nil)

// Options tune the connection pool. Zero fields take the values of
// DefaultOptions; they override the pool_max_conns, connect_timeout and
// statement_timeout parameters of the URL. Validate owns their ranges.
type Options struct {
	// MaxConns caps the pool's connections: 1 to 1000. Default 10.
	MaxConns int32
	// StatementTimeout is PostgreSQL's statement_timeout, set on every
	// connection, so a statement stuck on a lock gives up. At least 1ms,
	// the server's unit. Default 5s.
	StatementTimeout time.Duration
	// ConnectTimeout bounds the opening of a connection, so an unreachable
	// server fails a call quickly instead of hanging. Positive. Default 3s.
	ConnectTimeout time.Duration
	// AuditRetention is how long Prune keeps audit events
	// (phoneauth.Policy.AuditRetention); zero takes that of
	// phoneauth.DefaultPolicy, which DefaultOptions leaves to it.
	AuditRetention time.Duration

	// tracer sees every statement the pool sends: the plan test collects
	// them with it.
	tracer pgx.QueryTracer
}

// DefaultOptions are the options Open uses for the zero fields of its
// Options.
func DefaultOptions() Options {
	return Options{
		MaxConns:         10,
		StatementTimeout: 5 * time.Second,
		ConnectTimeout:   3 * time.Second,
	}
}

// OptionsError says which field of Options is out of range, so that a
// caller reading the options from somewhere (environment variables, a
// file) can name the setting behind it.
type OptionsError struct {
	Field   string // the Options field, such as "MaxConns"
	Problem string // what is wrong, such as "must be between 1 and 1000"
}

func (e *OptionsError) Error() string { return "postgres: " + e.Field + " " + e.Problem }

// Validate reports each field of o that is out of range as an
// *OptionsError, joined with errors.Join; nil if all are in range. Zero
// is out of range: Open replaces zero fields with their defaults before
// it validates.
func (o Options) Validate() error {
	var errs []error
	if o.MaxConns < 1 || o.MaxConns > 1000 {
		errs = append(errs, &OptionsError{"MaxConns", "must be between 1 and 1000"})
	}
	if o.StatementTimeout < time.Millisecond {
		errs = append(errs, &OptionsError{"StatementTimeout", "must be at least 1ms"})
	}
	if o.AuditRetention < 0 {
		errs = append(errs, &OptionsError{"AuditRetention", "must not be negative"})
	}
	if o.ConnectTimeout <= 0 {
		errs = append(errs, &OptionsError{"ConnectTimeout", "must be positive"})
	}
	return errors.Join(errs...)
}

// withDefaults returns o with its zero fields set from DefaultOptions, or
// the errors of Validate.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.MaxConns == 0 {
		o.MaxConns = d.MaxConns
	}
	if o.StatementTimeout == 0 {
		o.StatementTimeout = d.StatementTimeout
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = d.ConnectTimeout
	}
	if o.AuditRetention == 0 {
		o.AuditRetention = phoneauth.DefaultPolicy().AuditRetention
	}
	return o, o.Validate()
}

// CheckURL returns an error if Open cannot use url, a postgres:// URL or
// key=value string. Its text is a predicate on the URL, to follow the name
// of the setting that holds it, as in "PHONEAUTH_DATABASE_URL is not a
// valid PostgreSQL URL"; it never quotes the URL, which may hold a
// password.
func CheckURL(url string) error {
	_, err := parseURL(url)
	return err
}

// parseURL is pgxpool.ParseConfig with the error CheckURL documents.
func parseURL(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// Not wrapped: the parser's message can quote the URL.
		return nil, errors.New("is not a valid PostgreSQL URL")
	}
	return cfg, nil
}

// Store is a phoneauth.Store in a PostgreSQL database. Build it with Open
// and call Migrate before use; it is safe for concurrent use.
//
// When the server cannot be reached, a statement outlasts StatementTimeout
// or a call gets no answer within ConnectTimeout + 2×StatementTimeout (even
// if its context has no deadline), the call fails with an error wrapping
// phoneauth.ErrUnavailable.
// The pool then drops its idle connections and opens new ones on demand, so
// calls succeed again as soon as the server is back.
type Store struct {
	pool *pgxpool.Pool
	// callTimeout bounds each call on the client side too. The statement
	// timeout cannot help when the network goes silent mid-call: without
	// this a call with a context that never ends would wait for TCP to give
	// up, which takes many minutes.
	callTimeout time.Duration
	// pruneBatch caps the rows each of Prune's statements deletes in one
	// transaction.
	pruneBatch int
	// auditRetention is how long Prune keeps audit events.
	auditRetention time.Duration
}

// pruneBatch is the default Store.pruneBatch: a batch takes milliseconds,
// far below the statement timeout.
const pruneBatch = 1000

// errNoAnswer is the cause of a call's context when callTimeout expired.
var errNoAnswer = errors.New("postgres: no answer in time")

// poolConfig is the pool's configuration for url under o (its pool
// size, timeouts and tracer), and o with the defaults of its zero fields.
// Errors: those of Options.Validate and CheckURL.
func poolConfig(url string, o Options) (*pgxpool.Config, Options, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, o, err
	}
	cfg, err := parseURL(url)
	if err != nil {
		return nil, o, fmt.Errorf("postgres: database URL %w", err)
	}
	cfg.MaxConns = o.MaxConns
	cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	// The pool pings a connection that sat idle before handing it out; a
	// silent server must not hold that ping forever either.
	cfg.PingTimeout = o.ConnectTimeout
	cfg.ConnConfig.Tracer = o.tracer
	ms := (o.StatementTimeout + time.Millisecond - 1) / time.Millisecond
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(int64(ms), 10)
	return cfg, o, nil
}

// Open connects to the database at url, a postgres:// URL or key=value
// string. Parameters such as search_path in it apply to every connection.
// Open checks that the server answers. Errors: a url that fails CheckURL,
// options that fail Validate once the zero fields have their defaults, or
// one wrapping phoneauth.ErrUnavailable when the server cannot be reached;
// they never repeat the URL, which may hold a password.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, o, err := poolConfig(url, o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{
		pool: pool,
		// A method sends a handful of statements, each bounded by the
		// statement timeout, after at most one connect.
		callTimeout:    o.ConnectTimeout + 2*o.StatementTimeout,
		pruneBatch:     pruneBatch,
		auditRetention: o.AuditRetention,
	}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes every connection, waiting for the ones in use to be returned.
func (s *Store) Close() { s.pool.Close() }

// Ping reports whether the database answers. Errors wrap
// phoneauth.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return s.fail(ctx, "ping", err)
	}
	return nil
}

// bound limits a call to callTimeout, marking the expiry with errNoAnswer
// so that fail can tell it from the caller giving up.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.callTimeout, errNoAnswer)
}

// errRace asks inTx to run its function again: a concurrent transaction
// created a row this one meant to create, and the next attempt will find it.
var errRace = errors.New("postgres: a concurrent call recorded the same row")

// inTx runs f in a transaction, committed if f returns nil and rolled back
// otherwise. When f returns errRace, or PostgreSQL broke a deadlock by
// aborting it, f runs again in a new transaction, a few times at most.
func (s *Store) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	return again(func() error { return pgx.BeginFunc(ctx, s.pool, f) })
}

// again runs tx, a whole transaction, and runs it again, a few times at
// most, while it fails with errRace or because PostgreSQL broke a
// deadlock by aborting it.
func again(tx func() error) error {
	var err error
	for range 3 {
		err = tx()
		if !errors.Is(err, errRace) && !hasCode(err, codeDeadlock) {
			return err
		}
	}
	return err
}

// lockThenWrite runs a transaction in two round trips, where pgx.BeginFunc
// takes four: BEGIN and the locking read lock go in one pipeline; decide
// scans the read's row and returns the writes it decides (nil: none),
// which go with COMMIT in the next. A failure rolls back, at the cost of
// one more round trip. Like inTx, it runs again, a few times at most, when
// decide returns errRace or PostgreSQL broke a deadlock.
func (s *Store) lockThenWrite(ctx context.Context, lock string, args []any, decide func(pgx.Row) (*pgx.Batch, error)) error {
	return again(func() error { return s.lockThenWriteOnce(ctx, lock, args, decide) })
}

func (s *Store) lockThenWriteOnce(ctx context.Context, lock string, args []any, decide func(pgx.Row) (*pgx.Batch, error)) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left inside a transaction (the rollback below could
	// not be sent) is closed by Release, not put back in the pool.
	defer conn.Release()
	defer func() {
		if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_, _ = conn.Exec(rctx, "ROLLBACK")
		}
	}()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lock, args...)
	br := conn.SendBatch(ctx, b)
	_, err = br.Exec()
	var writes *pgx.Batch
	if err == nil {
		writes, err = decide(br.QueryRow())
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if writes == nil {
		writes = &pgx.Batch{}
	}
	// A write that fails makes the server skip the rest of the pipeline,
	// COMMIT included: the transaction is then rolled back above.
	writes.Queue("COMMIT")
	return conn.SendBatch(ctx, writes).Close()
}

// SQLSTATE codes the store acts on.
const (
	codeForeignKey     = "23503" // foreign_key_violation
	codeUnique         = "23505" // unique_violation
	codeDeadlock       = "40P01" // deadlock_detected
	codeQueryCanceled  = "57014" // query_canceled: the statement timeout
	codeAdminShutdown  = "57P01"
	codeCrashShutdown  = "57P02"
	codeCannotConnect  = "57P03" // the server is starting up or shutting down
	codeTooManyClients = "53300"
)

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// fail adds context to a failure of the database itself. When the server
// could not be reached or did not answer in time it wraps
// phoneauth.ErrUnavailable and drops the pool's idle connections: what cut
// one connection has most likely cut the others, and the pool then opens
// fresh ones once the server is back instead of failing on each stale one.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if phoneauth.IsKind(err) {
		return err // an answer, not a failure
	}
	if !unavailable(ctx, err) {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if !hasCode(err, codeQueryCanceled) {
		s.pool.Reset()
	}
	if errors.Is(context.Cause(ctx), errNoAnswer) {
		return fmt.Errorf("postgres: %s: %w: no answer within %s: %w", op, phoneauth.ErrUnavailable, s.callTimeout, err)
	}
	return fmt.Errorf("postgres: %s: %w: %w", op, phoneauth.ErrUnavailable, err)
}

// unavailable reports whether err means the database could not be reached
// or did not answer in time, as opposed to refusing the request or the
// caller giving up.
func unavailable(ctx context.Context, err error) bool {
	if errors.Is(context.Cause(ctx), errNoAnswer) {
		return true
	}
	if ctx.Err() != nil {
		return false // the caller cancelled: the database is not to blame
	}
	// Checked first: a ConnectError holding a PgError is a refusal such
	// as a wrong password, not an outage.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeQueryCanceled, codeAdminShutdown, codeCrashShutdown, codeCannotConnect, codeTooManyClients:
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection_exception
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed)
}
