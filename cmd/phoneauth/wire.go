package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/httpapi"
	"github.com/phoneauth/phoneauth/inmem"
	"github.com/phoneauth/phoneauth/metrics"
	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/redis"
	"github.com/phoneauth/phoneauth/sqlite"
	"github.com/phoneauth/phoneauth/token"
)

// newLogger returns a logger writing to w in format ("json", or text)
// the lines of level and above.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// migrate applies the pending migrations to the database
// PHONEAUTH_DATABASE_URL names. Unlike serve it waits for nothing: a
// deploy step should fail rather than hang.
func migrate(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if err := migrateDatabase(ctx, c); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func migrateDatabase(ctx context.Context, c config) error {
	if c.postgres() {
		s, err := postgres.Open(ctx, c.DatabaseURL, c.DB)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Migrate(ctx)
	}
	s, err := sqlite.Open(ctx, sqlitePath(c.DatabaseURL))
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Migrate(ctx)
}

// jwtSecret returns the configured secret or, for SQLite, one generated on
// first start and kept in a 0600 file beside the database. The file holds
// the secret exactly as PHONEAUTH_JWT_SECRET (or flask-jwt-extended's
// JWT_SECRET_KEY) would: 64 hex characters, used as they are.
func jwtSecret(c config, log *slog.Logger) ([]byte, error) {
	if len(c.JWTSecret) > 0 {
		return c.JWTSecret, nil
	}
	path := sqlitePath(c.DatabaseURL) + ".jwt-secret"
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		secret := bytes.TrimSpace(b)
		if token.CheckSecret(secret) != nil {
			return nil, fmt.Errorf("secret file %s is damaged: delete it to generate a new one (every token is then void)", path)
		}
		log.Warn("PHONEAUTH_JWT_SECRET is not set: using the generated secret beside the database; set it in production", "file", path)
		return secret, nil
	case errors.Is(err, fs.ErrNotExist):
		random := make([]byte, 32)
		if _, err := rand.Read(random); err != nil {
			return nil, err
		}
		secret := []byte(hex.EncodeToString(random))
		if err := writeSecret(path, string(secret)+"\n"); err != nil {
			return nil, fmt.Errorf("store generated secret: %w", err)
		}
		log.Warn("PHONEAUTH_JWT_SECRET is not set: generated a random secret and stored it beside the database; set it in production", "file", path)
		return secret, nil
	default:
		return nil, fmt.Errorf("read secret file: %w", err)
	}
}

