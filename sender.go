package phoneauth

import (
	"context"
	"time"
)

// Sender delivers an SMS. Implementations live in sms/, one per provider.
// Send returns an error when the provider did not accept the message; the
// service reports that as ErrSendFailed, unless the error wraps
// ErrUnavailable (the provider took nothing and may later), which it
// passes on.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Message is one SMS with a one-time code.
type Message struct {
	To        string // E.164
	Text      string // the text a person reads, code included
	Code      string
	Purpose   Purpose
	ExpiresIn time.Duration
}
