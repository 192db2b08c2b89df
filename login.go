package phoneauth

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// LoginRequest is the input of Service.Login.
type LoginRequest struct {
	Phone    string // as the user typed it
	ClientIP string // for the per-IP limit; empty skips it
}

// PendingLogin is the result of a successful Service.Login: a code is on
// its way.
type PendingLogin struct {
	UserID string // the user's public ID, sent back with the code
}

// Login sends a login code to a verified account. While an unused code sent
// less than Policy.LoginThrottle ago exists, it refuses with a
// *ThrottledError (LimitLoginPending); a successful login verification ends
// that wait. Errors: ErrInvalidPhone, *ThrottledError (LimitIP,
// LimitLoginPending, LimitSMSBudget), ErrUserNotFound, ErrNotVerified,
// ErrSendFailed. A failure leaves nothing behind: no throttle, no code.
func (s *Service) Login(ctx context.Context, r LoginRequest) (_ PendingLogin, err error) {
	phone, err := s.admit(ctx, r.Phone, r.ClientIP)
	if err != nil {
		return PendingLogin{}, err
	}
	u, err := s.store.UserByPhone(ctx, phone)
	if err != nil {
		return PendingLogin{}, storeErr("login "+maskPhone(phone), err)
	}
	if !u.Verified {
		return PendingLogin{}, ErrNotVerified
	}
	// The new challenge's ID owns the hold, so every failure below undoes
	// this request's hold, and only it.
	id, err := s.newID()
	if err != nil {
		return PendingLogin{}, err
	}
	code, err := s.newCode()
	if err != nil {
		return PendingLogin{}, err
	}

	var undo undo
	defer undo.run(ctx, &err)
	if err := s.holdLogin(ctx, &undo, u.ID, id); err != nil {
		return PendingLogin{}, err
	}
	if err := s.store.PutLoginChallenge(ctx, s.newChallenge(PurposeLogin, id, u.ID, code, s.now())); err != nil {
		return PendingLogin{}, storeErr("put login challenge", err)
	}
	undo.add("login challenge", func(ctx context.Context) error { return s.store.DeleteChallenge(ctx, id) })
	if err := s.send(ctx, u.Phone, code, PurposeLogin); err != nil {
		return PendingLogin{}, err
	}
	return PendingLogin{UserID: u.ID}, nil
}

// loginHold is the limiter key of userID's login throttle.
func loginHold(userID string) string { return "login:" + userID }

// holdLogin takes userID's login throttle for owner and adds to u the step
// that gives it back. Errors: *ThrottledError (LimitLoginPending) while
// another login's hold runs.
func (s *Service) holdLogin(ctx context.Context, u *undo, userID, owner string) error {
	if s.policy.LoginThrottle == 0 {
		return nil
	}
	key := loginHold(userID)
	ok, left, err := s.limiter.Hold(ctx, key, owner, s.policy.LoginThrottle)
	if err != nil || ok {
		// A failed Hold may have taken the hold before failing.
		u.add("login throttle", func(ctx context.Context) error { return s.limiter.Unhold(ctx, key, owner) })
	}
	if err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	if !ok {
		return &ThrottledError{Limit: LimitLoginPending, RetryAfter: left}
	}
	return nil
}

// VerifyLoginRequest is the input of Service.VerifyLogin.
type VerifyLoginRequest struct {
	Code   string
	UserID string // the user ID Login returned
}

// VerifyLogin checks a login code and opens a session, returning its
// tokens. Errors: ErrNoPendingLogin (also for an unknown user),
// ErrCodeWrong, ErrCodeExpired, *ThrottledError (LimitAttempts, wrapping
// ErrTooManyAttempts).
func (s *Service) VerifyLogin(ctx context.Context, r VerifyLoginRequest) (TokenPair, error) {
	parsed, err := uuid.Parse(r.UserID)
	if err != nil {
		return TokenPair{}, ErrNoPendingLogin
	}
	userID := parsed.String()
	c, err := s.store.LoginChallenge(ctx, userID)
	if err != nil {
		return TokenPair{}, storeErr("login challenge", err)
	}
	n, err := s.countAttempt(ctx, c)
	if err != nil {
		return TokenPair{}, err
	}
	now := s.now()
	sess, err := s.newSession(userID, now)
	if err != nil {
		return TokenPair{}, err
	}
	pair, err := s.pair(sess, now)
	if err != nil {
		return TokenPair{}, err
	}
	// The hash is keyed by c.ID: should a new login have replaced c since,
	// the code is checked against the new challenge and fails, and this
	// try stays counted against c.
	err = s.store.VerifyLogin(ctx, userID, s.hashCode(PurposeLogin, c.ID, r.Code), now, sess)
	if err != nil {
		err = storeErr("verify login", err)
	}
	if err = s.attemptResult(n, err, c); err != nil {
		return TokenPair{}, err
	}
	// The code is spent: the user may ask for a new one at once.
	if err := s.limiter.Release(context.WithoutCancel(ctx), loginHold(userID)); err != nil {
		s.log.WarnContext(ctx, "login verified but throttle not released", "user_id", userID, "err", err)
	}
	return pair, nil
}
