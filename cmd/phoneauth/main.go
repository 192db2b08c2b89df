// Command phoneauth runs the phone sign-in service.
//
//	phoneauth [serve]       run the HTTP server (the default)
//	phoneauth migrate       apply the database migrations and exit
//	phoneauth version       print the version
//	phoneauth healthcheck   exit 0 if the server answers GET /healthz
//
// Configuration is read from PHONEAUTH_* environment variables; see the
// README.
package main

import (
	"context"
	"errors"
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

const usage = `usage: phoneauth [serve | migrate | version | healthcheck]

  serve         run the HTTP server (default)
  migrate       apply database migrations and exit
  version       print the version
  healthcheck   exit 0 if the server PHONEAUTH_ADDR names answers GET /healthz
                with 200 within 3 s, else 1 (a container HEALTHCHECK)

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
