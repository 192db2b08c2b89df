package phoneauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// send spends one SMS of each budget and sends code to phone. When the
// provider refuses the message the budgets are given back: nothing was
// sent. A test number is sent nothing and spends no budget. Errors:
// *ThrottledError (the SMS budgets), ErrSendFailed, or the Sender's own
// error when it wraps ErrUnavailable (it took nothing now).
func (s *Service) send(ctx context.Context, phone, code string, p Purpose) (err error) {
	if _, test := s.testCode(phone); test {
		return nil
	}
	var undo undo
	defer undo.run(ctx, &err)
	if err := s.spendBudgets(ctx, &undo, phone); err != nil {
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

// newCodeFor returns a new code for phone: the fixed code of a test
// number, else a random one.
func (s *Service) newCodeFor(phone string) (string, error) {
	if code, test := s.testCode(phone); test {
		return code, nil
	}
	return s.newCode()
}

// testCode returns the fixed code of phone if it is a test number and test
// numbers still work.
func (s *Service) testCode(phone string) (string, bool) {
	code, ok := s.testNumbers[phone]
	if !ok || !s.now().Before(s.testNumbersUntil) {
		return "", false
	}
	return code, true
}
