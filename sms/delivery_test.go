package sms_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// script is a Sender that answers each try with the next of its errors
// (nil: accepted) and records what it was given.
type script struct {
	mu      sync.Mutex
	answers []error
	got     []phoneauth.Message
	// hang makes a try wait for its context to end, then fail with the
	// context's error, when its answer is errHang.
}

var errHang = errors.New("hang")

func (s *script) Send(ctx context.Context, m phoneauth.Message) error {
	s.mu.Lock()
	s.got = append(s.got, m)
	var err error
	if len(s.answers) > 0 {
		err, s.answers = s.answers[0], s.answers[1:]
	}
	s.mu.Unlock()
	if err == errHang {
		<-ctx.Done()
		return fmt.Errorf("try: %w", ctx.Err())
	}
	return err
}

func (s *script) tries() []phoneauth.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]phoneauth.Message(nil), s.got...)
}

func temporary(status int) error {
	return &sms.ProviderError{Provider: "fake", Status: status, Reason: "try later", Temporary: true}
}

func permanent(status int) error {
	return &sms.ProviderError{Provider: "fake", Status: status, Reason: "bad credentials"}
}

var undeliverable = &sms.ProviderError{Provider: "fake", Status: 400, Code: "21211", Reason: "invalid To", Undeliverable: true}

var connRefused = &sms.ProviderError{Provider: "fake", Reason: "no answer", Temporary: true, Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}

func TestDeliveryRetriesAndFailsOver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		retries   int
		first     []error // the first provider's answers
		second    []error // the second's; nil: there is only one provider
		ok        bool
		wantTries [2]int
		wantIs    error // the error wraps it
	}{
		{"accepted at once", 2, []error{nil}, nil, true, [2]int{1, 0}, nil},
		{"a 5xx then accepted", 2, []error{temporary(503), nil}, nil, true, [2]int{2, 0}, nil},
		{"a 429 twice then accepted", 2, []error{temporary(429), temporary(429), nil}, nil, true, [2]int{3, 0}, nil},
		{"a connection error then accepted", 2, []error{connRefused, nil}, nil, true, [2]int{2, 0}, nil},
		{"retries spent", 2, []error{temporary(500), temporary(500), temporary(500), nil}, nil, false, [2]int{3, 0}, nil},
		{"no retries configured", 0, []error{temporary(500), nil}, nil, false, [2]int{1, 0}, nil},
		{"a 4xx is not retried", 2, []error{permanent(401), nil}, nil, false, [2]int{1, 0}, nil},
		{"undeliverable is not retried", 2, []error{undeliverable, nil}, nil, false, [2]int{1, 0}, phoneauth.ErrCannotReceiveSMS},
		{"failover after the retries", 1, []error{temporary(500), temporary(502)}, []error{nil}, true, [2]int{2, 1}, nil},
		{"failover after a 4xx", 1, []error{permanent(401)}, []error{nil}, true, [2]int{1, 1}, nil},
		{"no failover for an undeliverable number", 1, []error{undeliverable}, []error{nil}, false, [2]int{1, 0}, phoneauth.ErrCannotReceiveSMS},
		{"both fail", 0, []error{permanent(401)}, []error{temporary(500)}, false, [2]int{1, 1}, nil},
		{"a hanging try is cut and retried", 1, []error{errHang, nil}, nil, true, [2]int{2, 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first := &script{answers: tt.first}
			second := &script{answers: tt.second}
			ps := []sms.Provider{{Name: "first", Sender: first}}
			if tt.second != nil {
				ps = append(ps, sms.Provider{Name: "second", Sender: second})
			}
			var log bytes.Buffer
			var slept []time.Duration
			var mu sync.Mutex
			d, err := sms.NewDelivery(sms.DeliveryConfig{
				Providers: ps, Retries: tt.retries, Timeout: 2 * time.Second, MinTry: 100 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(&log, nil)),
				Sleep: func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					slept = append(slept, d)
					mu.Unlock()
					return ctx.Err()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			m := loginMessage()
			err = d.Send(context.Background(), m)
			if (err == nil) != tt.ok {
				t.Fatalf("Send = %v, want ok %v", err, tt.ok)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Send = %v, want it to wrap %v", err, tt.wantIs)
			}
			if !tt.ok && errors.Is(err, phoneauth.ErrCannotReceiveSMS) != (tt.wantIs == phoneauth.ErrCannotReceiveSMS) {
				t.Errorf("Send = %v: wraps ErrCannotReceiveSMS %v", err, errors.Is(err, phoneauth.ErrCannotReceiveSMS))
			}
			got := [2]int{len(first.tries()), len(second.tries())}
			if got != tt.wantTries {
				t.Errorf("tries = %v, want %v", got, tt.wantTries)
			}
			// Every try carries the same message: same code, same text.
			for _, tried := range append(first.tries(), second.tries()...) {
				if tried != m {
					t.Errorf("a try was given %+v, want %+v", tried, m)
				}
			}
			// Each wait is between half and all of 200ms, 400ms, ...
			for i, d := range slept {
				full := 200 * time.Millisecond << i
				if d < full/2 || d > full {
					t.Errorf("wait %d = %v, want between %v and %v", i+1, d, full/2, full)
				}
			}
			if tt.ok {
				sent := map[bool]string{true: "provider=second", false: "provider=first"}[got[1] > 0]
				if !strings.Contains(log.String(), `msg="sms sent" `+sent) {
					t.Errorf("log does not say which provider sent it (%s):\n%s", sent, log.String())
				}
			}
			if strings.Contains(log.String(), m.Code) || (err != nil && strings.Contains(err.Error(), m.Code)) {
				t.Errorf("the code is in the log or the error:\n%s\n%v", log.String(), err)
			}
		})
	}
}

