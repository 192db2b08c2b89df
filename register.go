package phoneauth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// RegisterRequest is the input of Service.Register.
type RegisterRequest struct {
	Phone    string // as the user typed it
	ClientIP string // for the per-IP limit; empty skips it
}

// Registration is the result of a successful Service.Register.
type Registration struct {
	Phone string // E.164
	Token string // the verification token the app sends back with the code
}

// Register creates an account for a phone number and sends it a
// verification code. Errors: *MissingFieldsError, ErrInvalidPhone,
// *ThrottledError (LimitIP, LimitSMSBudget), ErrUserExists, ErrSendFailed.
// When the SMS cannot be sent nothing is left behind: the number can be
// registered again at once.
func (s *Service) Register(ctx context.Context, r RegisterRequest) (Registration, error) {
	if err := RequireFields("phonenumber", r.Phone); err != nil {
		return Registration{}, err
	}
	phone, err := ParsePhone(r.Phone, s.region)
	if err != nil {
		return Registration{}, err
	}
	if err := s.limitIP(ctx, r.ClientIP); err != nil {
		return Registration{}, err
	}
	now := s.now()
	userID, err := s.newID()
	if err != nil {
		return Registration{}, err
	}
	challengeID, err := s.newID()
	if err != nil {
		return Registration{}, err
	}
	code, err := s.newCode()
	if err != nil {
		return Registration{}, err
	}
	c := Challenge{
		ID:        challengeID,
		Purpose:   PurposeRegister,
		CodeHash:  s.hashCode(PurposeRegister, challengeID, code),
		CreatedAt: now,
		ExpiresAt: now.Add(s.policy.CodeTTL),
	}
	u, err := s.store.Register(ctx, User{ID: userID, Phone: phone, CreatedAt: now}, c, now)
	if err != nil {
		err = fmt.Errorf("register %s: %w", maskPhone(phone), err)
		if errors.Is(err, ErrUnavailable) {
			// The write may have committed with only its answer lost:
			// undo it if so, or the number would 409 with no SMS sent.
			err = s.undoRegistration(ctx, challengeID, err)
		}
		return Registration{}, err
	}
	if err := s.send(ctx, u.Phone, code, PurposeRegister); err != nil {
		return Registration{}, s.undoRegistration(ctx, challengeID, err)
	}
	return Registration{Phone: u.Phone, Token: challengeID}, nil
}

// undoRegistration cancels registration challenge challengeID after err,
// and returns err with any failure to do so.
func (s *Service) undoRegistration(ctx context.Context, challengeID string, err error) error {
	if cerr := s.store.CancelRegistration(context.WithoutCancel(ctx), challengeID); cerr != nil {
		return errors.Join(err, fmt.Errorf("undo registration: %w", cerr))
	}
	return err
}

// VerifyRequest is the input of Service.Verify.
type VerifyRequest struct {
	Code  string
	Token string
	Phone string
}

// Verify checks a registration code and marks the account verified.
// Errors: *MissingFieldsError, ErrInvalidPhone, ErrChallengeNotFound (unknown
// or spent token, or a token of another number), ErrCodeWrong,
// ErrCodeExpired, ErrTooManyAttempts.
func (s *Service) Verify(ctx context.Context, r VerifyRequest) error {
	if err := RequireFields("code", r.Code, "token", r.Token, "phone", r.Phone); err != nil {
		return err
	}
	phone, err := ParsePhone(r.Phone, s.region)
	if err != nil {
		return err
	}
	token, err := uuid.Parse(r.Token)
	if err != nil {
		return ErrChallengeNotFound
	}
	c, err := s.store.RegistrationChallenge(ctx, token.String())
	if err != nil {
		return err
	}
	n, err := s.countAttempt(ctx, c)
	if err != nil {
		return err
	}
	_, err = s.store.VerifyRegistration(ctx, c.ID, phone, s.hashCode(PurposeRegister, c.ID, r.Code), s.now())
	return s.attemptResult(n, err, c)
}

