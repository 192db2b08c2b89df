package sms

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*Console)(nil)

// Console is the development provider: it sends nothing and logs each
// message instead, so a developer can read the code from the log.
//
// Console is the ONLY place in the service where a one-time code may be
// written to a log. Never configure it in production.
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