// writeSecret creates path with mode 0600, durably, failing if it exists.
func writeSecret(path, content string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// redisLogger sends go-redis's own messages (failed dials while Redis is
// down) to our log, so every line stays in the configured format. go-redis
// has one logger per process, so main installs it.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// backend is where the service keeps its state: the store, the limiter
// that holds the counters, the jobs that delete expired rows, and one
// close for all of it.
type backend struct {
	store   phoneauth.Store
	limiter phoneauth.Limiter
	// storeName and limiterName name them for /readyz: limiterName is
	// empty when the counters live in the store's database or in memory,
	// which are no dependency of their own.
	storeName, limiterName string
	// pruners are the jobs that delete the limiter's expired counters,
	// if it has any; the store's own (pruneExpired) is made from store.
	pruners []pruner
	close   func()
}

// observed returns b with the time of every store and limiter operation
// measured in m, the store's pruning included.
func (b backend) observed(m *metrics.Registry) backend {
	b.store = m.Store(b.store)
	b.limiter = m.Limiter(b.limiter)
	return b
}

// openBackend opens the database PHONEAUTH_DATABASE_URL names, migrated,
// with the counters in Redis when PHONEAUTH_REDIS_URL is set, else in the
// database's own place for them. A SQLite file opens or does not, so its
// failure is final; PostgreSQL and Redis may come up after us and are
// waited for until ctx is done. On error nothing is left open.
func openBackend(ctx context.Context, c config, log *slog.Logger) (backend, error) {
	if c.postgres() {
		return openPostgres(ctx, c, log)
	}
	return openSQLite(ctx, c, log)
}

// openSQLite opens the SQLite file once. Without Redis the counters live in
// this process's memory: one instance per file by construction.
func openSQLite(ctx context.Context, c config, log *slog.Logger) (backend, error) {
	s, err := sqlite.OpenWith(ctx, sqlitePath(c.DatabaseURL), sqlite.Options{AuditRetention: c.Policy.AuditRetention})
	if err != nil {
		return backend{}, fmt.Errorf("open database: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return backend{}, fmt.Errorf("migrate: %w", err)
	}
	b := backend{
		store:     s,
		storeName: "sqlite",
		close:     func() { _ = s.Close() },
	}
	if c.RedisURL != "" {
		return b.withRedis(ctx, c, log)
	}
	b.limiter = inmem.New()
	return b, nil
}

// openPostgres waits for PostgreSQL. Without Redis the counters live in its
// limits table, shared by a fleet and pruned with the rest.
func openPostgres(ctx context.Context, c config, log *slog.Logger) (backend, error) {
	var s *postgres.Store
	db := c.DB
	db.AuditRetention = c.Policy.AuditRetention // Prune keeps the audit trail this long
	err := retry(ctx, log, "database", func() error {
		opened, err := postgres.Open(ctx, c.DatabaseURL, db)
		if err != nil {
			return fmt.Errorf("open database: %w", err)
		}
		if err := opened.Migrate(ctx); err != nil {
			opened.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		s = opened
		return nil
	})
	if err != nil {
		return backend{}, err
	}
	b := backend{
		store:     s,
		storeName: "postgres",
		close:     s.Close,
	}
	if c.RedisURL != "" {
		return b.withRedis(ctx, c, log)
	}
	l := s.Limiter()
	b.limiter = l
	b.pruners = append(b.pruners, l.Prune)
	return b, nil
}

// withRedis returns b with its counters in Redis, waited for until ctx is
// done. On error it closes b.
func (b backend) withRedis(ctx context.Context, c config, log *slog.Logger) (backend, error) {
	var l *redis.Limiter
	err := retry(ctx, log, "redis", func() error {
		opened, err := redis.Open(ctx, c.RedisURL, redis.Options{Prefix: c.RedisPrefix})
		if err != nil {
			return fmt.Errorf("open redis: %w", err)
		}
		l = opened
		return nil
	})
	if err != nil {
		b.close()
		return backend{}, err
	}
	closeStore := b.close
	b.limiter, b.limiterName = l, "redis"
	b.close = func() {
		_ = l.Close()
		closeStore()
	}
	return b, nil
}

// serve runs the HTTP server until ctx is done, then drains in-flight
// requests.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	c, err := loadConfig(getenv)
	if err = errors.Join(err, c.checkServe()); err != nil {
		return err
	}
	log := newLogger(c.LogFormat, c.LogLevel, stderr)
	b, err := openBackend(ctx, c, log)
	if err != nil {
		return err
	}
	defer b.close()
	var m *metrics.Registry
	if c.MetricsAddr != "" {
		m = metrics.New(metrics.Build{Version: buildVersion(), Revision: buildRevision()})
		b = b.observed(m)
	}
	svc, err := newService(c, log, b, m)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := newServer(c, log, svc, m)
	// Deferred after b.close, so it runs first: the pruners are done
	// before the store closes, however serve returns.
	stopPruning := startPruning(ctx, log, append([]pruner{pruneExpired(b.store)}, b.pruners...))
	defer stopPruning()
	if m != nil {
		mln, err := net.Listen("tcp", c.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		stopMetrics := serveMetrics(log, m, mln)
		defer stopMetrics()
		log.Info("serving metrics", "addr", mln.Addr().String())
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", buildVersion(), "sms", strings.Join(c.SMS.Providers, ","), "redis", c.RedisURL != "")
	return serveUntilDone(ctx, log, srv, ln)
}

// serveMetrics serves GET /metrics of m on ln, a listener of its own that
// the API never answers on, until stop is called.
func serveMetrics(log *slog.Logger, m *metrics.Registry, ln net.Listener) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	})
	return func() {
		_ = srv.Close()
		wg.Wait()
	}
}

// newService builds the flows on b, with the SMS provider and the token
// signer c names.
func newService(c config, log *slog.Logger, b backend, m *metrics.Registry) (*phoneauth.Service, error) {
	sender, err := newSender(c.SMS, log, m)
	if err != nil {
		return nil, fmt.Errorf("sms provider: %w", err)
	}
	texts, err := newTexts(c.SMS, c.Policy, log)
	if err != nil {
		return nil, err
	}
	secret, err := jwtSecret(c, log)
	if err != nil {
		return nil, err
	}
	signer, err := token.New(secret, c.Policy.AccessTTL, c.Policy.RefreshTTL)
	if err != nil {
		return nil, err
	}
	deps := phoneauth.Deps{
		Store:            b.store,
		StoreName:        b.storeName,
		Sender:           sender,
		Texts:            texts,
		Limiter:          b.limiter,
		LimiterName:      b.limiterName,
		Tokens:           signer,
		Policy:           c.Policy,
		Region:           c.Region,
		CodeKey:          phoneauth.DeriveKey(secret, "code-hash"),
		Log:              log,
		TestNumbers:      c.TestNumbers,
		TestNumbersUntil: c.TestNumbersUntil,
	}
	if m != nil {
		deps.Metrics = m
	}
	svc, err := phoneauth.New(deps)
	if err != nil {
		return nil, err
	}
	if n := svc.TestNumbersActive(time.Now()); n > 0 {
		log.Warn("test numbers are active: they get no SMS, take their fixed codes and skip the SMS region, type and budget checks",
			"count", n, "until", c.TestNumbersUntil.UTC().Format(time.RFC3339))
	}
	return svc, nil
}

// newServer returns the HTTP server of svc, with timeouts that keep a slow
// client from holding a connection.
func newServer(c config, log *slog.Logger, svc *phoneauth.Service, m *metrics.Registry) *http.Server {
	o := httpapi.Options{TrustedProxies: c.TrustedProxies, Log: log}
	if m != nil {
		o.Metrics = m // never a typed nil
	}
	return &http.Server{
		Handler:           httpapi.New(svc, o),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveUntilDone serves on ln until ctx is done, then lets in-flight
// requests finish (up to 15 s). It returns early if the server fails.
func serveUntilDone(ctx context.Context, log *slog.Logger, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// pruneEvery is how often serve deletes expired rows; pruneMargin keeps
// rows past their expiry, so clocks that differ between instances never
// remove a row another instance still honours, a late try of an expired
// code is still told the code expired, and an unused login code throttles
// for as long as phoneauth.MaxLoginThrottle allows (TestPruneMargin).
const (
	pruneEvery  = 10 * time.Minute
	pruneMargin = time.Hour
)

// pruner deletes expired rows and says how many.
type pruner func(ctx context.Context) (int64, error)

// pruneExpired is the pruner of s: what expired pruneMargin ago.
func pruneExpired(s phoneauth.Store) pruner {
	return func(ctx context.Context) (int64, error) { return s.Prune(ctx, time.Now().Add(-pruneMargin)) }
}

// startPruning runs prune in the background until ctx is done or stop is
// called. stop returns once prune has, so nothing prunes a closed store.
func startPruning(ctx context.Context, log *slog.Logger, pruners []pruner) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { prune(ctx, log, pruners...) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// prune runs every pruner now and then until ctx is done. Every instance
// of a fleet may run it: the deletes are idempotent.
func prune(ctx context.Context, log *slog.Logger, pruners ...pruner) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range pruners {
			n, err := p(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("prune expired rows", "err", err, "deleted", n)
			case n > 0:
				log.Info("pruned expired rows", "deleted", n)
			}
		}
		t.Reset(pruneEvery)
	}
}

// retry runs fn until it succeeds, fails for a reason other than an
// unreachable dependency, or ctx is done, waiting longer after each failure
// (up to 10 s). A service started before its database or Redis waits for
// them instead of exiting.
func retry(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	wait := 500 * time.Millisecond
	for {
		err := fn()
		if err == nil || !errors.Is(err, phoneauth.ErrUnavailable) {
			return err
		}
		log.Warn("dependency unavailable at start, retrying", "dependency", what, "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s unavailable at start: %w", what, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}
