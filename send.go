package phoneauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// send spends one SMS of each budget and sends code to r. When the
// provider refuses the message the budgets are given back, as nothing was
// sent, unless the Sender says the SMS may have gone out (ErrMaybeSent).
// A test number is sent nothing and spends no budget. Errors:
// *ThrottledError (the SMS budgets), ErrSendFailed, or the Sender's own
// error when it wraps ErrUnavailable (it took nothing now).
func (s *Service) send(ctx context.Context, r recipient, code string, p Purpose) (err error) {
	if r.test {
		return nil
	}
	var undo undo
	defer undo.run(ctx, &err)
	if err := s.spendBudgets(ctx, &undo, r, p); err != nil {
		return err
	}
	phone := r.phone
	id, err := s.newID()
	if err != nil {
		return err
	}
	m := Message{
		ID:        id,
		To:        phone,
		Text:      s.texts.Text(p, code, s.policy.CodeTTL),
		Code:      code,
		Purpose:   p,
		ExpiresIn: s.policy.CodeTTL,
	}
	if err := s.sender.Send(ctx, m); err != nil {
		if errors.Is(err, ErrMaybeSent) {
			// The SMS may have cost what the budgets count: they keep it.
			undo = nil
		}
		if errors.Is(err, ErrUnavailable) {
			return fmt.Errorf("send sms: %w", err)
		}
		return fmt.Errorf("%w: %w", ErrSendFailed, err)
	}
	return nil
}

// newCodeFor returns a new code for r: the fixed code of a test number,
// else a random one.
func (s *Service) newCodeFor(r recipient) (string, error) {
	if r.test {
		return r.fixedCode, nil
	}
	return s.newCode()
}

// codeExpiry is when a code for r sent at now expires: CodeTTL later, and
// for a test number no later than the end of test numbers.
func (s *Service) codeExpiry(r recipient, now time.Time) time.Time {
	exp := now.Add(s.policy.CodeTTL)
	if r.test && s.testNumbersUntil.Before(exp) {
		exp = s.testNumbersUntil
	}
	return exp
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