func TestDeliveryStaysWithinItsTimeout(t *testing.T) {
	t.Parallel()
	hang := &script{answers: []error{errHang, errHang, errHang}}
	also := &script{answers: []error{errHang, errHang, errHang}}
	d, err := sms.NewDelivery(sms.DeliveryConfig{
		Providers: []sms.Provider{{Name: "a", Sender: hang}, {Name: "b", Sender: also}},
		Retries:   2, Timeout: 300 * time.Millisecond, MinTry: 10 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = d.Send(ctx, loginMessage())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want a deadline error", err)
	}
	// Each provider had its share: the second was tried although the
	// first hung.
	if len(hang.tries()) == 0 || len(also.tries()) == 0 {
		t.Errorf("tries = %d, %d: want both providers tried", len(hang.tries()), len(also.tries()))
	}
}

func TestDeliveryStopsWhenTheCallerGoesAway(t *testing.T) {
	t.Parallel()
	first := &script{answers: []error{temporary(503), nil}}
	second := &script{answers: []error{nil}}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := sms.NewDelivery(sms.DeliveryConfig{
		Providers: []sms.Provider{{Name: "a", Sender: first}, {Name: "b", Sender: second}},
		Retries:   2, Timeout: time.Second,
		Log: slog.New(slog.DiscardHandler),
		Sleep: func(ctx context.Context, _ time.Duration) error {
			cancel() // the client went away while we waited
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Send(ctx, loginMessage())
	if err == nil || len(first.tries()) != 1 || len(second.tries()) != 0 {
		t.Fatalf("Send = %v after %d, %d tries: want a failure after 1, 0", err, len(first.tries()), len(second.tries()))
	}
}

func TestNewDeliveryRefusesBadSettings(t *testing.T) {
	t.Parallel()
	ok := []sms.Provider{{Name: "a", Sender: &script{}}}
	for _, c := range []sms.DeliveryConfig{
		{Providers: nil, Retries: 2, Timeout: time.Second},
		{Providers: []sms.Provider{{Name: "", Sender: &script{}}}, Retries: 2, Timeout: time.Second},
		{Providers: ok, Retries: -1, Timeout: time.Second},
		{Providers: ok, Retries: sms.MaxRetries + 1, Timeout: time.Second},
		{Providers: ok, Retries: 2, Timeout: 0},
		{Providers: ok, Retries: 2, Timeout: sms.MaxTimeout + time.Second},
	} {
		if _, err := sms.NewDelivery(c); err == nil {
			t.Errorf("NewDelivery(%+v) succeeded, want an error", c)
		}
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{temporary(503), true},
		{fmt.Errorf("wrapped: %w", temporary(429)), true},
		{permanent(400), false},
		{undeliverable, false},
		{connRefused, true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{&sms.ProviderError{Provider: "fake", Temporary: true, Err: context.Canceled}, false},
		{errors.New("something else"), false},
	} {
		if got := sms.Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestDeliverySaysWhenTheSMSMayHaveGone(t *testing.T) {
	t.Parallel()
	answered := temporary(503)
	tests := []struct {
		name    string
		answers []error
		want    bool
	}{
		{"a try cut while waiting for the answer", []error{errHang, errHang}, true},
		{"a connection cut", []error{fmt.Errorf("post: %w", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}), answered}, true},
		{"connection refused every time", []error{connRefused, connRefused}, false},
		{"answers every time", []error{answered, answered}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := sms.NewDelivery(sms.DeliveryConfig{
				Providers: []sms.Provider{{Name: "p", Sender: &script{answers: tt.answers}}},
				Retries:   1, Timeout: 400 * time.Millisecond, MinTry: 10 * time.Millisecond,
				Log:   slog.New(slog.DiscardHandler),
				Sleep: func(context.Context, time.Duration) error { return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			err = d.Send(context.Background(), loginMessage())
			if err == nil || errors.Is(err, phoneauth.ErrMaybeSent) != tt.want {
				t.Errorf("Send = %v; want a failure that wraps ErrMaybeSent: %v", err, tt.want)
			}
		})
	}
}

// A provider that takes its time is given it: it is not cut off and sent
// the same message again before it could answer.
func TestDeliveryGivesASlowProviderItsTime(t *testing.T) {
	t.Parallel()
	slow := &slowSender{delay: 300 * time.Millisecond}
	d, err := sms.NewDelivery(sms.DeliveryConfig{
		Providers: []sms.Provider{{Name: "slow", Sender: slow}},
		Retries:   2, Timeout: 800 * time.Millisecond, MinTry: 500 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Send(context.Background(), loginMessage()); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if n := slow.tries.Load(); n != 1 {
		t.Errorf("the provider got the message %d times, want once", n)
	}
}

type slowSender struct {
	delay time.Duration
	tries atomic.Int32
}

func (s *slowSender) Send(ctx context.Context, _ phoneauth.Message) error {
	s.tries.Add(1)
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestWebhookKeepsOneIDPerMessage(t *testing.T) {
	t.Parallel()
	g := newGateway(t, http.StatusOK)
	w := newWebhook(t, sms.WebhookConfig{URL: g.url, Secret: strings.Repeat("k", 32)})
	m := loginMessage()
	m.ID = "0f6c7f5e-6b1d-4e57-9d3c-2f7c9a4f0b11"
	for range 2 {
		if err := w.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	reqs := g.requests()
	if got := reqs[0].header.Get("webhook-id"); got != "msg_"+m.ID || reqs[1].header.Get("webhook-id") != got {
		t.Errorf("webhook-ids %q and %q, want msg_%s twice", got, reqs[1].header.Get("webhook-id"), m.ID)
	}
}

func TestProviderErrorCodeIsLoggable(t *testing.T) {
	t.Parallel()
	e := &sms.ProviderError{Provider: "telnyx", Status: 400, Code: "40310\nlevel=ERROR msg=forged " + strings.Repeat("x", 60), Reason: "invalid number"}
	got := e.Error()
	if strings.ContainsAny(got, "\n= ") && strings.Contains(got, "msg=forged") {
		t.Errorf("Error() = %q: the provider's code reached the line as sent", got)
	}
	if !strings.Contains(got, "code 40310?level?ERROR?msg?forged?xxx") || strings.Contains(got, strings.Repeat("x", 30)) {
		t.Errorf("Error() = %q, want the code cut to 40 loggable characters", got)
	}
}
