// Command phoneauth runs the phone sign-in service.
//
//	phoneauth [serve]       run the HTTP server (the default)
//	phoneauth migrate       apply the database migrations and exit
//	phoneauth version       print the version
//	phoneauth healthcheck   exit 0 if the server answers GET /healthz
//	phoneauth users ...     list, show, delete or unlock accounts
//	phoneauth sessions ...  list or revoke an account's sessions
//	phoneauth audit ...     list the audit trail
//	phoneauth bench ...     load a running server and report flows/s and latencies
//	phoneauth seed ...      create verified accounts in bulk, for bench
//	phoneauth limit ...     measure the database's durable-write limit, for bench
//	phoneauth help          list every command
//
// Configuration is read from PHONEAUTH_* environment variables; see the
// README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis logs through one logger per process (v9 has no per-client
	// option), so main, which owns the process, points it at stderr in
	// the configured format; run sets nothing global and tests run it in
	// parallel. An invalid format stops run before Redis is dialled.
	level, _ := logLevel(os.Getenv("PHONEAUTH_LOG_LEVEL"))
	goredis.SetLogger(redisLogger{newLogger(os.Getenv("PHONEAUTH_LOG_FORMAT"), level, os.Stderr)})
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "phoneauth:", err)
		os.Exit(1)
	}
}

const usage = `usage: phoneauth [command] [arguments]

  serve         run the HTTP server (default)
  migrate       apply database migrations and exit
  version       print the version
  healthcheck   exit 0 if the server PHONEAUTH_ADDR names answers GET /healthz
                with 200 within 3 s, else 1 (a container HEALTHCHECK)
  help          print this list

Operator's commands, on the database PHONEAUTH_DATABASE_URL names; each
prints an aligned table, or one JSON array with --json:

  users list                      list every account
  users show PHONE|USER_ID        show one account
  users delete PHONE|USER_ID      delete an account with its codes and sessions
  users unlock PHONE|USER_ID      clear an account's lockout and failed code checks
  sessions list PHONE|USER_ID     list an account's sessions
  sessions revoke SESSION_ID      revoke one session: its tokens are refused
  sessions revoke --all PHONE|USER_ID
                                  revoke every live session of an account
  audit [--user PHONE|USER_ID] [--since DURATION] [--kind KIND] [--limit N]
                                  list the audit trail, newest first: the
                                  events of an account, of the last DURATION
                                  (as 24h), of one kind, at most N (100)

users delete, users unlock and sessions revoke record an admin event.

PHONE is a number in any form the API accepts, read in
PHONEAUTH_DEFAULT_REGION when it has no +. An unknown user or session
exits with status 1.

Benchmarking (see README.md, Performance):

  bench [-c N] [-d DURATION] [--warmup DURATION] [--mix full|login|refresh|guess]
        [--url URL] [--json]      drive a running server with N virtual users and
                                  report flows/s, latencies, errors and SMS; it is
                                  the server's SMS webhook (--webhook-addr)
  bench --server-env              print the server's PHONEAUTH_* settings for bench
  seed --users N [--prefix BLOCK] create N verified accounts on the configured
                                  database, for bench --mix login --seeded-prefix
  limit [-c N] [-d DURATION] [--json]
                                  measure the configured database's durable-write
                                  limit (N clients committing one-row inserts on
                                  scratch data) in commits and full flows a second

Configuration comes from PHONEAUTH_* environment variables (see README.md).
`

// run is the whole program, with its outside world passed in so tests can
// run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "migrate":
		return migrate(ctx, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, getenv, stdout)
	case "users":
		return admin(ctx, "users", userCommands, args[1:], getenv, stdout, stderr)
	case "sessions":
		return admin(ctx, "sessions", sessionCommands, args[1:], getenv, stdout, stderr)
	case "audit":
		return auditCommand(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr)
	case "seed":
		return seedCommand(ctx, args[1:], getenv, stdout, stderr)
	case "limit":
		return limitCommand(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "phoneauth", buildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return errors.New("unknown command " + cmd)
	}
}

// buildRevision returns the VCS revision the binary was built from, or
// "unknown" (as under go test, or a build outside a checkout).
func buildRevision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// newFlagSet returns the flag set of command name: its errors go to
// stderr, and so does its usage, head followed by the flags.
func newFlagSet(name, head string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, head)
		fs.PrintDefaults()
	}
	return fs
}
