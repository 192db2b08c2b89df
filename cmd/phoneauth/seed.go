package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/sqlite"
)

// seedStore is a database phoneauth seed fills.
type seedStore interface {
	phoneauth.Store
	phoneauth.Seeder
}

// seedReport is what phoneauth seed --json prints.
type seedReport struct {
	Users   int64   `json:"users"`
	Prefix  string  `json:"prefix"`
	First   string  `json:"first"`
	Last    string  `json:"last"`
	Seconds float64 `json:"seconds"`
}

// seedCommand runs phoneauth seed: it creates --users verified accounts
// on the database PHONEAUTH_DATABASE_URL names, the numbers of a block
// from its first on, in one transaction.
func seedCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("seed", "usage: phoneauth seed --users N [--prefix BLOCK] [--json]\n\n"+
		"  create N verified accounts on the configured database, for phoneauth bench\n\nflags:\n", stderr)
	users := fs.Int("users", 0, fmt.Sprintf("how many verified accounts to create (1 to %d)", blockSize))
	prefix := fs.String("prefix", "", "the block of numbers, as +14152 (default: a random one whose first number has no account)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("seed: unexpected argument %q", fs.Arg(0))
	}
	if *users < 1 || *users > blockSize {
		fs.Usage()
		return fmt.Errorf("seed: --users %d must be between 1 and %d (one block of numbers)", *users, blockSize)
	}
	var blk numberBlock
	if *prefix != "" {
		b, err := parseBlock(*prefix)
		if err != nil {
			return fmt.Errorf("seed: --prefix %w", err)
		}
		blk = b
	}
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	s, closeDB, err := openSeed(ctx, c)
	if err != nil {
		return err
	}
	defer closeDB()
	if blk == "" {
		if blk, err = freeBlock(ctx, s); err != nil {
			return err
		}
	}

	start := time.Now()
	created := start.UTC()
	n, err := s.SeedUsers(ctx, func(yield func(phoneauth.User) bool) {
		for i := range *users {
			if !yield(phoneauth.User{ID: uuid.NewString(), Phone: blk.number(i), Verified: true, CreatedAt: created}) {
				return
			}
		}
	})
	if errors.Is(err, phoneauth.ErrUserExists) {
		return fmt.Errorf("seed: %w: some of the numbers %s to %s have accounts already; nothing was created: choose another --prefix", err, blk.number(0), blk.number(*users-1))
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	elapsed := time.Since(start)
	r := seedReport{Users: n, Prefix: string(blk), First: blk.number(0), Last: blk.number(int(n) - 1), Seconds: elapsed.Seconds()}
	if *asJSON {
		return printJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "seeded %d verified accounts, %s to %s, in %s (%.0f a second)\n",
		n, r.First, r.Last, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	fmt.Fprintf(stdout, "sign them in with: phoneauth bench --mix login --seeded-prefix %s --seeded-users %d\n", blk, n)
	return nil
}

// openSeed opens and migrates the database c names, creating a SQLite
// file that does not exist: seeding a new database for a benchmark is
// the usual case.
func openSeed(ctx context.Context, c config) (seedStore, func(), error) {
	if c.postgres() {
		s, err := postgres.Open(ctx, c.DatabaseURL, c.DB)
		if err != nil {
			return nil, nil, err
		}
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, nil, fmt.Errorf("migrate: %w", err)
		}
		return s, s.Close, nil
	}
	s, err := sqlite.Open(ctx, sqlitePath(c.DatabaseURL))
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return s, func() { _ = s.Close() }, nil
}

// freeBlock returns a block, in a random order, whose first number has
// no account: seed and bench both start a block there.
func freeBlock(ctx context.Context, s phoneauth.Store) (numberBlock, error) {
	for _, b := range shuffledBlocks() {
		_, err := s.UserByPhone(ctx, b.number(0))
		if errors.Is(err, phoneauth.ErrUserNotFound) {
			return b, nil
		}
		if err != nil {
			return "", fmt.Errorf("seed: %w", err)
		}
	}
	return "", errors.New("seed: every block of numbers has accounts already")
}
