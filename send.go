package phoneauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// send spends one unit of the SMS budget and sends code to phone. When
// the provider refuses the message the unit is given back: nothing was
// sent. Errors: *ThrottledError (LimitSMSBudget), ErrSendFailed, or the
// Sender's own error when it wraps ErrUnavailable (it took nothing now).
func (s *Service) send(ctx context.Context, phone, code string, p Purpose) (err error) {
	var undo undo
	defer undo.run(ctx, &err)
	if err := s.spendBudget(ctx, &undo); err != nil {
		return err
	}
	m := Message{
		To:        phone,
		Text:      messageText(code, s.policy.CodeTTL),
		Code:      code,
		Purpose:   p,
		ExpiresIn: s.policy.CodeTTL,
	}
	if err := s.sender.Send(ctx, m); err != nil {
		if errors.Is(err, ErrUnavailable) {
			return fmt.Errorf("send sms: %w", err)
		}
		return fmt.Errorf("%w: %w", ErrSendFailed, err)
	}
	return nil
}

func messageText(code string, ttl time.Duration) string {
	minutes := int(ttl.Round(time.Minute) / time.Minute)
	if minutes <= 1 {
		return fmt.Sprintf("Your verification code is %s. It expires in %d seconds.", code, int(ttl.Seconds()))
	}
	return fmt.Sprintf("Your verification code is %s. It expires in %d minutes.", code, minutes)
}