// limitIP counts one SMS-sending request from ip against the per-IP limit.
// IPv6 clients are counted by their /64, which one subscriber usually has
// whole.
func (s *Service) limitIP(ctx context.Context, ip string) error {
	if s.policy.IPRateLimit == 0 || ip == "" {
		return nil
	}
	n, reset, err := s.limiter.Hit(ctx, "ip:"+ipKey(ip), time.Minute)
	if err != nil {
		return fmt.Errorf("ip limit: %w", err)
	}
	if n > int64(s.policy.IPRateLimit) {
		return &ThrottledError{Limit: LimitIP, RetryAfter: reset}
	}
	return nil
}

// send spends one unit of the SMS budget and sends code to phone.
func (s *Service) send(ctx context.Context, phone, code string, p Purpose) error {
	if s.policy.SMSPerHour > 0 {
		n, reset, err := s.limiter.Hit(ctx, budgetKey, time.Hour)
		if err != nil {
			return fmt.Errorf("sms budget: %w", err)
		}
		if n > int64(s.policy.SMSPerHour) {
			return &ThrottledError{Limit: LimitSMSBudget, RetryAfter: reset}
		}
	}
	m := Message{
		To:        phone,
		Text:      messageText(code, s.policy.CodeTTL),
		Code:      code,
		Purpose:   p,
		ExpiresIn: s.policy.CodeTTL,
	}
	if err := s.sender.Send(ctx, m); err != nil {
		err = fmt.Errorf("%w: %w", ErrSendFailed, err)
		if s.policy.SMSPerHour > 0 {
			// Nothing was sent: give the unit back.
			if rerr := s.limiter.Refund(context.WithoutCancel(ctx), budgetKey); rerr != nil {
				err = errors.Join(err, fmt.Errorf("refund sms budget: %w", rerr))
			}
		}
		return err
	}
	return nil
}

// budgetKey counts the SMS the whole service sent in the current hour.
const budgetKey = "sms:budget"

// ipKey is the address ip, or its /64 for IPv6.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

func messageText(code string, ttl time.Duration) string {
	minutes := int(ttl.Round(time.Minute) / time.Minute)
	if minutes <= 1 {
		return fmt.Sprintf("Your verification code is %s. It expires in %d seconds.", code, int(ttl.Seconds()))
	}
	return fmt.Sprintf("Your verification code is %s. It expires in %d minutes.", code, minutes)
}

// countAttempt counts one try against challenge c and refuses it once the
// code has had MaxAttempts tries. Counting before checking keeps the bound
// exact under concurrency: parallel guesses each take their own number.
// Every challenge has its own ID, so a new code starts afresh.
func (s *Service) countAttempt(ctx context.Context, c Challenge) (int64, error) {
	n, _, err := s.limiter.Hit(ctx, "attempts:"+c.ID, s.policy.CodeTTL)
	if err != nil {
		return 0, fmt.Errorf("attempt counter: %w", err)
	}
	if n > int64(s.policy.MaxAttempts) {
		return n, s.tooManyAttempts(c, nil)
	}
	return n, nil
}

// attemptResult turns the last allowed wrong try into too many attempts, so
// the user learns at once that the code is dead.
func (s *Service) attemptResult(n int64, err error, c Challenge) error {
	if errors.Is(err, ErrCodeWrong) && n >= int64(s.policy.MaxAttempts) {
		return s.tooManyAttempts(c, err)
	}
	return err
}

// tooManyAttempts says when a new code for c's purpose can be had: a new
// registration once c expires, a new login once the login throttle that
// started with c runs out.
func (s *Service) tooManyAttempts(c Challenge, cause error) error {
	until := c.ExpiresAt
	if c.Purpose == PurposeLogin {
		until = c.CreatedAt.Add(s.policy.LoginThrottle)
	}
	err := ErrTooManyAttempts
	if cause != nil {
		err = fmt.Errorf("%w: %w", ErrTooManyAttempts, cause)
	}
	return &ThrottledError{Limit: LimitAttempts, RetryAfter: max(until.Sub(s.now()), 0), Err: err}
}

// maskPhone keeps the country code and last two digits, for error context
// and logs.
func maskPhone(e164 string) string {
	if len(e164) <= 5 {
		return "***"
	}
	return e164[:2] + "***" + e164[len(e164)-2:]
}
