package sms

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Console)(nil)

// Console is the development provider: it sends nothing and logs each
// message instead, so a developer can read the code from the log.
//
// Console is the ONLY place in the service where a one-time code may be
// written to a log. Never configure it in production: a service that
// uses it should listen on loopback only (see CheckConsoleAddr).
type Console struct {
	log *slog.Logger
}

// NewConsole returns a Console that logs to log, or to slog.Default if log
// is nil.
func NewConsole(log *slog.Logger) *Console {
	if log == nil {
		log = slog.Default()
	}
	return &Console{log: log}
}

// Send logs m at Info level as one line with its recipient, purpose and
// text, code included. It never fails.
func (c *Console) Send(ctx context.Context, m phoneauth.Message) error {
	c.log.InfoContext(ctx, "sms (console, not sent)",
		slog.String("to", m.To),
		slog.String("purpose", string(m.Purpose)),
		slog.String("text", m.Text),
	)
	return nil
}

// CheckConsoleAddr returns an error unless addr, the host:port a service
// with a Console listens on, is on loopback: an address of 127.0.0.0/8 or
// ::1, or localhost. A service reachable from other machines is no
// development setup, and Console would write its users' codes to the log.
// The text is a predicate on the address, to follow the name of the
// setting that holds it, as in `PHONEAUTH_ADDR "0.0.0.0:8080" is not a
// loopback address, ...`.
func CheckConsoleAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not host:port")
	}
	if !loopback(host) {
		return errors.New("is not a loopback address, and the console SMS provider writes every code to the log: it is for development only")
	}
	return nil
}

// loopback reports whether host, a host name or IP address, is this
// machine's own: an address of 127.0.0.0/8 or ::1, or the name localhost,
// which resolvers keep for loopback (RFC 6761).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
