package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneauth/phoneauth"
)

// Store returns s with the time of each of its operations observed in
// phoneauth_store_duration_seconds, labelled with the method's name.
// Answers and errors pass through untouched.
func (r *Registry) Store(s phoneauth.Store) phoneauth.Store {
	return timedStore{s: s, h: r.storeDuration}
}

// Limiter returns l with the time of each of its operations observed in
// phoneauth_limiter_duration_seconds, labelled with the method's name.
// Answers and errors pass through untouched.
func (r *Registry) Limiter(l phoneauth.Limiter) phoneauth.Limiter {
	return timedLimiter{l: l, h: r.limiterDuration}
}

// Sender returns s, the SMS provider named provider, with each message it
// is given counted in phoneauth_sms_sent_total: outcome ok when s accepted
// it, failed when it returned an error. Errors pass through untouched.
func (r *Registry) Sender(s phoneauth.Sender, provider string) phoneauth.Sender {
	return countedSender{s: s, c: r.smsSent, provider: provider}
}

// timed observes in h, under op, the time since start.
func timed(h *prometheus.HistogramVec, op string, start time.Time) {
	h.WithLabelValues(op).Observe(since(start))
}

type timedStore struct {
	s phoneauth.Store
	h *prometheus.HistogramVec
}

func (t timedStore) Register(ctx context.Context, u phoneauth.User, c phoneauth.Challenge, now time.Time) (time.Time, error) {
	defer timed(t.h, "Register", time.Now())
	return t.s.Register(ctx, u, c, now)
}

func (t timedStore) CancelRegistration(ctx context.Context, challengeID string) error {
	defer timed(t.h, "CancelRegistration", time.Now())
	return t.s.CancelRegistration(ctx, challengeID)
}

func (t timedStore) UserByPhone(ctx context.Context, phone string) (phoneauth.User, error) {
	defer timed(t.h, "UserByPhone", time.Now())
	return t.s.UserByPhone(ctx, phone)
}

func (t timedStore) PutLoginChallenge(ctx context.Context, phone string, c phoneauth.Challenge, notBefore time.Time) (phoneauth.User, time.Time, error) {
	defer timed(t.h, "PutLoginChallenge", time.Now())
	return t.s.PutLoginChallenge(ctx, phone, c, notBefore)
}

func (t timedStore) PutChallenge(ctx context.Context, c phoneauth.Challenge, notBefore time.Time) (time.Time, time.Time, error) {
	defer timed(t.h, "PutChallenge", time.Now())
	return t.s.PutChallenge(ctx, c, notBefore)
}

func (t timedStore) DeleteAccount(ctx context.Context, userID string, access phoneauth.TokenRef, try phoneauth.Try) (phoneauth.User, error) {
	defer timed(t.h, "DeleteAccount", time.Now())
	return t.s.DeleteAccount(ctx, userID, access, try)
}

func (t timedStore) ChangePhone(ctx context.Context, userID string, access phoneauth.TokenRef, try phoneauth.Try) (phoneauth.User, error) {
	defer timed(t.h, "ChangePhone", time.Now())
	return t.s.ChangePhone(ctx, userID, access, try)
}

func (t timedStore) DeleteChallenge(ctx context.Context, id string) error {
	defer timed(t.h, "DeleteChallenge", time.Now())
	return t.s.DeleteChallenge(ctx, id)
}

func (t timedStore) VerifyRegistration(ctx context.Context, challengeID, phone string, try phoneauth.Try) (phoneauth.User, error) {
	defer timed(t.h, "VerifyRegistration", time.Now())
	return t.s.VerifyRegistration(ctx, challengeID, phone, try)
}

func (t timedStore) VerifyLogin(ctx context.Context, userID string, try phoneauth.Try, s phoneauth.Session) (phoneauth.User, error) {
	defer timed(t.h, "VerifyLogin", time.Now())
	return t.s.VerifyLogin(ctx, userID, try, s)
}

func (t timedStore) RotateRefresh(ctx context.Context, r phoneauth.Rotation) (phoneauth.Session, error) {
	defer timed(t.h, "RotateRefresh", time.Now())
	return t.s.RotateRefresh(ctx, r)
}

func (t timedStore) RevokeToken(ctx context.Context, r phoneauth.Revocation) error {
	defer timed(t.h, "RevokeToken", time.Now())
	return t.s.RevokeToken(ctx, r)
}

func (t timedStore) AccessUser(ctx context.Context, userID string, tr phoneauth.TokenRef) (phoneauth.User, error) {
	defer timed(t.h, "AccessUser", time.Now())
	return t.s.AccessUser(ctx, userID, tr)
}

func (t timedStore) Prune(ctx context.Context, now time.Time) (int64, error) {
	defer timed(t.h, "Prune", time.Now())
	return t.s.Prune(ctx, now)
}

func (t timedStore) RecordEvent(ctx context.Context, e phoneauth.Event) error {
	defer timed(t.h, "RecordEvent", time.Now())
	return t.s.RecordEvent(ctx, e)
}

func (t timedStore) Events(ctx context.Context, userID string, kind phoneauth.EventKind, since time.Time, limit int) ([]phoneauth.Event, error) {
	defer timed(t.h, "Events", time.Now())
	return t.s.Events(ctx, userID, kind, since, limit)
}

func (t timedStore) Ping(ctx context.Context) error {
	defer timed(t.h, "Ping", time.Now())
	return t.s.Ping(ctx)
}

type timedLimiter struct {
	l phoneauth.Limiter
	h *prometheus.HistogramVec
}

func (t timedLimiter) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	defer timed(t.h, "Hit", time.Now())
	return t.l.Hit(ctx, key, window)
}

func (t timedLimiter) Refund(ctx context.Context, key string) error {
	defer timed(t.h, "Refund", time.Now())
	return t.l.Refund(ctx, key)
}

func (t timedLimiter) Ping(ctx context.Context) error {
	defer timed(t.h, "Ping", time.Now())
	return t.l.Ping(ctx)
}

type countedSender struct {
	s        phoneauth.Sender
	c        *prometheus.CounterVec
	provider string
}

func (c countedSender) Send(ctx context.Context, m phoneauth.Message) error {
	err := c.s.Send(ctx, m)
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	c.c.WithLabelValues(string(m.Purpose), c.provider, outcome).Inc()
	return err
}
