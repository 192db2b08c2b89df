package phoneauth

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// admit opens the flows that send an SMS: it reads the phone number as
// typed and counts the request against the per-IP limit. Errors:
// ErrInvalidPhone, *ThrottledError (LimitIP).
func (s *Service) admit(ctx context.Context, rawPhone, clientIP string) (string, error) {
	phone, err := ParsePhone(rawPhone, s.region)
	if err != nil {
		return "", err
	}
	if err := s.limitIP(ctx, clientIP); err != nil {
		return "", err
	}
	return phone, nil
}

// limitIP counts one SMS-sending request from ip against the per-IP limit.
// IPv6 clients are counted by their /64, which one subscriber usually has
// whole. An empty ip skips the limit.
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

// limitVerifyIP counts one code check from ip against the per-IP limit on
// code checks, which bounds how many accounts one address can guess at.
func (s *Service) limitVerifyIP(ctx context.Context, ip string) error {
	if s.policy.IPVerifyRateLimit == 0 || ip == "" {
		return nil
	}
	n, reset, err := s.limiter.Hit(ctx, "ipv:"+ipKey(ip), time.Minute)
	if err != nil {
		return fmt.Errorf("ip verify limit: %w", err)
	}
	if n > int64(s.policy.IPVerifyRateLimit) {
		return &ThrottledError{Limit: LimitIPVerify, RetryAfter: reset}
	}
	return nil
}

// ipKey is the address ip, or its /64 for IPv6.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// budgetKey counts the SMS the whole service sent in the current hour.
const budgetKey = "sms:budget"

// spendBudget takes one SMS from the service-wide hourly budget and adds
// to u the step that gives it back. Errors: *ThrottledError
// (LimitSMSBudget).
func (s *Service) spendBudget(ctx context.Context, u *undo) error {
	if s.policy.SMSPerHour == 0 {
		return nil
	}
	n, reset, err := s.limiter.Hit(ctx, budgetKey, time.Hour)
	if err != nil {
		return fmt.Errorf("sms budget: %w", err)
	}
	if n > int64(s.policy.SMSPerHour) {
		return &ThrottledError{Limit: LimitSMSBudget, RetryAfter: reset}
	}
	u.add("sms budget", func(ctx context.Context) error { return s.limiter.Refund(ctx, budgetKey) })
	return nil
}
