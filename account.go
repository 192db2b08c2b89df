package phoneauth

import (
	"context"
	"errors"
	"time"
)

// AccountRequest is the input of Service.RequestDeletion: a signed-in
// user asks for a code.
type AccountRequest struct {
	Token    string // the access token
	ClientIP string // for the per-IP limit; empty skips it
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
func (s *Service) RequestDeletion(ctx context.Context, r AccountRequest) (err error) {
	now := s.now()
	u, err := s.accessUser(ctx, r.Token, now)
	if err != nil {
		return err
	}
	to, err := s.admit(ctx, u.Phone, r.ClientIP)
	if err != nil {
		return err
	}
	// The access read does not carry the guard: read it as login does.
	if u, err = s.store.UserByPhone(ctx, to.phone); errors.Is(err, ErrUserNotFound) {
		return ErrTokenUnknownUser
	} else if err != nil {
		return storeErr("deletion "+maskPhone(to.phone), err)
	}
	if now.Before(u.LockedUntil) {
		// No SMS for a locked account: its codes would be refused anyway.
		return locked(u.LockedUntil.Sub(now), ErrAccountLocked)
	}
	id, err := s.newID()
	if err != nil {
		return err
	}
	code, err := s.newCodeFor(to)
	if err != nil {
		return err
	}

	var undo undo
	defer undo.run(ctx, &err)
	pendingSince, err := s.store.PutChallenge(ctx, s.newChallenge(PurposeDelete, id, u.ID, code, to, now), now.Add(-s.policy.LoginThrottle))
	if errors.Is(err, ErrCodePending) {
		wait := s.policy.LoginThrottle
		if !pendingSince.IsZero() {
			wait = pendingSince.Add(s.policy.LoginThrottle).Sub(now)
		}
		return &ThrottledError{Limit: LimitCodePending, RetryAfter: max(wait, time.Second), Err: err}
	}
	if errors.Is(err, ErrUserNotFound) {
		return ErrTokenUnknownUser
	}
	if err == nil || errors.Is(err, ErrUnavailable) {
		// As for a login code: the code was not sent, so it must not
		// throttle, even if an unavailable store committed it.
		undo.add("deletion challenge", func(ctx context.Context) error { return s.store.DeleteChallenge(ctx, id) })
	}
	if err != nil {
		return storeErr("put deletion challenge", err)
	}
	return s.send(ctx, to, code, PurposeDelete)
}

// DeleteAccountRequest is the input of Service.DeleteAccount.
type DeleteAccountRequest struct {
	Token    string // the access token
	Code     string // the code RequestDeletion sent
	ClientIP string // for the per-IP limit on code checks; empty skips it
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
func (s *Service) DeleteAccount(ctx context.Context, r DeleteAccountRequest) error {
	now := s.now()
	c, err := s.parse(r.Token, TokenAccess, now)
	if err != nil {
		return err
	}
	if err := s.limitVerifyIP(ctx, r.ClientIP); err != nil {
		return err
	}
	// Not cancelled with the request: a client that hangs up must not
	// roll back the count of its own wrong try.
	u, err := s.store.DeleteAccount(context.WithoutCancel(ctx), c.Subject, c.Ref, s.try(PurposeDelete, r.Code, now))
	s.noteLockout(ctx, err, u, r.ClientIP)
	if errors.Is(err, ErrUserNotFound) {
		return ErrTokenUnknownUser
	}
	if err != nil {
		return storeErr("delete account", err)
	}
	s.log.InfoContext(ctx, "account deleted", "phone", maskPhone(u.Phone), "user_id", u.ID)
	return nil
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
