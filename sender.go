package phoneauth

import (
	"context"
	"fmt"
	"time"
)

// Sender delivers an SMS. Implementations live in sms/, one per provider.
// Send returns an error when the provider did not accept the message; the
// service reports that as ErrSendFailed, unless the error wraps
// ErrUnavailable (the provider took nothing and may later), which it
// passes on. An error wrapping ErrMaybeSent says the message may have
// gone out: the service then keeps it counted against the SMS budgets.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Message is one SMS with a one-time code.
type Message struct {
	// ID names the message, the same for every try of it, so that a
	// gateway can tell a retry from a new message. Random; it is not the
	// challenge's ID, which a client may hold as its token.
	ID        string
	To        string // E.164
	Text      string // the text a person reads, code included
	Code      string
	Purpose   Purpose
	ExpiresIn time.Duration
}

// Texts writes the text of each SMS from its purpose, its code and how
// long the code lasts. Implementations live in sms/ (templates, autofill
// lines); a Service without one sends DefaultText.
type Texts interface {
	Text(p Purpose, code string, ttl time.Duration) string
}

// DefaultText is the text of an SMS when nothing else is configured, as
// "Your verification code is 123456. It expires in 5 minutes."
func DefaultText(code string, ttl time.Duration) string {
	minutes := int(ttl.Round(time.Minute) / time.Minute)
	if minutes <= 1 {
		return fmt.Sprintf("Your verification code is %s. It expires in %d seconds.", code, int(ttl.Seconds()))
	}
	return fmt.Sprintf("Your verification code is %s. It expires in %d minutes.", code, minutes)
}

// defaultTexts is the Texts of a Service built without one.
type defaultTexts struct{}

func (defaultTexts) Text(_ Purpose, code string, ttl time.Duration) string {
	return DefaultText(code, ttl)
}
