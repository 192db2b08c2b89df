package phoneauth

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// RegisterRequest is the input of Service.Register.
type RegisterRequest struct {
	Phone     string // as the user typed it
	ClientIP  string // for the per-IP limit; empty skips it
	UserAgent string // recorded, truncated, in the audit trail
}

// Registration is the result of a successful Service.Register.
type Registration struct {
	Phone string // E.164
	Token string // the verification token the app sends back with the code
}

// Register creates an account for a phone number and sends it a
// verification code. Errors: ErrInvalidPhone, ErrCannotReceiveSMS,
// *ThrottledError (LimitIP, the SMS budgets, LimitLockout for an
// unverified account that is locked), ErrUserExists, ErrSendFailed. When the SMS cannot be
// sent nothing is left behind: the number can be registered again at once.
// A refusal about an account (it exists, it is locked) or by an SMS budget
// is recorded in the audit trail; an invalid number or the per-IP limit is
// not.
func (s *Service) Register(ctx context.Context, r RegisterRequest) (_ Registration, err error) {
	defer func() { s.observe(err) }()
	to, err := s.admit(ctx, r.Phone, r.ClientIP)
	if err != nil {
		return Registration{}, err
	}
	phone := to.phone
	userID, err := s.newID()
	if err != nil {
		return Registration{}, err
	}
	challengeID, err := s.newID()
	if err != nil {
		return Registration{}, err
	}
	code, err := s.newCodeFor(to)
	if err != nil {
		return Registration{}, err
	}
	now := s.now()
	c := s.newChallenge(PurposeRegister, challengeID, "", code, to, now)
	c.Audit = s.event(EventRegister, r.ClientIP, r.UserAgent)

	var undo undo
	defer undo.run(ctx, &err)
	lockedUntil, err := s.store.Register(ctx, User{ID: userID, Phone: phone, CreatedAt: now}, c, now)
	if errors.Is(err, ErrAccountLocked) {
		// No SMS for a locked account: its code could not be verified.
		err = locked(lockedUntil.Sub(now), err)
		s.registrationRefused(ctx, c.Audit, phone, err)
		return Registration{}, err
	}
	if errors.Is(err, ErrUserExists) {
		s.registrationRefused(ctx, c.Audit, phone, err)
	}
	if err == nil || errors.Is(err, ErrUnavailable) {
		// Even an unavailable store may have committed with only its
		// answer lost: undo it then too, or the number would 409 with no
		// SMS sent.
		undo.add("registration", func(ctx context.Context) error {
			return s.store.CancelRegistration(ctx, challengeID)
		})
	}
	if err != nil {
		return Registration{}, storeErr("register "+maskPhone(phone), err)
	}
	if err := s.send(ctx, to, code, PurposeRegister); err != nil {
		if budgetRefused(err) {
			// Before the undo, which may delete the account.
			s.registrationRefused(ctx, c.Audit, phone, err)
		}
		return Registration{}, err
	}
	return Registration{Phone: phone, Token: challengeID}, nil
}

// registrationRefused records event e of a registration of phone refused
// with err. The account it was refused for exists (or, for an SMS budget's
// refusal, was stored, its register event recorded), but Register does not
// say which it is: its ID is read for the event, one more read on a
// refusal only.
func (s *Service) registrationRefused(ctx context.Context, e Event, phone string, err error) {
	var userID string
	if u, uerr := s.store.UserByPhone(context.WithoutCancel(ctx), phone); uerr == nil {
		userID = u.ID
	}
	s.recordRefusal(ctx, e, userID, phone, err)
}

// VerifyRequest is the input of Service.Verify.
type VerifyRequest struct {
	Code      string
	Token     string // the verification token Register returned
	Phone     string // as the user typed it
	ClientIP  string // for the per-IP limit on code checks; empty skips it
	UserAgent string // recorded, truncated, in the audit trail
}

// Verify checks a registration code and marks the account verified.
// Errors: ErrInvalidPhone, *ThrottledError (LimitIPVerify, LimitLockout,
// LimitAttempts), ErrChallengeNotFound (unknown or spent token, or a token
// of another number), ErrCodeWrong, ErrCodeExpired.
func (s *Service) Verify(ctx context.Context, r VerifyRequest) (err error) {
	defer func() { s.observe(err) }()
	// The number as Register read it, from the cache of numbers typed.
	c, err := s.classify(r.Phone)
	if err != nil {
		return err
	}
	phone := c.phone
	if err := s.limitVerifyIP(ctx, r.ClientIP); err != nil {
		return err
	}
	token, err := uuid.Parse(r.Token)
	if err != nil {
		return ErrChallengeNotFound
	}
	// Not cancelled with the request: a client that hangs up must not
	// roll back the count of its own wrong try.
	u, err := s.store.VerifyRegistration(context.WithoutCancel(ctx), token.String(), phone, s.try(PurposeRegister, r.Code, s.now(), s.event(EventVerify, r.ClientIP, r.UserAgent)))
	s.noteLockout(ctx, err, u, r.ClientIP)
	s.observeCode(PurposeRegister, err)
	if err != nil {
		return storeErr("verify registration", err)
	}
	return nil
}

// noteLockout logs a try that locked an account: an operator should see
// who is being guessed at, and from where.
func (s *Service) noteLockout(ctx context.Context, err error, u User, clientIP string) {
	if errors.Is(err, ErrAccountLocked) && errors.Is(err, ErrCodeWrong) {
		var t *ThrottledError
		errors.As(err, &t)
		s.log.WarnContext(ctx, "account locked after too many failed code checks",
			"phone", maskPhone(u.Phone), "user_id", u.ID, "client_ip", clientIP, "locked_for", t.RetryAfter.String())
	}
}
