package phoneauth

import (
	"context"
	"errors"
	"time"
)

// AccountRequest is the input of Service.RequestDeletion: a signed-in
// user asks for a code to the account's number.
type AccountRequest struct {
	Token     string // the access token
	ClientIP  string // for the per-IP limit; empty skips it
	UserAgent string // recorded, truncated, in the audit trail
}

// RequestDeletion sends a code that confirms the deletion of the account
// of an access token to the account's own number. The rules of a login
// code apply: the number must still be one that may be sent a code, the
// per-IP limit and the SMS budgets count it, a locked account is sent
// nothing, and while an unused deletion code sent less than
// Policy.LoginThrottle ago exists a new one is refused. Errors: the token
// errors of parse, ErrTokenRevoked, ErrTokenUnknownUser (also for an
// account deleted meanwhile), ErrCannotReceiveSMS, *ThrottledError
// (LimitIP, LimitCodePending, the SMS budgets, LimitLockout),
// ErrSendFailed. A failure leaves nothing behind: no throttle, no code.
// The code's delete_request event is recorded with it; so is a refusal
// about the account (locked, a code pending, an SMS budget), not one of
// the token, the number or the per-IP limit.
func (s *Service) RequestDeletion(ctx context.Context, r AccountRequest) error {
	return s.requestCode(ctx, PurposeDelete, r, "")
}

// PhoneChangeRequest is the input of Service.RequestPhoneChange.
type PhoneChangeRequest struct {
	Token     string // the access token
	Phone     string // the new number, as the user typed it
	ClientIP  string // for the per-IP limit; empty skips it
	UserAgent string // recorded, truncated, in the audit trail
}

// RequestPhoneChange sends a code to the number an account of an access
// token wants to move to, to prove it. The new number is held to the
// rules of a registration's (it must be one that may be sent a code; the
// per-IP limit and the SMS budgets of that number count it); the account
// to those of a login (no SMS while it is locked; one unused code per
// Policy.LoginThrottle). A new code replaces an earlier one, for whatever
// number, once the throttle has run out. Errors: the token errors of
// parse, ErrTokenRevoked, ErrTokenUnknownUser, ErrInvalidPhone,
// ErrCannotReceiveSMS, ErrUserExists (the number has an account, the
// user's own included), *ThrottledError (LimitIP, LimitCodePending, the
// SMS budgets, LimitLockout), ErrSendFailed. A failure leaves nothing
// behind. The code's phone_request event, with the new number masked, is
// recorded with it; so is a refusal as RequestDeletion's, and one because
// the number has an account.
func (s *Service) RequestPhoneChange(ctx context.Context, r PhoneChangeRequest) error {
	return s.requestCode(ctx, PurposePhone, AccountRequest{Token: r.Token, ClientIP: r.ClientIP, UserAgent: r.UserAgent}, r.Phone)
}

// requestCode sends a code of purpose p for the account of r.Token: to
// the account's own number, or for PurposePhone to newPhone (as typed).
func (s *Service) requestCode(ctx context.Context, p Purpose, r AccountRequest, newPhone string) (err error) {
	defer func() { s.observe(err) }()
	now := s.now()
	u, err := s.accessUser(ctx, r.Token, now)
	if err != nil {
		return err
	}
	typed := u.Phone
	if p == PurposePhone {
		typed = newPhone
	}
	to, err := s.admit(ctx, typed, r.ClientIP)
	if err != nil {
		return err
	}
	ev := s.event(EventDeleteRequest, r.ClientIP, r.UserAgent)
	if p == PurposePhone {
		ev.Kind = EventPhoneRequest
	}
	// The number the code goes to: for a phone change, the new one.
	ev.PhoneMasked = maskPhone(to.phone)
	if p == PurposePhone {
		if to.phone == u.Phone {
			s.recordRefusal(ctx, ev, u.ID, "", ErrUserExists)
			return ErrUserExists
		}
		if _, err := s.store.UserByPhone(ctx, to.phone); err == nil {
			s.recordRefusal(ctx, ev, u.ID, "", ErrUserExists)
			return ErrUserExists
		} else if !errors.Is(err, ErrUserNotFound) {
			return storeErr("phone change "+maskPhone(to.phone), err)
		}
	}
	id, err := s.newID()
	if err != nil {
		return err
	}
	code, err := s.newCodeFor(to)
	if err != nil {
		return err
	}
	c := s.newChallenge(p, id, u.ID, code, to, now)
	c.Audit = ev
	if p == PurposePhone {
		c.NewPhone = to.phone
	}

	var undo undo
	defer undo.run(ctx, &err)
	// The store checks the account at commit: a locked account is sent
	// no code (its codes would be refused anyway); the throttle is the
	// pending code itself.
	lockedUntil, pendingSince, err := s.store.PutChallenge(ctx, c, now.Add(-s.policy.LoginThrottle))
	if errors.Is(err, ErrAccountLocked) {
		err := locked(lockedUntil.Sub(now), ErrAccountLocked)
		s.recordRefusal(ctx, ev, u.ID, "", err)
		return err
	}
	if errors.Is(err, ErrCodePending) {
		err := &ThrottledError{Limit: LimitCodePending, RetryAfter: s.throttleLeft(pendingSince, now), Err: err}
		s.recordRefusal(ctx, ev, u.ID, "", err)
		return err
	}
	if errors.Is(err, ErrUserNotFound) {
		return ErrTokenUnknownUser
	}
	if err == nil || errors.Is(err, ErrUnavailable) {
		// As for a login code: the code was not sent, so it must not
		// throttle, even if an unavailable store committed it.
		undo.add(string(p)+" challenge", func(ctx context.Context) error { return s.store.DeleteChallenge(ctx, id) })
	}
	if err != nil {
		return storeErr("put "+string(p)+" challenge", err)
	}
	if err := s.send(ctx, to, code, p); err != nil {
		if budgetRefused(err) {
			s.recordRefusal(ctx, ev, u.ID, "", err)
		}
		return err
	}
	return nil
}

