// Package phoneauthtest holds test doubles for the outside effects of
// phoneauth: an SMS sender that records messages and fails on demand.
// Storage is never faked: tests use a real SQLite file.
package phoneauthtest

import (
	"context"
	"errors"
	"sync"

	"github.com/phoneauth/phoneauth"
)

// ErrSend is the error Sender returns while failing.
var ErrSend = errors.New("phoneauthtest: send failed on purpose")

// Sender records every message it is asked to send. Safe for concurrent use.
type Sender struct {
	mu   sync.Mutex
	sent []phoneauth.Message
	last map[string]string // phone -> last code
	fail bool
}

// Send records m, or returns ErrSend while Fail(true) is in effect.
func (s *Sender) Send(ctx context.Context, m phoneauth.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return ErrSend
	}
	s.sent = append(s.sent, m)
	if s.last == nil {
		s.last = map[string]string{}
	}
	s.last[m.To] = m.Code
	return nil
}

// Fail makes later sends fail (true) or succeed (false).
func (s *Sender) Fail(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// Sent returns a copy of the messages sent so far.
func (s *Sender) Sent() []phoneauth.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]phoneauth.Message(nil), s.sent...)
}

// LastCode returns the code of the last message sent to phone (E.164), or
// "" if none was.
func (s *Sender) LastCode(phone string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[phone]
}
