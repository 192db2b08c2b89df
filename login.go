package phoneauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// LoginRequest is the input of Service.Login.
type LoginRequest struct {
	Phone    string
	ClientIP string
}

// LoginChallenge is the result of a successful Service.Login.
type LoginChallenge struct {
	UserID string // the user's public ID, sent back with the code
}

// Login sends a login code to a verified account. While an unused code sent
// less than Policy.LoginThrottle ago exists, it refuses with a
// *ThrottledError (LimitLoginPending); a successful login verification ends
// that wait. Errors: *MissingFieldsError, ErrInvalidPhone, *ThrottledError,
// ErrUserNotFound, ErrNotVerified, ErrSendFailed. A failed SMS leaves no
// throttle behind.
func (s *Service) Login(ctx context.Context, r LoginRequest) (LoginChallenge, error) {
	if err := RequireFields("phone", r.Phone); err != nil {
		return LoginChallenge{}, err
	}
	phone, err := ParsePhone(r.Phone, s.region)
	if err != nil {
		return LoginChallenge{}, err
	}
	if err := s.limitIP(ctx, r.ClientIP); err != nil {
		return LoginChallenge{}, err
	}
	u, err := s.store.UserByPhone(ctx, phone)
	if err != nil {
		return LoginChallenge{}, fmt.Errorf("login %s: %w", maskPhone(phone), err)
	}
	if !u.Verified {
		return LoginChallenge{}, ErrNotVerified
	}
	// The new challenge's ID owns the hold, so every failure below can undo
	// this request's hold, and only it.
	id, err := s.newID()
	if err != nil {
		return LoginChallenge{}, err
	}
	hold := "login:" + u.ID
	if s.policy.LoginThrottle > 0 {
		ok, left, err := s.limiter.Hold(ctx, hold, id, s.policy.LoginThrottle)
		if err != nil {
			// The backend may have taken the hold before failing.
			return LoginChallenge{}, s.unhold(ctx, hold, id, fmt.Errorf("login throttle: %w", err))
		}
		if !ok {
			return LoginChallenge{}, &ThrottledError{Limit: LimitLoginPending, RetryAfter: left}
		}
	}
	code, err := s.newCode()
	if err == nil {
		err = s.putLoginChallenge(ctx, u, id, code)
	}
	if err == nil {
		err = s.send(ctx, u.Phone, code, PurposeLogin)
		if err != nil {
			if derr := s.store.DeleteChallenge(context.WithoutCancel(ctx), id); derr != nil {
				err = errors.Join(err, fmt.Errorf("undo login challenge: %w", derr))
			}
		}
	}
	if err != nil {
		return LoginChallenge{}, s.unhold(ctx, hold, id, err)
	}
	return LoginChallenge{UserID: u.ID}, nil
}

// putLoginChallenge stores code as u's login code under challenge id,
// replacing any earlier one. Its attempts are counted under its own ID, so
// they start afresh.
func (s *Service) putLoginChallenge(ctx context.Context, u User, id, code string) error {
	now := s.now()
	c := Challenge{
		ID:        id,
		UserID:    u.ID,
		Purpose:   PurposeLogin,
		CodeHash:  s.hashCode(PurposeLogin, id, code),
		CreatedAt: now,
		ExpiresAt: now.Add(s.policy.CodeTTL),
	}
	if err := s.store.PutLoginChallenge(ctx, c); err != nil {
		return fmt.Errorf("store login challenge: %w", err)
	}
	return nil
}

// unhold gives back the login hold owner took, if it still holds it, and
// returns err with any failure to do so.
func (s *Service) unhold(ctx context.Context, key, owner string, err error) error {
	if s.policy.LoginThrottle == 0 {
		return err
	}
	if uerr := s.limiter.Unhold(context.WithoutCancel(ctx), key, owner); uerr != nil {
		return errors.Join(err, fmt.Errorf("release login throttle: %w", uerr))
	}
	return err
}

// LoginVerifyRequest is the input of Service.VerifyLogin.
type LoginVerifyRequest struct {
	Code   string
	UserID string
}

// VerifyLogin checks a login code and opens a session, returning its
// tokens. Errors: *MissingFieldsError, ErrNoPendingLogin (also for an
// unknown user), ErrCodeWrong, ErrCodeExpired, ErrTooManyAttempts.
func (s *Service) VerifyLogin(ctx context.Context, r LoginVerifyRequest) (TokenPair, error) {
	if err := RequireFields("code", r.Code, "user_id", r.UserID); err != nil {
		return TokenPair{}, err
	}
	parsed, err := uuid.Parse(r.UserID)
	if err != nil {
		return TokenPair{}, ErrNoPendingLogin
	}
	userID := parsed.String()
	c, err := s.store.LoginChallenge(ctx, userID)
	if err != nil {
		return TokenPair{}, err
	}
	n, err := s.countAttempt(ctx, c)
	if err != nil {
		return TokenPair{}, err
	}
	now := s.now()
	sess, pair, records, err := s.newSession(userID, now)
	if err != nil {
		return TokenPair{}, err
	}
	// The hash is keyed by c.ID: should a new login have replaced c since,
	// the code is checked against the new challenge and fails, and this
	// try stays counted against c.
	_, err = s.store.VerifyLogin(ctx, userID, s.hashCode(PurposeLogin, c.ID, r.Code), now, sess, records)
	if err = s.attemptResult(n, err, c); err != nil {
		return TokenPair{}, err
	}
	// The code is spent: the user may ask for a new one at once.
	if err := s.limiter.Release(context.WithoutCancel(ctx), "login:"+userID); err != nil {
		s.log.WarnContext(ctx, "login verified but throttle not released", "user_id", userID, "err", err)
	}
	return pair, nil
}