// AccountCodeRequest is the input of Service.DeleteAccount and
// Service.ChangePhone: a code sent to a signed-in account.
type AccountCodeRequest struct {
	Token     string // the access token
	Code      string // the code RequestDeletion or RequestPhoneChange sent
	ClientIP  string // for the per-IP limit on code checks; empty skips it
	UserAgent string // recorded, truncated, in the audit trail
}

// DeleteAccount checks a deletion code and, if it is right, deletes the
// account of the access token with its codes and sessions: none of its
// tokens is accepted again and its number can register at once. The code
// is decided like a login code: its tries count, a wrong one counts
// towards the account's lockout, and a locked account refuses the right
// code too. Errors: the token errors of parse, ErrTokenRevoked,
// ErrTokenUnknownUser (also for an account already deleted),
// *ThrottledError (LimitIPVerify, LimitLockout, LimitAttempts),
// ErrNoPendingCode, ErrCodeWrong, ErrCodeExpired.
func (s *Service) DeleteAccount(ctx context.Context, r AccountCodeRequest) error {
	u, err := s.checkCode(ctx, PurposeDelete, EventDeleteAccount, r, s.store.DeleteAccount)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "account deleted", "phone", maskPhone(u.Phone), "user_id", u.ID)
	return nil
}

// ChangePhone checks a phone-change code and, if it is right, moves the
// account of the access token to the number the code was sent to; every
// other session of the account is revoked, and the codes sent to the old
// number die. It returns the account with its new number. The code is
// decided like a login code. Errors: those of DeleteAccount, and
// ErrUserExists when another account took the number since the code was
// sent.
func (s *Service) ChangePhone(ctx context.Context, r AccountCodeRequest) (User, error) {
	u, err := s.checkCode(ctx, PurposePhone, EventChangePhone, r, s.store.ChangePhone)
	if err != nil {
		return User{}, err
	}
	s.log.InfoContext(ctx, "phone number changed", "phone", maskPhone(u.Phone), "user_id", u.ID)
	return u, nil
}

// checkCode decides code r.Code of purpose p of the account of r.Token
// with decide, a Store method, recording an event of kind k, and maps its unknown user to the token's.
func (s *Service) checkCode(ctx context.Context, p Purpose, k EventKind, r AccountCodeRequest,
	decide func(ctx context.Context, userID string, access TokenRef, t Try) (User, error)) (_ User, err error) {
	defer func() { s.observe(err) }()
	now := s.now()
	c, err := s.parse(r.Token, TokenAccess, now)
	if err != nil {
		return User{}, err
	}
	if err := s.limitVerifyIP(ctx, r.ClientIP); err != nil {
		return User{}, err
	}
	// Not cancelled with the request: a client that hangs up must not
	// roll back the count of its own wrong try.
	u, err := decide(context.WithoutCancel(ctx), c.Subject, c.Ref, s.try(p, r.Code, now, s.event(k, r.ClientIP, r.UserAgent)))
	s.noteLockout(ctx, err, u, r.ClientIP)
	s.observeCode(p, err)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, ErrTokenUnknownUser
	}
	if err != nil {
		return User{}, storeErr(string(p)+" code", err)
	}
	return u, nil
}

// accessUser returns the account of access token raw at now, as Me does.
// Errors: the token errors of parse, ErrTokenRevoked, ErrTokenUnknownUser.
func (s *Service) accessUser(ctx context.Context, raw string, now time.Time) (User, error) {
	c, err := s.parse(raw, TokenAccess, now)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.AccessUser(ctx, c.Subject, c.Ref)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, ErrTokenUnknownUser
	}
	if err != nil {
		return User{}, storeErr("access user", err)
	}
	return u, nil
}
