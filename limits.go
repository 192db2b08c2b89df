package phoneauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"
)

// recipient is the number a flow is about to send a code to, decided once
// per request, so that a test number reaching its end time mid-request is
// one thing or the other throughout.
type recipient struct {
	phone  string // E.164
	region string // ISO 3166, "" when the plan names none
	// test is set for a test number that still works: it is sent no SMS,
	// takes fixedCode, and skips the region, type and budget checks.
	test      bool
	fixedCode string
}

// admit opens the flows that send an SMS: it reads the phone number as
// typed, refuses a number that may not be sent a code (a test number
// always may), and counts the request against the per-IP limit. Errors:
// ErrInvalidPhone, ErrCannotReceiveSMS, *ThrottledError (LimitIP).
func (s *Service) admit(ctx context.Context, rawPhone, clientIP string) (recipient, error) {
	c, err := s.classify(rawPhone)
	if err != nil {
		return recipient{}, err
	}
	r := recipient{phone: c.phone, region: c.region}
	r.fixedCode, r.test = s.testCode(c.phone)
	if !r.test && !c.canReceive {
		return recipient{}, ErrCannotReceiveSMS
	}
	if err := s.limitIP(ctx, clientIP); err != nil {
		return recipient{}, err
	}
	return r, nil
}

// limitIP counts one SMS-sending request from ip against the per-IP limit.
// IPv6 clients are counted by their /64, which one subscriber usually has
// whole. An empty ip skips the limit.
func (s *Service) limitIP(ctx context.Context, ip string) error {
	return s.limitAddr(ctx, ip, "ip:", s.policy.IPRateLimit, LimitIP)
}

// limitVerifyIP counts one code check from ip against the per-IP limit on
// code checks, which bounds how many accounts one address can guess at.
func (s *Service) limitVerifyIP(ctx context.Context, ip string) error {
	return s.limitAddr(ctx, ip, "ipv:", s.policy.IPVerifyRateLimit, LimitIPVerify)
}

// limitAddr counts one request from ip in the one-minute counter keyed by
// prefix and refuses it past perMinute (0 disables the limit).
func (s *Service) limitAddr(ctx context.Context, ip, prefix string, perMinute int, name Limit) error {
	if perMinute == 0 || ip == "" {
		return nil
	}
	n, reset, err := s.limiter.Hit(ctx, prefix+ipKey(ip), time.Minute)
	if err != nil {
		return fmt.Errorf("%s limit: %w", name, err)
	}
	if n > int64(perMinute) {
		return &ThrottledError{Limit: name, RetryAfter: reset}
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

// budget is one SMS budget: a counter of SMS sent within a window, and
// the limit a refusal names.
type budget struct {
	key    string
	limit  int
	window time.Duration
	name   Limit
}

// budgets are the SMS budgets a code to r spends, the narrowest
// first: the number per day, its range per hour, its region per hour, the
// service per hour and per day. The disabled ones are left out. The
// counters of a number and of its range are keyed by a hash, so the
// limiter holds no phone number.
func (s *Service) budgets(r recipient) []budget {
	phone, region := r.phone, r.region
	perCountry, ok := s.policy.SMSPerCountryHour[region]
	if !ok {
		perCountry = s.policy.SMSPerCountryHour["*"]
	}
	all := []budget{
		{"sms:phone:" + s.counterKey(phone), s.policy.SMSPerPhoneDay, 24 * time.Hour, LimitSMSPhone},
		{"sms:range:" + s.counterKey(numberRange(phone)), s.policy.SMSPerRangeHour, time.Hour, LimitSMSRange},
		{"sms:country:" + region, perCountry, time.Hour, LimitSMSCountry},
		{"sms:budget", s.policy.SMSPerHour, time.Hour, LimitSMSBudget},
		{"sms:day", s.policy.SMSPerDay, 24 * time.Hour, LimitSMSDay},
	}
	var on []budget
	for _, b := range all {
		if b.limit > 0 {
			on = append(on, b)
		}
	}
	return on
}

// counterKey is the limiter's name for a number or a number range: a
// keyed hash, short enough for a key and long enough never to collide in
// practice.
func (s *Service) counterKey(v string) string {
	m := hmac.New(sha256.New, s.counterHashKey)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// spared says whether a budget only counts an SMS of purpose p, never
// refusing it: the service-wide budgets spare the login codes of verified
// accounts, so that SMS pumping through registrations, which can spend
// them from many addresses at little cost, cannot stop existing users from
// signing in. A login code is still bounded per number, range and region,
// and only a number that was verified can be sent one.
func (b budget) spared(p Purpose) bool {
	return p == PurposeLogin && (b.name == LimitSMSBudget || b.name == LimitSMSDay)
}

// spendBudgets takes one SMS of purpose p from each budget of r and
// adds to u the steps that give them back, so an SMS that is refused
// later, by a narrower budget or by the provider, counts against none. A
// budget whose counter cannot be reached fails closed: no SMS without its
// count. Errors: *ThrottledError (LimitSMSPhone, LimitSMSRange,
// LimitSMSCountry, LimitSMSBudget, LimitSMSDay), and the limiter's,
// wrapping ErrUnavailable.
func (s *Service) spendBudgets(ctx context.Context, u *undo, r recipient, p Purpose) error {
	for _, b := range s.budgets(r) {
		n, reset, err := s.limiter.Hit(ctx, b.key, b.window)
		if err != nil {
			return fmt.Errorf("sms budget %s: %w", b.name, err)
		}
		u.add("sms budget "+string(b.name), func(ctx context.Context) error { return s.limiter.Refund(ctx, b.key) })
		if n > int64(b.limit) && !b.spared(p) {
			return &ThrottledError{Limit: b.name, RetryAfter: reset}
		}
	}
	return nil
}
