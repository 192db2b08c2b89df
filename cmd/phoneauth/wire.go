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
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/httpapi"
	"github.com/phoneauth/phoneauth/inmem"
	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/redis"
	"github.com/phoneauth/phoneauth/sms"
	"github.com/phoneauth/phoneauth/sqlite"
	"github.com/phoneauth/phoneauth/token"
)

func newLogger(c config, w io.Writer) *slog.Logger {
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// store is what serve needs of a storage backend beyond phoneauth.Store.
type store interface {
	phoneauth.Store
	Migrate(ctx context.Context) error
}

// openStore opens the database PHONEAUTH_DATABASE_URL names and returns it
// with its closer.
func openStore(ctx context.Context, c config) (store, func(), error) {
	if strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		s, err := sqlite.Open(ctx, sqlitePath(c.DatabaseURL))
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	}
	s, err := postgres.Open(ctx, c.DatabaseURL, postgres.Options{
		MaxConns:         c.DBMaxConns,
		StatementTimeout: c.DBStmtTimeout,
	})
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}

func migrate(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	s, closeStore, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
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
		if len(secret) < minSecret {
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
// down) to our log, so every line stays in the configured format.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// newLimiter returns where the counters live: Redis when configured, else
// the PostgreSQL database (shared by a fleet), else this process's memory
// (SQLite: one instance by construction).
func newLimiter(ctx context.Context, c config, log *slog.Logger, s store) (phoneauth.Limiter, func(), error) {
	if c.RedisURL != "" {
		goredis.SetLogger(redisLogger{log})
		l, err := redis.Open(ctx, c.RedisURL, redis.Options{Prefix: c.RedisPrefix})
		if err != nil {
			return nil, nil, err
		}
		return l, func() { _ = l.Close() }, nil
	}
	if pg, ok := s.(*postgres.Store); ok {
		return pg.Limiter(), func() {}, nil
	}
	return inmem.New(), func() {}, nil
}

func newSender(c config, log *slog.Logger) (phoneauth.Sender, error) {
	if c.SMSProvider == "webhook" {
		return sms.NewWebhook(sms.WebhookConfig{URL: c.WebhookURL, Secret: c.WebhookSecret})
	}
	return sms.NewConsole(log), nil
}

// serve runs the HTTP server until ctx is done, then drains in-flight
// requests.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	c, err := loadConfig(getenv)
	if err = errors.Join(err, c.checkServe()); err != nil {
		return err
	}
	log := newLogger(c, stderr)
	var s store
	closeStore := func() {}
	defer func() { closeStore() }()
	// A PostgreSQL server may come up after us; a SQLite file opens or
	// does not, so its failure is final.
	waitFor := func(_ string, fn func() error) error { return fn() }
	if c.postgres() {
		waitFor = func(what string, fn func() error) error { return retry(ctx, log, what, fn) }
	}
	err = waitFor("database", func() error {
		opened, closer, err := openStore(ctx, c)
		if err != nil {
			return fmt.Errorf("open database: %w", err)
		}
		if err := opened.Migrate(ctx); err != nil {
			closer()
			return fmt.Errorf("migrate: %w", err)
		}
		s, closeStore = opened, closer
		return nil
	})
	if err != nil {
		return err
	}
	var limiter phoneauth.Limiter
	closeLimiter := func() {}
	defer func() { closeLimiter() }()
	err = retry(ctx, log, "redis", func() error {
		l, closer, err := newLimiter(ctx, c, log, s)
		if err != nil {
			return fmt.Errorf("open redis: %w", err)
		}
		limiter, closeLimiter = l, closer
		return nil
	})
	if err != nil {
		return err
	}
	sender, err := newSender(c, log)
	if err != nil {
		return fmt.Errorf("sms provider: %w", err)
	}
	secret, err := jwtSecret(c, log)
	if err != nil {
		return err
	}
	signer, err := token.New(secret, c.Policy.AccessTTL, c.Policy.RefreshTTL)
	if err != nil {
		return err
	}
	svc, err := phoneauth.New(phoneauth.Deps{
		Store:   s,
		Sender:  sender,
		Limiter: limiter,
		Tokens:  signer,
		Policy:  c.Policy,
		Region:  c.Region,
		CodeKey: phoneauth.DeriveKey(secret, "code-hash"),
		Log:     log,
	})
	if err != nil {
		return err
	}
	api := httpapi.New(svc, httpapi.Options{TrustedProxies: c.TrustedProxies, Log: log})

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	pruners := []pruner{func(ctx context.Context) (int64, error) { return s.Prune(ctx, time.Now().Add(-pruneMargin)) }}
	if pl, ok := limiter.(*postgres.Limiter); ok {
		pruners = append(pruners, pl.Prune)
	}
	go prune(ctx, log, pruners...)
	log.Info("listening", "addr", ln.Addr().String(), "version", buildVersion(), "sms", c.SMSProvider, "redis", c.RedisURL != "")
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
// remove a row another instance still honours, and a late try of an
// expired code is still told the code expired.
const (
	pruneEvery  = 10 * time.Minute
	pruneMargin = time.Hour
)

// pruner deletes expired rows and says how many.
type pruner func(ctx context.Context) (int64, error)

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
