package phoneauth

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// LoginRequest is the input of Service.Login.
type LoginRequest struct {
	Phone     string // as the user typed it
	ClientIP  string // for the per-IP limit; empty skips it
	UserAgent string // recorded, truncated, in the audit trail
}

// PendingLogin is the result of a successful Service.Login: a code is on
// its way.
type PendingLogin struct {
	UserID string // the user's public ID, sent back with the code
}

// Login sends a login code to a verified account. While an unused code sent
// less than Policy.LoginThrottle ago exists, it refuses with a
// *ThrottledError (LimitLoginPending); a successful login verification ends
// that wait; the wait is kept in the database. Errors: ErrInvalidPhone,
// *ThrottledError (LimitIP, LimitLoginPending, LimitSMSBudget),
// ErrUserNotFound, ErrNotVerified,
// ErrSendFailed, and *ThrottledError (LimitLockout) while the account is
// locked, when no SMS is sent. A failure leaves nothing behind: no
// throttle, no code. A refusal about the number or its account (no
// account, not verified, locked, a code pending, an SMS budget) is
// recorded in the audit trail; an invalid number or the per-IP limit is
// not.
func (s *Service) Login(ctx context.Context, r LoginRequest) (_ PendingLogin, err error) {
	defer func() { s.observe(err) }()
	to, err := s.admit(ctx, r.Phone, r.ClientIP)
	if err != nil {
		return PendingLogin{}, err
	}
	phone := to.phone
	ev := s.event(EventLoginRequest, r.ClientIP, r.UserAgent)
	ev.PhoneMasked = maskPhone(phone)
	id, err := s.newID()
	if err != nil {
		return PendingLogin{}, err
	}
	code, err := s.newCodeFor(to)
	if err != nil {
		return PendingLogin{}, err
	}
	now := s.now()

	var undo undo
	defer undo.run(ctx, &err)
	// One statement checks the account (it exists, is verified, is not
	// locked: a locked account is sent no code, as its codes would be
	// refused anyway) and stores the code. The throttle is the pending
	// challenge itself: a login code created less than LoginThrottle ago
	// and not used refuses a new one.
	c := s.newChallenge(PurposeLogin, id, "", code, to, now)
	c.Audit = ev
	u, pendingSince, err := s.store.PutLoginChallenge(ctx, phone, c, now.Add(-s.policy.LoginThrottle))
	switch {
	case errors.Is(err, ErrUserNotFound):
		s.recordRefusal(ctx, ev, "", "", err)
	case errors.Is(err, ErrNotVerified):
		s.recordRefusal(ctx, ev, u.ID, "", err)
		return PendingLogin{}, ErrNotVerified
	case errors.Is(err, ErrAccountLocked):
		err := locked(u.LockedUntil.Sub(now), ErrAccountLocked)
		s.recordRefusal(ctx, ev, u.ID, "", err)
		return PendingLogin{}, err
	case errors.Is(err, ErrLoginPending):
		err := &ThrottledError{
			Limit:      LimitLoginPending,
			RetryAfter: s.throttleLeft(pendingSince, now),
			Err:        err,
			UserID:     u.ID,
		}
		s.recordRefusal(ctx, ev, u.ID, "", err)
		return PendingLogin{}, err
	}
	if err == nil || errors.Is(err, ErrUnavailable) {
		// Even an unavailable store may have committed with only its
		// answer lost: the code was not sent, so it must not throttle.
		undo.add("login challenge", func(ctx context.Context) error { return s.store.DeleteChallenge(ctx, id) })
	}
	if err != nil {
		return PendingLogin{}, storeErr("login "+maskPhone(phone), err)
	}
	if err := s.send(ctx, to, code, PurposeLogin); err != nil {
		if budgetRefused(err) {
			s.recordRefusal(ctx, ev, u.ID, "", err)
		}
		return PendingLogin{}, err
	}
	return PendingLogin{UserID: u.ID}, nil
}

// VerifyLoginRequest is the input of Service.VerifyLogin.
type VerifyLoginRequest struct {
	Code      string
	UserID    string // the user ID Login returned
	ClientIP  string // for the per-IP limit on code checks; empty skips it
	UserAgent string // recorded, truncated, in the audit trail
}

// VerifyLogin checks a login code and opens a session, returning its
// tokens. A verified code ends the login throttle: the user may ask for a
// new code at once. Errors: *ThrottledError (LimitIPVerify, LimitLockout,
// LimitAttempts), ErrNoPendingLogin (also for an unknown user),
// ErrCodeWrong, ErrCodeExpired.
func (s *Service) VerifyLogin(ctx context.Context, r VerifyLoginRequest) (_ TokenPair, err error) {
	defer func() { s.observe(err) }()
	if err := s.limitVerifyIP(ctx, r.ClientIP); err != nil {
		return TokenPair{}, err
	}
	parsed, err := uuid.Parse(r.UserID)
	if err != nil {
		return TokenPair{}, ErrNoPendingLogin
	}
	userID := parsed.String()
	now := s.now()
	sess, err := s.newSession(userID, now)
	if err != nil {
		return TokenPair{}, err
	}
	pair, err := s.pair(sess, now)
	if err != nil {
		return TokenPair{}, err
	}
	// Not cancelled with the request: a client that hangs up must not
	// roll back the count of its own wrong try.
	u, err := s.store.VerifyLogin(context.WithoutCancel(ctx), userID, s.try(PurposeLogin, r.Code, now, s.event(EventLogin, r.ClientIP, r.UserAgent)), sess)
	s.noteLockout(ctx, err, u, r.ClientIP)
	s.observeCode(PurposeLogin, err)
	if err != nil {
		return TokenPair{}, storeErr("verify login", err)
	}
	return pair, nil
}
