package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phoneauth/phoneauth/postgres"
	"github.com/phoneauth/phoneauth/sqlite"
)

// commitsPerFlow is how many commits a full flow of phoneauth bench makes
// (register, verify, login, login/verify), the unit of the limit.
const commitsPerFlow = 4

// commitProbe commits one row at a time on a scratch table of the
// configured database: sqlite.CommitProbe, postgres.CommitProbe.
type commitProbe interface {
	Insert(ctx context.Context) error
	Close() error
}

// limitReport is what phoneauth limit --json prints.
type limitReport struct {
	Backend     string  `json:"backend"`
	Clients     int     `json:"clients"`
	Seconds     float64 `json:"seconds"`
	Commits     int64   `json:"commits"`
	CommitsPerS float64 `json:"commits_per_s"`
	FlowsPerS   float64 `json:"flows_per_s"`
}

// limitCommand runs phoneauth limit: the durable-write limit of the
// database PHONEAUTH_DATABASE_URL names, measured beside it with -c
// clients for -d, in commits a second and in full flows (four commits)
// a second, the figure phoneauth bench's full mix is compared against.
func limitCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("limit", "usage: phoneauth limit [-c N] [-d DURATION] [--json]\n\n"+
		"  measure the durable-write limit of the configured database: N clients\n"+
		"  committing one-row inserts into a scratch table (PostgreSQL) or a scratch\n"+
		"  file beside the database (SQLite, its pragmas, one write connection)\n\nflags:\n", stderr)
	clients := fs.Int("c", 32, "clients committing at once (1 to 1000)")
	d := fs.Duration("d", 10*time.Second, "how long to measure")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		fs.Usage()
		return fmt.Errorf("limit: unexpected argument %q", fs.Arg(0))
	case *clients < 1 || *clients > 1000:
		fs.Usage()
		return fmt.Errorf("limit: -c %d must be between 1 and 1000", *clients)
	case *d <= 0:
		fs.Usage()
		return fmt.Errorf("limit: -d %s must be positive", *d)
	}
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	var p commitProbe
	backend := "sqlite"
	if c.postgres() {
		backend = "postgres"
		p, err = postgres.NewCommitProbe(ctx, c.DatabaseURL, c.DB, int32(*clients))
	} else {
		p, err = sqlite.NewCommitProbe(ctx, filepath.Dir(sqlitePath(c.DatabaseURL)))
	}
	if err != nil {
		return fmt.Errorf("limit: %w", err)
	}
	n, elapsed, err := measureCommits(ctx, p, *clients, *d)
	// Close's error names what it could not remove, whatever happened.
	if err := errors.Join(err, p.Close()); err != nil {
		return fmt.Errorf("limit: %w", err)
	}
	r := limitReport{Backend: backend, Clients: *clients, Seconds: elapsed.Seconds(), Commits: n}
	r.CommitsPerS = float64(n) / elapsed.Seconds()
	r.FlowsPerS = r.CommitsPerS / commitsPerFlow
	if *asJSON {
		return printJSON(stdout, r)
	}
	who := fmt.Sprintf("%d clients", r.Clients)
	if r.Clients == 1 {
		who = "1 client"
	}
	fmt.Fprintf(stdout, "%s: %.0f durable commits a second from %s over %s; at %d commits a full flow, %.0f flows a second\n",
		backend, r.CommitsPerS, who, elapsed.Round(time.Millisecond), commitsPerFlow, r.FlowsPerS)
	return nil
}

// measureCommits runs clients goroutines committing through p until d has
// passed, and returns how many commits they made and in how long. The
// first error stops them all and is returned; so is ctx's, when it ends.
func measureCommits(ctx context.Context, p commitProbe, clients int, d time.Duration) (int64, time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var n atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if err := p.Insert(ctx); err != nil {
					cancel(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), time.Since(start), context.Cause(ctx)
}
